//! The A/B experiment: observations, their analysis, and the verdict the controller uses.

mod analysis;
mod observation;

pub use analysis::{
    judged, metric, plan, signals, srm, AbPlan, Analysis, MetricAnalysis, MetricData, Srm, Verdict,
    SRM_ALPHA,
};
pub use observation::{check, parse_csv, IngestReport, InputErrors, Observation, RowError};
