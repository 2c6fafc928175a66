//! The dashboard's time series: analysis snapshots (one per look of the A/B test),
//! guardrail points (one per evaluation), pages of them, and the rule that makes an
//! analysis a new look.
//!
//! Until the A/B statistics define their looks (group-sequential designs), a look is taken
//! when the engine judges and either the analysis changed and the last snapshot is at least
//! the snapshot interval old (default 1 h), or the verdict changed, or the A/B stage is a
//! different one, or there is no snapshot yet.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::config::{Bound, GuardrailSeverity, MetricSource, Rollout, WorseWhen};
use crate::records::GuardrailReading;

/// The default time between two snapshots of an analysis whose verdict has not changed.
pub const DEFAULT_SNAPSHOT_INTERVAL: Duration = Duration::hours(1);

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

/// One stored guardrail evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardrailPoint {
    /// Assigned by the store; the pagination cursor.
    pub id: i64,
    #[serde(flatten)]
    pub reading: GuardrailReading,
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

/// Whether `analysis` (with `verdict`, of stage `stage_index`, at `now`) is a new look after
/// `last`. See the module's documentation for the rule.
pub fn snapshot_due(
    last: Option<&AnalysisSnapshot>,
    stage_index: i64,
    verdict: &str,
    analysis: &serde_json::Value,
    now: DateTime<Utc>,
    interval: Duration,
) -> bool {
    let Some(last) = last else { return true };
    if last.verdict != verdict || last.stage_index != stage_index {
        return true;
    }
    last.analysis != *analysis && now - last.taken_at >= interval
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
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn snap(verdict: &str, analysis: serde_json::Value, taken: &str) -> AnalysisSnapshot {
        AnalysisSnapshot {
            id: 1,
            rollout: "r".into(),
            stage_index: 1,
            verdict: verdict.into(),
            taken_at: at(taken),
            analysis,
        }
    }

    #[test]
    fn a_look_is_taken_on_a_new_verdict_or_new_data_after_the_interval() {
        let h = Duration::hours(1);
        let a = json!({"n": 1});
        let b = json!({"n": 2});
        let now = at("2026-01-01T01:00:00Z");
        assert!(
            snapshot_due(None, 1, "inconclusive", &a, now, h),
            "the first"
        );
        let last = snap("inconclusive", a.clone(), "2026-01-01T00:30:00Z");
        assert!(
            !snapshot_due(Some(&last), 1, "inconclusive", &b, now, h),
            "too soon"
        );
        assert!(
            snapshot_due(Some(&last), 1, "treatment_better", &a, now, h),
            "verdict"
        );
        assert!(
            snapshot_due(Some(&last), 2, "inconclusive", &a, now, h),
            "another stage"
        );
        let later = at("2026-01-01T01:30:00Z");
        assert!(
            snapshot_due(Some(&last), 1, "inconclusive", &b, later, h),
            "new data, old look"
        );
        assert!(
            !snapshot_due(Some(&last), 1, "inconclusive", &a, later, h),
            "same data"
        );
        assert!(snapshot_due(
            Some(&last),
            1,
            "inconclusive",
            &b,
            now,
            Duration::zero()
        ));
    }

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
