//! The A/B experiment: observations, their analysis, and the verdict the controller uses.

mod aggregates;
mod analysis;
mod design;
mod estimate;
mod memory;
pub(crate) mod observation;
mod placement;
#[cfg(test)]
mod rank_bins_sim;
mod srm;
mod verdict;

#[cfg(test)]
mod tests;

pub use aggregates::{
    bucket_start, rank_sums_of_bins, ExposureCounts, MetricSummary, RankBins, UnitAggregate,
    BUCKET, RANK_BIN_ALPHA,
};
pub use analysis::{
    judged, plan, AbPlan, Analysis, ArmSummary, Exposure, ExposureSummary, MetricAnalysis,
    MetricData, StageClock, StageRef,
};
pub use design::{information_fraction, look_now, Design, LookNow};
pub use estimate::superiority_threshold;
pub use memory::{AnalysisMemory, Look, LookMetric, MEMORY_VERSION};
pub use observation::{check, parse_csv, IngestReport, InputErrors, Observation, RowError};
pub use placement::{
    admit, known_metrics, max_abs, place, ObservationInput, Period, StageEntry, Timeline,
    MAX_FUTURE,
};
pub use srm::{srm, Srm, SRM_ALPHA, SRM_CONCENTRATION};
pub use verdict::{decide, holm, signals, Verdict, MULTIPLE_EXPOSURE_SHARE};
