//! Where an observation belongs: the stage entry in force when it was observed, and the
//! variant the assignment rule gave its unit then. The variant is the rule's, not the
//! client's claim: a claim that contradicts the rule is refused with the row.
//!
//! Observations are aggregated per stage *entry* (the stage and when it was entered), so a
//! restarted rollout's new A/B stage is judged only on the observations of its own attempt,
//! and rows of a shadow or canary stage never reach an A/B arm.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::assignment::{self, Variant};
use crate::config::{MetricSource, Rollout, StageKind, DEFAULT_MAX_ABS};
use crate::controller::Status;

use super::Observation;

/// How far in the future an `observed_at` may be (clock skew between hosts).
pub const MAX_FUTURE: Duration = Duration::minutes(5);

/// One entry into a stage: its index and when it was entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct StageEntry {
    pub stage: usize,
    pub entered_at: DateTime<Utc>,
}

/// What was in force from `from` on, until the next period: a committed transition.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub entry: StageEntry,
    pub status: Status,
}

/// The periods of a rollout, oldest first. Before the first, the rollout was pending.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    periods: Vec<Period>,
}

impl Timeline {
    /// From periods in any order.
    pub fn new(mut periods: Vec<Period>) -> Timeline {
        periods.sort_by_key(|p| p.from);
        Timeline { periods }
    }

    /// The period in force at `at`.
    pub fn at(&self, at: DateTime<Utc>) -> Option<&Period> {
        let i = self.periods.partition_point(|p| p.from <= at);
        i.checked_sub(1).map(|i| &self.periods[i])
    }
}

/// An observation as a client sends it: the variant is optional, and only a claim.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObservationInput {
    /// Where the row came from, for errors: its CSV line or its index in a JSON body.
    pub line: u64,
    pub unit: String,
    pub variant: Option<Variant>,
    pub metric: String,
    pub value: f64,
    pub observed_at: DateTime<Utc>,
    pub event_id: Option<String>,
}

/// The variant of `unit` at `at` by the rule, and the stage entry its observations count
/// towards (`None` when no stage exposed units then: pending or rolled back, where every
/// unit is on the old path).
pub fn place(
    rollout: &Rollout,
    timeline: &Timeline,
    unit: &str,
    at: DateTime<Utc>,
) -> (Variant, Option<StageEntry>) {
    let Some(p) = timeline.at(at) else {
        return (Variant::Control, None);
    };
    if matches!(p.status, Status::Pending | Status::RolledBack) {
        return (Variant::Control, None);
    }
    let seed = rollout.seed;
    let variant = match rollout.stages.get(p.entry.stage).map(|s| &s.kind) {
        Some(StageKind::Shadow { .. }) | None => Variant::Control,
        Some(StageKind::AbTest { percentage, .. }) => {
            assignment::variant(seed, unit, percentage.get())
        }
        Some(StageKind::Canary { percentage, .. }) => {
            if assignment::in_rollout(seed, unit, percentage.get()) {
                Variant::Treatment
            } else {
                Variant::Control
            }
        }
        Some(StageKind::Full) => Variant::Treatment,
    };
    (variant, Some(p.entry))
}

/// The metrics a rollout measures: its A/B metrics and its observation guardrails.
pub fn known_metrics(rollout: &Rollout) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for s in &rollout.stages {
        if let StageKind::AbTest { analysis, .. } = &s.kind {
            out.extend(analysis.metrics.iter().map(|m| m.name.as_str()));
        }
    }
    for g in &rollout.guardrails {
        if let MetricSource::Observations { metric, .. } = &g.source {
            out.push(metric.as_str());
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The largest |value| the rollout accepts for `metric`.
pub fn max_abs(rollout: &Rollout, metric: &str) -> f64 {
    rollout
        .stages
        .iter()
        .filter_map(|s| match &s.kind {
            StageKind::AbTest { analysis, .. } => {
                analysis.metrics.iter().find(|m| m.name == metric)
            }
            _ => None,
        })
        .map(|m| m.max_abs)
        .fold(None, |acc: Option<f64>, v| {
            Some(acc.map_or(v, |a| a.min(v)))
        })
        .unwrap_or(DEFAULT_MAX_ABS)
}

/// Checks one input against the rollout and places it: a metric the rollout measures, a
/// value within the metric's bound, a time not in the future, and a claimed variant that
/// agrees with the rule. The error says what is wrong with the row.
pub fn admit(
    rollout: &Rollout,
    known: &[&str],
    timeline: &Timeline,
    input: ObservationInput,
    now: DateTime<Utc>,
) -> Result<Observation, String> {
    if known.binary_search(&input.metric.as_str()).is_err() {
        return Err(format!(
            "metric {:?} is not measured by rollout {} (its A/B metrics and guardrails name: {})",
            input.metric,
            rollout.name,
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ));
    }
    let bound = max_abs(rollout, &input.metric);
    if input.value.abs() > bound {
        return Err(format!(
            "value {} of metric {:?} is beyond ±{bound:e} (set max_abs on the metric to allow it)",
            input.value, input.metric
        ));
    }
    if input.observed_at > now + MAX_FUTURE {
        return Err(format!(
            "observed_at {} is more than {} minutes in the future",
            input.observed_at.to_rfc3339(),
            MAX_FUTURE.num_minutes()
        ));
    }
    let (variant, entry) = place(rollout, timeline, &input.unit, input.observed_at);
    if let Some(claimed) = input.variant {
        if claimed != variant {
            return Err(format!(
                "variant {} contradicts the assignment rule, which puts unit {:?} in {} at {}",
                claimed.as_str(),
                input.unit,
                variant.as_str(),
                input.observed_at.to_rfc3339()
            ));
        }
    }
    Ok(Observation {
        unit: input.unit,
        variant,
        metric: input.metric,
        value: input.value,
        observed_at: input.observed_at,
        event_id: input.event_id,
        entry,
    })
}
