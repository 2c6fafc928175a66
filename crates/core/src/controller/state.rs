//! The persisted state of one rollout and the transitions between states.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Serialize, Serializer};

use crate::config::{Rollout, Stage};
use crate::weights::Weights;

/// `pending` is never stored: a rollout without a state row is pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Running,
    Paused,
    Blocked,
    RolledBack,
    Completed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Blocked => "blocked",
            Status::RolledBack => "rolled_back",
            Status::Completed => "completed",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "pending" => Status::Pending,
            "running" => Status::Running,
            "paused" => Status::Paused,
            "blocked" => Status::Blocked,
            "rolled_back" => Status::RolledBack,
            "completed" => Status::Completed,
            other => return Err(format!("unknown status {other:?}")),
        })
    }
}

/// Where a started rollout is, with exactly the data that position needs: a pause has its
/// start, a hold and a rollback have their reason, a running or completed rollout has
/// neither. (`pending` is no phase: a pending rollout has no state.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    Running,
    /// Paused by hand at `since`; the pause does not count towards the stage's duration.
    Paused {
        since: DateTime<Utc>,
        reason: Option<String>,
    },
    /// Held in its stage (by a warning, a failing safety check, an inconclusive A/B test).
    Blocked {
        reason: String,
    },
    RolledBack {
        reason: String,
    },
    Completed,
}

impl Phase {
    /// The flat name stored in the `status` column and shown in flags and JSON.
    pub fn status(&self) -> Status {
        match self {
            Phase::Running => Status::Running,
            Phase::Paused { .. } => Status::Paused,
            Phase::Blocked { .. } => Status::Blocked,
            Phase::RolledBack { .. } => Status::RolledBack,
            Phase::Completed => Status::Completed,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Phase::Running | Phase::Completed => None,
            Phase::Paused { reason, .. } => reason.as_deref(),
            Phase::Blocked { reason } | Phase::RolledBack { reason } => Some(reason),
        }
    }

    pub fn paused_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Phase::Paused { since, .. } => Some(*since),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RolloutState {
    pub rollout: String,
    pub stage_index: usize,
    /// [`crate::config::StageKind::label`] of the stage when it was entered.
    pub stage_label: String,
    pub stage_entered_at: DateTime<Utc>,
    /// Status, reason and pause start, in the only combinations that make sense. Changed by
    /// the controller's transitions; read it with [`RolloutState::phase`], [`RolloutState::status`],
    /// [`RolloutState::reason`] and [`RolloutState::paused_at`].
    pub(crate) phase: Phase,
    /// Time spent paused since the stage was entered; it does not count towards the stage.
    /// A pause that is over (resumed, rolled back) is added here.
    pub paused_ms: i64,
    /// Compare-and-set version; grows by one with every committed change.
    pub version: i64,
    /// The learned weights published as `<prefix>WEIGHTS`, set by [`Action::Publish`];
    /// kept across stages, cleared by `restart`. Only written where the stage applies parameters.
    pub weights: Option<Weights>,
}

/// A state row's columns, as the store reads them; [`RolloutState::from_parts`] checks that
/// they make a state.
#[derive(Debug, Clone, PartialEq)]
pub struct StateParts {
    pub rollout: String,
    pub stage_index: usize,
    pub stage_label: String,
    pub stage_entered_at: DateTime<Utc>,
    pub status: Status,
    pub reason: Option<String>,
    pub paused_at: Option<DateTime<Utc>>,
    pub paused_ms: i64,
    pub version: i64,
    /// [`Weights::to_json`] text.
    pub weights: Option<String>,
}

impl RolloutState {
    /// A state in `phase` at the start of stage `stage_index`, at version 1, without pauses
    /// or published weights. For views that ask "what if" (the plan, `check`); the controller
    /// makes its states itself.
    pub fn new(
        rollout: impl Into<String>,
        stage_index: usize,
        stage_label: impl Into<String>,
        stage_entered_at: DateTime<Utc>,
        phase: Phase,
    ) -> RolloutState {
        RolloutState {
            rollout: rollout.into(),
            stage_index,
            stage_label: stage_label.into(),
            stage_entered_at,
            phase,
            paused_ms: 0,
            version: 1,
            weights: None,
        }
    }

    /// Builds a state from stored columns, refusing combinations no transition writes:
    /// `paused` exactly when there is a `paused_at`, a reason for `blocked` and `rolled_back`,
    /// none for `running` and `completed`, weights that [`Weights::from_json`] reads, and no
    /// `pending` row.
    ///
    /// One old shape is accepted: before the shapes were unified, an automatic rollback of a
    /// paused rollout kept its `paused_at`. Such a row reads as rolled back; the pause
    /// (which no longer matters to a rolled-back rollout) is dropped.
    pub fn from_parts(p: StateParts) -> Result<RolloutState, String> {
        let bad = |what: &str| format!("rollout {}: status {} {what}", p.rollout, p.status);
        let phase = match (p.status, p.reason.clone(), p.paused_at) {
            (Status::Pending, ..) => return Err(bad("is never stored")),
            (Status::Paused, reason, Some(since)) => Phase::Paused { since, reason },
            (Status::Paused, _, None) => return Err(bad("without paused_at")),
            // The old shape of an automatic rollback of a paused rollout.
            (Status::RolledBack, Some(reason), _) => Phase::RolledBack { reason },
            (_, _, Some(_)) => return Err(bad("with paused_at")),
            (Status::Running, None, None) => Phase::Running,
            (Status::Completed, None, None) => Phase::Completed,
            (Status::Running | Status::Completed, Some(_), None) => {
                return Err(bad("with a reason"))
            }
            (Status::Blocked, Some(reason), None) => Phase::Blocked { reason },
            (Status::Blocked | Status::RolledBack, None, _) => return Err(bad("without a reason")),
        };
        let weights = match &p.weights {
            None => None,
            Some(text) => match Weights::from_json(text) {
                Some(w) => Some(w),
                None => return Err(bad(&format!("with unreadable weights {text:?}"))),
            },
        };
        Ok(RolloutState {
            rollout: p.rollout,
            stage_index: p.stage_index,
            stage_label: p.stage_label,
            stage_entered_at: p.stage_entered_at,
            phase,
            paused_ms: p.paused_ms,
            version: p.version,
            weights,
        })
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// This state in another phase, nothing else changed. For "what if" views (`check`
    /// measures as if running); the controller's transitions do not use it.
    pub fn with_phase(self, phase: Phase) -> RolloutState {
        RolloutState { phase, ..self }
    }

    pub fn status(&self) -> Status {
        self.phase.status()
    }

    pub fn reason(&self) -> Option<&str> {
        self.phase.reason()
    }

    pub fn paused_at(&self) -> Option<DateTime<Utc>> {
        self.phase.paused_at()
    }

    /// The published weights as the `weights` column and the flag store them.
    pub fn weights_json(&self) -> Option<String> {
        self.weights.as_ref().map(Weights::to_json)
    }

    /// How long the stage has been running, not counting pauses.
    pub fn elapsed(&self, now: DateTime<Utc>) -> Duration {
        let end = self.paused_at().unwrap_or(now);
        (end - self.stage_entered_at) - Duration::milliseconds(self.paused_ms)
    }

    /// When the stage's duration runs out, if it has one and the rollout is moving.
    pub fn next_transition_at(&self, stage: &Stage, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !matches!(self.phase, Phase::Running | Phase::Blocked { .. }) {
            return None;
        }
        let d = stage.kind.duration()?.chrono();
        Some(now + (d - self.elapsed(now)))
    }
}

/// The flat shape printed before [`Phase`] existed: `status`, `reason` and `paused_at`
/// fields, and the weights as their JSON text.
impl Serialize for RolloutState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Flat<'a> {
            rollout: &'a str,
            stage_index: usize,
            stage_label: &'a str,
            stage_entered_at: DateTime<Utc>,
            status: Status,
            reason: Option<&'a str>,
            paused_at: Option<DateTime<Utc>>,
            paused_ms: i64,
            version: i64,
            weights: Option<String>,
        }
        Flat {
            rollout: &self.rollout,
            stage_index: self.stage_index,
            stage_label: &self.stage_label,
            stage_entered_at: self.stage_entered_at,
            status: self.status(),
            reason: self.reason(),
            paused_at: self.paused_at(),
            paused_ms: self.paused_ms,
            version: self.version,
            weights: self.weights_json(),
        }
        .serialize(serializer)
    }
}

/// What a committed change did; stored in the history as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Start,
    Advance,
    Complete,
    Hold,
    Release,
    Rollback,
    Pause,
    Resume,
    Promote,
    Restart,
    /// Rewrites flags that drifted from what the state requires.
    Sync,
    /// Publishes newly learned weights.
    Publish,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Advance => "advance",
            Action::Complete => "complete",
            Action::Hold => "hold",
            Action::Release => "release",
            Action::Rollback => "rollback",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Promote => "promote",
            Action::Restart => "restart",
            Action::Sync => "sync",
            Action::Publish => "publish",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One atomic change: the new state and the complete flag set it requires.
/// The store commits it only if the state still has `from`'s version.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub action: Action,
    pub from: Option<RolloutState>,
    pub to: RolloutState,
    pub flags: BTreeMap<String, String>,
    pub reason: String,
    /// Webhook URLs to announce the change to (queued in the same transaction).
    pub notify: Vec<String>,
}

impl Transition {
    pub fn new(
        rollout: &Rollout,
        action: Action,
        from: Option<&RolloutState>,
        to: RolloutState,
        reason: impl Into<String>,
    ) -> Transition {
        let flags = crate::controller::flags::desired(rollout, &to);
        Transition {
            action,
            from: from.cloned(),
            to,
            flags,
            reason: reason.into(),
            notify: rollout.notify.clone(),
        }
    }

    pub fn expected_version(&self) -> Option<i64> {
        self.from.as_ref().map(|s| s.version)
    }
}
