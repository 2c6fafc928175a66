//! The dashboard's time series: analysis snapshots (one per look the A/B design takes),
//! the latest analysis a judgment computed, guardrail points (one per evaluation), and
//! pages of them.
//!
//! A look is the design's: a judgment whose analysis changed the design's memory (a
//! group-sequential or fixed-horizon look, a new running minimum of a p-value) stores that
//! analysis as a snapshot, in the same transaction as the memory. Every judgment that
//! computes an analysis also keeps it as the rollout's latest, which the reads show.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::{Bound, GuardrailSeverity, MetricSource, Rollout, WorseWhen};
use crate::records::{GuardrailReading, WeightsRecord};

/// One stored look: the engine's analysis as JSON (its shape grows with the statistics;
/// readers must take missing fields as unknown).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisSnapshot {
    /// Assigned by the store; the pagination cursor.
    pub id: i64,
    pub rollout: String,
    pub stage_index: i64,
    pub verdict: String,
    pub taken_at: DateTime<Utc>,
    pub analysis: serde_json::Value,
}

/// The latest analysis a judgment computed for a rollout: what `GET /v1/rollouts/{name}`,
/// the dashboard and `/metrics` show, so that no read runs the analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatestAnalysis {
    pub stage_index: i64,
    pub verdict: String,
    pub computed_at: DateTime<Utc>,
    pub analysis: serde_json::Value,
}

impl LatestAnalysis {
    /// The analysis as JSON with `computed_at` added: the shape the reads answer.
    pub fn shown(&self) -> serde_json::Value {
        let mut a = self.analysis.clone();
        if let Some(map) = a.as_object_mut() {
            let at = serde_json::to_value(self.computed_at).unwrap_or_default();
            map.insert("computed_at".into(), at);
        }
        a
    }
}

/// One stored guardrail evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardrailPoint {
    /// Assigned by the store; the pagination cursor.
    pub id: i64,
    #[serde(flatten)]
    pub reading: GuardrailReading,
}

/// One stored computation of a rollout's learned weights (the learning panel's series).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightsPoint {
    /// Assigned by the store; the pagination cursor.
    pub id: i64,
    #[serde(flatten)]
    pub record: WeightsRecord,
}

/// A change of the published weights flag (`<prefix>WEIGHTS`), from the history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightsFlagChange {
    /// The history row's id; the pagination cursor.
    pub id: i64,
    pub at: DateTime<Utc>,
    /// What wrote it: `publish`, a stage entry, a rollback, …
    pub action: String,
    /// The weights written (`None`: the flag was removed).
    pub weights: Option<serde_json::Value>,
}

/// A guardrail's bound as a chart draws it: the lines its value must stay within.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardrailLine {
    pub name: String,
    /// The observed metric, or `None` for a configured query.
    pub metric: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// For a relative bound: how much worse than control the treatment may be.
    pub max_degradation: Option<f64>,
    pub worse_when: Option<WorseWhen>,
    pub consecutive: u32,
    pub min_samples: u64,
    pub severity: GuardrailSeverity,
}

/// The configured guardrails of `rollout`, as lines to draw.
pub fn guardrail_lines(rollout: &Rollout) -> Vec<GuardrailLine> {
    rollout
        .guardrails
        .iter()
        .map(|g| {
            let (min, max, rel) = match &g.bound {
                Bound::Absolute { min, max } => (*min, *max, None),
                Bound::Relative(r) => (None, None, Some(*r)),
            };
            GuardrailLine {
                name: g.name.clone(),
                metric: match &g.source {
                    MetricSource::Observations { metric, .. } => Some(metric.clone()),
                    MetricSource::Sql(_) => None,
                },
                min,
                max,
                max_degradation: rel.map(|r| r.max_degradation),
                worse_when: rel.map(|r| r.worse_when),
                consecutive: g.consecutive,
                min_samples: g.min_samples,
                severity: g.severity,
            }
        })
        .collect()
}

/// The largest page an endpoint returns.
pub const MAX_PAGE: u32 = 1000;
/// The page size when none is asked for.
pub const DEFAULT_PAGE: u32 = 100;

/// A page of a series, newest first: the rows with an id below `before` (all without one),
/// at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub before: Option<i64>,
    pub limit: u32,
}

impl Page {
    /// A page from a request's parameters; a limit out of `1..=MAX_PAGE` or a cursor below 1
    /// is refused with the reason.
    pub fn new(before: Option<i64>, limit: Option<u32>) -> Result<Page, String> {
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(format!(
                "`limit` must be between 1 and {MAX_PAGE}, not {limit}"
            ));
        }
        if let Some(b) = before.filter(|b| *b < 1) {
            return Err(format!("`before` must be a positive row id, not {b}"));
        }
        Ok(Page { before, limit })
    }

    /// The cursor of the next (older) page after a page whose smallest id is `last`, if this
    /// page was full (an older row may exist).
    pub fn next(&self, got: usize, last: Option<i64>) -> Option<i64> {
        (got >= self.limit as usize).then_some(last).flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_bounded() {
        assert_eq!(Page::new(None, None).unwrap().limit, DEFAULT_PAGE);
        assert!(Page::new(None, Some(0)).is_err());
        assert!(Page::new(None, Some(MAX_PAGE + 1)).is_err());
        assert!(Page::new(Some(0), Some(5)).is_err());
        let p = Page::new(Some(50), Some(2)).unwrap();
        assert_eq!(p.next(2, Some(40)), Some(40));
        assert_eq!(p.next(1, Some(40)), None);
    }
}
