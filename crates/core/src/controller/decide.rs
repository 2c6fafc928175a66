//! The pure heart of the controller: (config, state, now, signals) → decision → transition.

use chrono::{DateTime, Utc};

use super::state::{Action, Phase, RolloutState, Transition};
use crate::config::{OnInconclusive, Rollout, StageKind};

/// What analysis and guardrails say about the current stage. The controller core only
/// reads it; producing it is the adapters' job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Signals {
    /// Critical issues: any one rolls the rollout back.
    pub critical: Vec<String>,
    /// Warnings: hold the rollout in its stage (status `blocked`) while present.
    pub warnings: Vec<String>,
    pub ab: AbVerdict,
    /// A failing preflight safety check: the next stage may not be entered.
    pub preflight: Option<String>,
    /// A shadow stage's exit criteria that are not met (the reason): when its duration
    /// ends, the rollout holds in shadow instead of entering the next stage.
    pub shadow_unmet: Option<String>,
}

/// The A/B test's verdict so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum AbVerdict {
    /// Not enough evidence either way (or no A/B analysis at all).
    #[default]
    Inconclusive,
    /// Treatment is significantly better: promote early.
    Win(String),
    /// Treatment is significantly worse: roll back.
    Loss(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nothing to do until `next_transition_at` (if any).
    Stay {
        next_transition_at: Option<DateTime<Utc>>,
    },
    /// Enter the first stage of a pending rollout.
    Start,
    /// Enter stage `to`, which is not the last one.
    Advance {
        to: usize,
        reason: String,
    },
    /// Enter the last (`full`) stage; the rollout is completed.
    Complete {
        reason: String,
    },
    /// Stay in the stage with status `blocked`.
    Hold {
        reason: String,
    },
    /// The reason for a hold is gone: back to `running`.
    Release,
    RollBack {
        reason: String,
    },
}

/// Whether `d` enters a stage (so the preflight safety checks must pass first).
pub fn enters_stage(d: &Decision) -> bool {
    matches!(
        d,
        Decision::Start | Decision::Advance { .. } | Decision::Complete { .. }
    )
}

/// Decides what to do with one rollout at `now`. Performs no I/O.
pub fn decide(
    rollout: &Rollout,
    state: Option<&RolloutState>,
    now: DateTime<Utc>,
    signals: &Signals,
) -> Decision {
    let Some(s) = state else {
        // A failing safety check keeps a pending rollout pending: nothing is exposed yet.
        return match signals.preflight {
            Some(_) => Decision::Stay {
                next_transition_at: None,
            },
            None => Decision::Start,
        };
    };
    // A paused rollout keeps its exposure, so a critical issue (or an A/B loss) still
    // rolls it back.
    if let Phase::Paused { .. } = s.phase {
        let in_ab = matches!(
            rollout.stages.get(s.stage_index).map(|st| &st.kind),
            Some(StageKind::AbTest { .. })
        );
        let loss = match (&signals.ab, in_ab) {
            (AbVerdict::Loss(reason), true) => Some(reason),
            _ => None,
        };
        if let Some(reason) = signals.critical.first().or(loss) {
            return Decision::RollBack {
                reason: reason.clone(),
            };
        }
    }
    if !matches!(s.phase, Phase::Running | Phase::Blocked { .. }) {
        return Decision::Stay {
            next_transition_at: None,
        };
    }
    let Some(stage) = rollout.stages.get(s.stage_index) else {
        return hold(
            s,
            format!(
                "the configuration has no stage {} ({})",
                s.stage_index + 1,
                s.stage_label
            ),
        );
    };
    if let Some(reason) = signals.critical.first() {
        return Decision::RollBack {
            reason: reason.clone(),
        };
    }
    let is_ab = matches!(stage.kind, StageKind::AbTest { .. });
    if let (true, AbVerdict::Loss(reason)) = (is_ab, &signals.ab) {
        return Decision::RollBack {
            reason: reason.clone(),
        };
    }
    if !signals.warnings.is_empty() {
        return hold(s, signals.warnings.join("; "));
    }
    if let (true, AbVerdict::Win(reason)) = (is_ab, &signals.ab) {
        return advance(rollout, s, reason.clone(), signals);
    }
    let Some(duration) = stage.kind.duration() else {
        // `full` has no duration; a running rollout in it is complete already.
        return Decision::Stay {
            next_transition_at: None,
        };
    };
    if s.elapsed(now) >= duration.chrono() {
        let done = format!("{} stage ran its {duration}", stage.kind.name());
        if let StageKind::AbTest {
            on_inconclusive, ..
        } = &stage.kind
        {
            let why = format!(
                "A/B test inconclusive after {duration}; on_inconclusive: {}",
                on_inconclusive.as_str()
            );
            return match *on_inconclusive {
                OnInconclusive::Hold => hold(s, format!("{why}; promote or roll back by hand")),
                OnInconclusive::Promote => advance(rollout, s, why, signals),
                OnInconclusive::Rollback => Decision::RollBack { reason: why },
            };
        }
        if let (StageKind::Shadow { .. }, Some(unmet)) = (&stage.kind, &signals.shadow_unmet) {
            return hold(s, unmet.clone());
        }
        return advance(rollout, s, done, signals);
    }
    if let Phase::Blocked { .. } = s.phase {
        return Decision::Release;
    }
    Decision::Stay {
        next_transition_at: s.next_transition_at(stage, now),
    }
}

fn hold(s: &RolloutState, reason: String) -> Decision {
    if matches!(&s.phase, Phase::Blocked { reason: r } if *r == reason) {
        Decision::Stay {
            next_transition_at: None,
        }
    } else {
        Decision::Hold { reason }
    }
}

fn advance(rollout: &Rollout, s: &RolloutState, reason: String, signals: &Signals) -> Decision {
    if let Some(failed) = &signals.preflight {
        return hold(s, failed.clone());
    }
    let to = s.stage_index + 1;
    if to + 1 >= rollout.stages.len() {
        Decision::Complete { reason }
    } else {
        Decision::Advance { to, reason }
    }
}

/// A fresh state for entering stage `index`.
pub(crate) fn entered(
    rollout: &Rollout,
    prev: Option<&RolloutState>,
    index: usize,
    now: DateTime<Utc>,
) -> RolloutState {
    let last = index + 1 >= rollout.stages.len();
    RolloutState {
        rollout: rollout.name.as_str().to_owned(),
        stage_index: index,
        stage_label: rollout
            .stages
            .get(index)
            .map(|s| s.kind.label())
            .unwrap_or_default(),
        stage_entered_at: now,
        phase: if last {
            Phase::Completed
        } else {
            Phase::Running
        },
        paused_ms: 0,
        version: prev.map_or(1, |p| p.version + 1),
        weights: prev.and_then(|p| p.weights.clone()),
    }
}

/// Like `s`, in `phase` at the next version. A pause that `phase` ends is added to
/// `paused_ms`.
pub(crate) fn with_phase(s: &RolloutState, phase: Phase, now: DateTime<Utc>) -> RolloutState {
    let mut paused_ms = s.paused_ms;
    if let (Some(since), None) = (s.paused_at(), phase.paused_at()) {
        paused_ms += (now - since).num_milliseconds().max(0);
    }
    RolloutState {
        phase,
        paused_ms,
        version: s.version + 1,
        ..s.clone()
    }
}

/// `s` rolled back at `now`, whichever way the rollback came (a decision or by hand):
/// one shape for both.
pub(crate) fn rolled_back(s: &RolloutState, reason: String, now: DateTime<Utc>) -> RolloutState {
    with_phase(s, Phase::RolledBack { reason }, now)
}

/// The transition a decision calls for; `None` when nothing changes.
pub fn transition(
    rollout: &Rollout,
    state: Option<&RolloutState>,
    decision: Decision,
    now: DateTime<Utc>,
) -> Option<Transition> {
    let t = |action, to, reason: String| Some(Transition::new(rollout, action, state, to, reason));
    match (decision, state) {
        (Decision::Stay { .. }, _) => None,
        (Decision::Start, _) => t(
            Action::Start,
            entered(rollout, state, 0, now),
            "first tick".into(),
        ),
        (Decision::Advance { to, reason }, Some(_)) => {
            t(Action::Advance, entered(rollout, state, to, now), reason)
        }
        (Decision::Complete { reason }, Some(_)) => t(
            Action::Complete,
            entered(rollout, state, rollout.stages.len() - 1, now),
            reason,
        ),
        (Decision::Hold { reason }, Some(s)) => t(
            Action::Hold,
            with_phase(
                s,
                Phase::Blocked {
                    reason: reason.clone(),
                },
                now,
            ),
            reason,
        ),
        (Decision::Release, Some(s)) => t(
            Action::Release,
            with_phase(s, Phase::Running, now),
            "hold cleared".into(),
        ),
        (Decision::RollBack { reason }, Some(s)) => t(
            Action::Rollback,
            rolled_back(s, reason.clone(), now),
            reason,
        ),
        (_, None) => None,
    }
}

/// A transition that rewrites the flags of an unchanged state, when the stored flags
/// differ from what the state requires (hand edits, a changed `flags:` block).
pub fn sync(
    rollout: &Rollout,
    state: &RolloutState,
    stored: &std::collections::BTreeMap<String, String>,
) -> Option<Transition> {
    let desired = crate::controller::flags::desired(rollout, state);
    if &desired == stored {
        return None;
    }
    let to = RolloutState {
        version: state.version + 1,
        ..state.clone()
    };
    Some(Transition::new(
        rollout,
        Action::Sync,
        Some(state),
        to,
        "stored flags differed from the state's flags",
    ))
}
