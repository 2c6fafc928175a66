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
    let status = state.map_or(Status::Pending, RolloutState::status);
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
        reason: state.and_then(|s| s.reason().map(str::to_owned)),
        stages: rollout.stages.len(),
        state_version: state.map(|s| s.version),
    }
}

/// One unit's assignment in a rollout, as `rollout assign --json` and `GET /v1/assign` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitAssignment {
    pub unit: String,
    pub u_ab: f64,
    /// The A/B split from the configuration (shown in every stage); `None` without an A/B stage.
    pub variant: Option<&'static str>,
    pub u_rollout: f64,
    pub rollout_percentage: f64,
    pub in_rollout: bool,
    /// Whether the new path is on for the unit under the stored flags now.
    pub enabled: bool,
}

/// `unit`'s draws and decisions under `rollout`'s configuration and its stored `flags`
/// (key → value).
pub fn unit_assignment(
    rollout: &Rollout,
    flags: &std::collections::BTreeMap<String, String>,
    unit: &str,
) -> UnitAssignment {
    use crate::assignment::{self, PURPOSE_AB, PURPOSE_ROLLOUT};
    let flag = |suffix: &str| flags.get(&rollout.flag_prefix.key(suffix)).cloned();
    let ab_pct = rollout.stages.iter().find_map(|s| match &s.kind {
        crate::config::StageKind::AbTest { percentage, .. } => Some(percentage.get()),
        _ => None,
    });
    let rollout_pct = flag("ROLLOUT_PERCENTAGE")
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    UnitAssignment {
        unit: unit.to_owned(),
        u_ab: assignment::draw(rollout.seed, PURPOSE_AB, unit),
        variant: ab_pct.map(|p| assignment::variant(rollout.seed, unit, p).as_str()),
        u_rollout: assignment::draw(rollout.seed, PURPOSE_ROLLOUT, unit),
        rollout_percentage: rollout_pct,
        in_rollout: assignment::in_rollout(rollout.seed, unit, rollout_pct),
        enabled: assignment::enabled_for(flag, unit),
    }
}
