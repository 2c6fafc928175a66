//! Statistical tests on sufficient statistics. Distributions come from statrs; every
//! p-value and interval is checked against SciPy in `tests/it/stats.rs`.

mod correlation;
mod group_sequential;
mod moments;
mod one_sample;
mod power;
mod sequential;
mod sketch;
mod tests_two_sample;

pub use correlation::{pearson, ranks, spearman, Correlation};
pub use group_sequential::{boundaries, obf_spending, repeated_p, NO_BOUNDARY};
pub use moments::Moments;
pub use one_sample::{one_sample_t, MeanInterval};
pub use power::{critical_z, power_fixed, sample_size_per_arm, Horizon};
pub use sequential::{
    always_valid_p, confidence_sequence_half_width, mixture_sd, multinomial_mixture_p, tuned_tau,
};
pub use sketch::{LogBins, Sketch, SketchError, SKETCH_ALPHA, ZERO_BELOW};
pub use tests_two_sample::{
    chi_square_gof, cohens_d, mann_whitney, two_proportion_z, welch_t, RankSums, TestResult,
};

/// A finite, strictly positive number (false for NaN and infinities).
pub(crate) fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// A number strictly between 0 and 1 (false for NaN).
pub(crate) fn unit_open(x: f64) -> bool {
    x > 0.0 && x < 1.0
}
