//! The plan of a rollout as `rollout.yaml` describes it: every stage's timing, flags and,
//! for A/B stages, whether the planned units can detect `min_effect`. Pure.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

use crate::config::{Rollout, StageKind};
use crate::controller::{Phase, RolloutState};

/// A stage in words, as `rollout plan` prints it.
pub fn stage_summary(kind: &StageKind) -> String {
    match kind {
        StageKind::Shadow { duration, .. } => format!("shadow for {duration}"),
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
    /// For an `ab_test` stage: its design, and what it can detect over the planned horizon.
    pub ab_design: Option<AbDesignPlan>,
}

/// What an A/B stage's design can detect, for `rollout plan` and `validate`.
#[derive(Debug, Clone, Serialize)]
pub struct AbDesignPlan {
    pub design: crate::experiment::Design,
    pub looks: u32,
    /// The |z| the last look (group-sequential), the mixture at the planned sample, or the
    /// fixed test needs.
    pub critical_z: f64,
    /// The effect (Cohen's d) detected with 80 % power over the planned horizon.
    pub detectable_effect: Option<f64>,
    /// Power at `min_effect` over the planned horizon.
    pub power_at_min_effect: Option<f64>,
    /// Days of `expected_units_per_day` needed for 80 % power at `min_effect`.
    pub days_needed: Option<f64>,
    /// Units (treatment, control) needed for 80 % power at `min_effect`.
    pub units_needed: Option<(u64, u64)>,
}

/// The design of an `ab_test` stage and its power: the drift a two-sided test with
/// critical value c needs for 80 % power is c + z₀.₈ (the opposite tail neglected), with
/// c the group-sequential design's last boundary at `looks` equal looks (slightly
/// conservative: crossing at an earlier look only adds power), the mixture's critical |z|
/// at the expected sample, or z₁₋α/₂.
pub fn ab_design(kind: &StageKind) -> Option<AbDesignPlan> {
    let StageKind::AbTest {
        percentage,
        duration,
        analysis,
        ..
    } = kind
    else {
        return None;
    };
    let planned = kind.planned_units();
    let design = match (analysis.sequential, planned) {
        (crate::config::Sequential::FixedHorizon, _) => crate::experiment::Design::FixedHorizon,
        (_, Some(_)) => crate::experiment::Design::GroupSequential,
        (_, None) => crate::experiment::Design::AlwaysValid,
    };
    let alpha = analysis.alpha;
    let n = Normal::new(0.0, 1.0).ok()?;
    let looks = match design {
        crate::experiment::Design::FixedHorizon => 1,
        _ => analysis.looks.max(1),
    };
    let horizon = match design {
        crate::experiment::Design::GroupSequential => {
            crate::stats::Horizon::GroupSequential { looks }
        }
        crate::experiment::Design::AlwaysValid => crate::stats::Horizon::AlwaysValid,
        crate::experiment::Design::FixedHorizon => crate::stats::Horizon::FixedHorizon,
    };
    let critical_z = crate::stats::critical_z(horizon, alpha)?;
    let share = percentage.get() / 100.0;
    let drift = critical_z + n.inverse_cdf(0.8);
    let detectable_effect = planned.map(|(t, c)| drift * (1.0 / t + 1.0 / c).sqrt());
    let power_at_min_effect =
        planned.and_then(|(t, c)| crate::stats::power_fixed(analysis.min_effect, t, c, critical_z));
    let total = drift * drift / (analysis.min_effect.powi(2) * share * (1.0 - share));
    let units_needed = (total.is_finite() && share > 0.0 && share < 1.0).then(|| {
        (
            (total * share).ceil() as u64,
            (total * (1.0 - share)).ceil() as u64,
        )
    });
    let days_needed = analysis
        .expected_units_per_day
        .filter(|_| units_needed.is_some())
        .map(|per_day| total / per_day);
    let _ = duration;
    Some(AbDesignPlan {
        design,
        looks,
        critical_z,
        detectable_effect,
        power_at_min_effect,
        days_needed,
        units_needed,
    })
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
                ab_design: ab_design(&stage.kind),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    fn stage(extra: &str, inconclusive: &str) -> (Vec<crate::config::Diagnostic>, StageKind) {
        let yaml = format!(
            r#"
rollouts:
  - name: p
    flag_prefix: P_
    seed: 1
    stages:
      - ab_test:
          percentage: 10
          duration: 14d
          alpha: 0.01
          min_effect: 0.1
          on_inconclusive: {inconclusive}
          {extra}
          metrics: [ {{ name: m, test: welch_t }} ]
      - full: {{}}
"#
        );
        let loaded = parse("p.yaml", &yaml).expect("valid");
        let kind = loaded.config.rollouts[0].stages[0].kind.clone();
        (loaded.warnings, kind)
    }

    /// The repository plan: 280 treatment / 2,520 control units over 14 days, 14 looks.
    /// The group-sequential design's last boundary at alpha 0.01 is about 2.6, so the effect
    /// detected with 80 % power is (c + z₀.₈)·√(1/280 + 1/2520) ≈ 0.22, and d = 0.1 needs
    /// about 66 days of 200 units.
    #[test]
    fn the_repository_plan_states_its_design_and_power() {
        let (warnings, kind) = stage("expected_units_per_day: 200", "hold");
        let d = ab_design(&kind).unwrap();
        assert_eq!(d.design, crate::experiment::Design::GroupSequential);
        assert_eq!(d.looks, 14);
        assert!(d.critical_z > 2.576 && d.critical_z < 2.75, "{d:?}");
        let e = d.detectable_effect.unwrap();
        assert!((0.2..0.24).contains(&e), "{d:?}");
        let days = d.days_needed.unwrap();
        assert!((55.0..80.0).contains(&days), "{d:?}");
        assert!(d.power_at_min_effect.unwrap() < 0.5);
        assert!(
            warnings
                .iter()
                .any(|w| w.to_string().contains("power at min_effect")),
            "{warnings:?}"
        );
    }

    #[test]
    fn designs_follow_the_config() {
        let (warnings, kind) = stage(
            "sequential: false\n          expected_units_per_day: 200",
            "promote",
        );
        let d = ab_design(&kind).unwrap();
        assert_eq!(d.design, crate::experiment::Design::FixedHorizon);
        assert!((d.critical_z - 2.5758).abs() < 1e-3);
        assert!(
            warnings.iter().all(|w| !w.to_string().contains("power")),
            "{warnings:?}"
        );
        let (_, kind) = stage("", "hold");
        let d = ab_design(&kind).unwrap();
        assert_eq!(d.design, crate::experiment::Design::AlwaysValid);
        assert_eq!((d.detectable_effect, d.days_needed), (None, None));
        assert!(d.units_needed.is_some());
    }
}
