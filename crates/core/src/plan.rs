//! The plan of a rollout as `rollout.yaml` describes it: every stage's timing, flags and,
//! for A/B stages, whether the planned units can detect `min_effect`. Pure.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::{Rollout, StageKind};
use crate::controller::{Phase, RolloutState};

/// A stage in words, as `rollout plan` prints it.
pub fn stage_summary(kind: &StageKind) -> String {
    match kind {
        StageKind::Shadow { duration } => format!("shadow for {duration}"),
        StageKind::AbTest {
            percentage,
            duration,
            on_inconclusive,
            ..
        } => format!(
            "A/B test, {percentage}% treatment, for {duration} (inconclusive: {})",
            on_inconclusive.as_str()
        ),
        StageKind::Canary {
            percentage,
            duration,
        } => format!("{percentage}% release for {duration}"),
        StageKind::Full => "100% release (completes the rollout)".into(),
    }
}

/// One stage of `rollout plan`.
#[derive(Debug, Serialize)]
pub struct PlanStep {
    pub index: usize,
    pub kind: &'static str,
    pub percentage: f64,
    pub duration_secs: Option<u64>,
    /// Earliest start, counted from the first tick, if nothing holds or pauses the rollout.
    pub starts_after_days: f64,
    pub summary: String,
    pub flags: BTreeMap<String, String>,
    /// For an `ab_test` stage with `expected_units_per_day`: can it detect `min_effect`?
    pub sample_size: Option<SampleSizePlan>,
}

/// The fixed-horizon sample size of an A/B stage at 80 % power.
#[derive(Debug, Serialize)]
pub struct SampleSizePlan {
    pub needed_treatment: u64,
    pub needed_control: u64,
    pub expected_treatment: f64,
    pub expected_control: f64,
    pub duration_is_enough: bool,
}

fn sample_size(kind: &StageKind) -> Option<SampleSizePlan> {
    let StageKind::AbTest {
        percentage,
        analysis,
        ..
    } = kind
    else {
        return None;
    };
    let (et, ec) = kind.planned_units()?;
    let share = percentage.get() / 100.0;
    let (t, c) =
        crate::stats::sample_size_per_arm(analysis.min_effect, analysis.alpha, 0.8, share)?;
    Some(SampleSizePlan {
        needed_treatment: t,
        needed_control: c,
        expected_treatment: et,
        expected_control: ec,
        duration_is_enough: et >= t as f64 && ec >= c as f64,
    })
}

/// The timeline of a rollout, assuming every stage runs exactly its duration.
pub fn plan_steps(rollout: &Rollout) -> Vec<PlanStep> {
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    let mut offset = 0u64;
    rollout
        .stages
        .iter()
        .enumerate()
        .map(|(index, stage)| {
            let phase = if index + 1 == rollout.stages.len() {
                Phase::Completed
            } else {
                Phase::Running
            };
            let state = RolloutState::new(
                rollout.name.to_string(),
                index,
                stage.kind.label(),
                epoch,
                phase,
            );
            let duration = stage.kind.duration().map(|d| d.get().as_secs());
            let step = PlanStep {
                index,
                kind: stage.kind.name(),
                percentage: stage.kind.percentage().map_or(0.0, |p| p.get()),
                duration_secs: duration,
                starts_after_days: offset as f64 / 86_400.0,
                summary: stage_summary(&stage.kind),
                flags: crate::controller::flags::desired(rollout, &state),
                sample_size: sample_size(&stage.kind),
            };
            offset += duration.unwrap_or(0);
            step
        })
        .collect()
}

pub fn rollback_flags(rollout: &Rollout) -> BTreeMap<String, String> {
    let phase = Phase::RolledBack {
        reason: "plan".into(),
    };
    let state = RolloutState::new(
        rollout.name.to_string(),
        0,
        String::new(),
        DateTime::<Utc>::UNIX_EPOCH,
        phase,
    );
    crate::controller::flags::desired(rollout, &state)
}

/// The plan of one rollout: its stages and what a rollback writes.
#[derive(Debug, Serialize)]
pub struct RolloutPlan {
    pub rollout: String,
    pub stages: Vec<PlanStep>,
    pub rollback_flags: BTreeMap<String, String>,
    /// Seconds from the first tick to completion if nothing holds or pauses the rollout.
    pub total_secs: u64,
}

/// The plan of `rollout`.
pub fn plan(rollout: &Rollout) -> RolloutPlan {
    RolloutPlan {
        rollout: rollout.name.to_string(),
        stages: plan_steps(rollout),
        rollback_flags: rollback_flags(rollout),
        total_secs: rollout
            .stages
            .iter()
            .filter_map(|s| s.kind.duration())
            .map(|d| d.get().as_secs())
            .sum(),
    }
}
