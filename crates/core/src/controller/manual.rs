//! On-call actions, as pure functions of (config, state, now).

use chrono::{DateTime, Utc};

use super::decide::{entered, rolled_back, with_phase};
use super::state::{Action, Phase, RolloutState, Status, Transition};
use crate::config::Rollout;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManualAction {
    Pause,
    Resume,
    Promote,
    Rollback,
    Restart,
}

impl ManualAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ManualAction::Pause => "pause",
            ManualAction::Resume => "resume",
            ManualAction::Promote => "promote",
            ManualAction::Rollback => "rollback",
            ManualAction::Restart => "restart",
        }
    }
}

/// An action that makes no sense in the rollout's current status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} {rollout}: it is {status}{hint}")]
pub struct NotAllowed {
    pub action: &'static str,
    pub rollout: String,
    pub status: Status,
    pub hint: &'static str,
}

/// The transition for `action`; `Ok(None)` when the rollout is already where the action
/// would put it (actions are idempotent).
pub fn manual(
    rollout: &Rollout,
    state: Option<&RolloutState>,
    action: ManualAction,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Option<Transition>, NotAllowed> {
    let status = state.map_or(Status::Pending, RolloutState::status);
    let refuse = |hint| NotAllowed {
        action: action.as_str(),
        rollout: rollout.name.to_string(),
        status,
        hint,
    };
    let t = |kind, to, why: String| Ok(Some(Transition::new(rollout, kind, state, to, why)));
    let why = |default: &str| {
        if reason.is_empty() {
            default.to_owned()
        } else {
            reason.to_owned()
        }
    };
    match (action, state) {
        (ManualAction::Rollback, Some(s)) if s.status() == Status::RolledBack => Ok(None),
        (ManualAction::Rollback, Some(s)) => {
            let to = rolled_back(s, why("manual rollback"), now);
            t(Action::Rollback, to, why("manual rollback"))
        }
        (ManualAction::Rollback, None) => {
            // Rolling back a rollout that never started keeps it from starting.
            let to = RolloutState {
                phase: Phase::RolledBack {
                    reason: why("manual rollback"),
                },
                ..entered(rollout, None, 0, now)
            };
            t(Action::Rollback, to, why("manual rollback"))
        }
        (ManualAction::Pause, Some(s)) => match s.status() {
            Status::Paused => Ok(None),
            Status::Running | Status::Blocked => {
                let phase = Phase::Paused {
                    since: now,
                    reason: Some(why("paused by hand")),
                };
                t(
                    Action::Pause,
                    with_phase(s, phase, now),
                    why("paused by hand"),
                )
            }
            _ => Err(refuse("")),
        },
        (ManualAction::Pause, None) => Err(refuse(
            "; it has not started (roll it back to keep it from starting)",
        )),
        (ManualAction::Resume, Some(s)) => match s.status() {
            Status::Running => Ok(None),
            Status::Paused => {
                // `with_phase` adds the pause to `paused_ms`.
                let to = with_phase(s, Phase::Running, now);
                t(Action::Resume, to, why("resumed by hand"))
            }
            Status::RolledBack => Err(refuse("; use restart to start it again")),
            _ => Err(refuse("")),
        },
        (ManualAction::Resume, None) => Err(refuse("")),
        (ManualAction::Promote, None) => t(
            Action::Promote,
            entered(rollout, None, 0, now),
            why("promoted by hand"),
        ),
        (ManualAction::Promote, Some(s)) => match s.status() {
            Status::Running | Status::Blocked | Status::Paused => {
                let to = entered(rollout, state, s.stage_index + 1, now);
                t(Action::Promote, to, why("promoted by hand"))
            }
            Status::Completed => Ok(None),
            Status::RolledBack => Err(refuse("; use restart to start it again")),
            Status::Pending => Err(refuse("")),
        },
        (ManualAction::Restart, Some(s)) if s.status() == Status::RolledBack => {
            // A restart starts over from the conservative weights.
            let mut to = entered(rollout, state, 0, now);
            to.weights = None;
            t(Action::Restart, to, why("restarted by hand"))
        }
        (ManualAction::Restart, _) => Err(refuse("; only a rolled-back rollout can be restarted")),
    }
}
