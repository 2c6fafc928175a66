//! The read model of a rollout's position, shared by `rollout status` and (later) the HTTP API.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Rollout;
use crate::controller::{RolloutState, Status};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutStatus {
    pub name: String,
    pub status: Status,
    /// `None` while pending.
    pub stage_index: Option<usize>,
    pub stage_kind: Option<&'static str>,
    /// The share of units on the new path in this stage (the A/B treatment share in `ab_test`).
    pub percentage: f64,
    pub stage_entered_at: Option<DateTime<Utc>>,
    pub next_transition_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub stages: usize,
    pub state_version: Option<i64>,
}

pub fn rollout_status(
    rollout: &Rollout,
    state: Option<&RolloutState>,
    now: DateTime<Utc>,
) -> RolloutStatus {
    let stage = state.and_then(|s| rollout.stages.get(s.stage_index));
    let status = state.map_or(Status::Pending, |s| s.status);
    let percentage = match (status, stage) {
        (Status::RolledBack | Status::Pending, _) | (_, None) => 0.0,
        (_, Some(st)) => st.kind.percentage().map_or(0.0, |p| p.get()),
    };
    RolloutStatus {
        name: rollout.name.to_string(),
        status,
        stage_index: state.map(|s| s.stage_index),
        stage_kind: stage.map(|s| s.kind.name()),
        percentage,
        stage_entered_at: state.map(|s| s.stage_entered_at),
        next_transition_at: match (state, stage) {
            (Some(s), Some(st)) => s.next_transition_at(st, now),
            _ => None,
        },
        reason: state.and_then(|s| s.reason.clone()),
        stages: rollout.stages.len(),
        state_version: state.map(|s| s.version),
    }
}
