//! The persisted state of one rollout and the transitions between states.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::config::{Rollout, Stage};

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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutState {
    pub rollout: String,
    pub stage_index: usize,
    /// [`crate::config::StageKind::label`] of the stage when it was entered.
    pub stage_label: String,
    pub stage_entered_at: DateTime<Utc>,
    pub status: Status,
    pub reason: Option<String>,
    pub paused_at: Option<DateTime<Utc>>,
    /// Time spent paused since the stage was entered; it does not count towards the stage.
    pub paused_ms: i64,
    /// Compare-and-set version; grows by one with every committed change.
    pub version: i64,
    /// The learned weights published as `<prefix>WEIGHTS` (JSON), set by [`Action::Publish`];
    /// kept across stages, cleared by `restart`. Only written where the stage applies parameters.
    pub weights: Option<String>,
}

impl RolloutState {
    /// How long the stage has been running, not counting pauses.
    pub fn elapsed(&self, now: DateTime<Utc>) -> Duration {
        let end = self.paused_at.unwrap_or(now);
        (end - self.stage_entered_at) - Duration::milliseconds(self.paused_ms)
    }

    /// When the stage's duration runs out, if it has one and the rollout is moving.
    pub fn next_transition_at(&self, stage: &Stage, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !matches!(self.status, Status::Running | Status::Blocked) {
            return None;
        }
        let d = stage.kind.duration()?.chrono();
        Some(now + (d - self.elapsed(now)))
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
