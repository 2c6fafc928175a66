//! What the analysis remembers between ticks: the looks its design has taken, the running
//! minima of its p-values and of the SRM p-value. Stored as JSON by the application per
//! (rollout, attempt, stage) and passed back on the next tick. Every field has a serde
//! default, so a blob written by an older version still parses (missing fields start empty).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::design::Design;
use super::verdict::Verdict;

/// The version written by this code.
pub const MEMORY_VERSION: u32 = 1;

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct AnalysisMemory {
    /// 0 for an empty memory (nothing analysed yet), [`MEMORY_VERSION`] once written.
    pub version: u32,
    /// The design the looks belong to; a different design starts a new memory.
    pub design: Option<Design>,
    /// Looks taken by the group-sequential or fixed-horizon design, in order.
    pub looks: Vec<Look>,
    /// Per metric name: the smallest sequential p-value so far (the reported p never rises).
    pub min_p: BTreeMap<String, f64>,
    /// The smallest always-valid SRM p-value so far.
    pub srm_min_p: Option<f64>,
}

/// One look of a group-sequential or fixed-horizon design.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Look {
    /// 1-based count of looks taken.
    pub index: u32,
    /// The information level that triggered it: ⌊fraction × looks⌋ (the planned look).
    #[serde(default)]
    pub planned: u32,
    pub information_fraction: f64,
    pub at: DateTime<Utc>,
    /// The look that spends all remaining alpha.
    #[serde(default)]
    pub final_look: bool,
    #[serde(default)]
    pub metrics: Vec<LookMetric>,
}

/// A metric at a look: its statistic, its boundary, the look's p-value and verdict.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct LookMetric {
    pub metric: String,
    pub z: Option<f64>,
    pub boundary: Option<f64>,
    pub p_value: Option<f64>,
    pub verdict: Verdict,
}

impl AnalysisMemory {
    /// The memory for `design`: this one if it belongs to it, else a fresh one.
    pub(crate) fn for_design(&self, design: Design) -> AnalysisMemory {
        if self.design == Some(design) {
            self.clone()
        } else {
            AnalysisMemory {
                version: MEMORY_VERSION,
                design: Some(design),
                srm_min_p: self.srm_min_p,
                ..AnalysisMemory::default()
            }
        }
    }

    pub fn last_look(&self) -> Option<&Look> {
        self.looks.last()
    }

    /// Records `p` as the metric's running minimum; returns the minimum.
    pub(crate) fn min_p(&mut self, metric: &str, p: Option<f64>) -> Option<f64> {
        let old = self.min_p.get(metric).copied();
        let new = match (old, p.filter(|p| p.is_finite())) {
            (Some(o), Some(p)) => Some(o.min(p)),
            (o, p) => o.or(p),
        };
        if let Some(v) = new {
            self.min_p.insert(metric.to_owned(), v);
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_or_partial_blob_parses() {
        let m: AnalysisMemory = serde_json::from_str("{}").unwrap();
        assert_eq!(m, AnalysisMemory::default());
        let m: AnalysisMemory =
            serde_json::from_str(r#"{"version":1,"srm_min_p":0.5,"future_field":3}"#).unwrap();
        assert_eq!(m.srm_min_p, Some(0.5));
    }

    #[test]
    fn running_minimum_never_rises() {
        let mut m = AnalysisMemory::default();
        assert_eq!(m.min_p("x", Some(0.3)), Some(0.3));
        assert_eq!(m.min_p("x", Some(0.5)), Some(0.3));
        assert_eq!(m.min_p("x", None), Some(0.3));
        assert_eq!(m.min_p("x", Some(f64::NAN)), Some(0.3));
        assert_eq!(m.min_p("x", Some(0.1)), Some(0.1));
    }
}
