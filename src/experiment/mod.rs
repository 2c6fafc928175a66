//! The A/B experiment: observations, their analysis, and the verdict the controller uses.

mod analysis;
mod observation;

pub use analysis::{analyze, metric, signals, srm, Analysis, MetricAnalysis, Srm, Verdict};
pub use observation::{check, parse_csv, IngestReport, InputErrors, Observation, RowError};
