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

    /// Whether going from `before` to this memory the design took a look: a new look of a
    /// group-sequential or fixed-horizon design; for the always-valid design, which plans
    /// no looks (it is valid however often it is read), a judgment that moved a metric's
    /// running minimum p-value. Starting the memory or a new SRM minimum is not a look.
    pub fn took_look(&self, before: &AnalysisMemory) -> bool {
        match self.design {
            Some(Design::AlwaysValid) => {
                before.design == self.design && self.min_p != before.min_p
                    || before.design != self.design && !self.min_p.is_empty()
            }
            Some(_) => {
                let earlier = if before.design == self.design {
                    before.looks.len()
                } else {
                    0
                };
                self.looks.len() > earlier
            }
            None => false,
        }
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
    fn a_look_is_the_designs() {
        let empty = AnalysisMemory::default();
        let gs = empty.for_design(Design::GroupSequential);
        assert!(!gs.took_look(&empty), "starting the memory");
        let mut srm = gs.clone();
        srm.srm_min_p = Some(0.2);
        assert!(!srm.took_look(&gs), "a new SRM minimum");
        let mut looked = srm.clone();
        looked.looks.push(Look {
            index: 1,
            planned: 1,
            information_fraction: 0.5,
            at: DateTime::<Utc>::UNIX_EPOCH,
            final_look: false,
            metrics: vec![],
        });
        looked.min_p.insert("m".into(), 0.3);
        assert!(looked.took_look(&srm));
        assert!(!looked.took_look(&looked), "nothing new");
        let av = empty.for_design(Design::AlwaysValid);
        assert!(!av.took_look(&empty));
        let mut moved = av.clone();
        moved.min_p.insert("m".into(), 0.4);
        assert!(moved.took_look(&av));
        assert!(!moved.took_look(&moved));
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
