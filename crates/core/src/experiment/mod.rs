//! The A/B experiment: observations, their analysis, and the verdict the controller uses.

mod aggregates;
mod analysis;
mod observation;
mod placement;

pub use aggregates::{ExposureCounts, UnitAggregate};
pub use analysis::{
    judged, metric, plan, signals, srm, AbPlan, Analysis, MetricAnalysis, MetricData, Srm, Verdict,
    SRM_ALPHA,
};
pub use observation::{check, parse_csv, IngestReport, InputErrors, Observation, RowError};
pub use placement::{
    admit, known_metrics, max_abs, place, ObservationInput, Period, StageEntry, Timeline,
    MAX_FUTURE,
};
