//! The one-sample t interval (SciPy `stats.ttest_1samp(x).confidence_interval(0.95)`).

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::Moments;

/// A mean and its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanInterval {
    pub mean: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// The mean of `m` and its 95 % Student-t interval with `n − 1` degrees of freedom. With
/// fewer than 2 values, or values that do not vary, the interval is the mean itself.
pub fn one_sample_t(m: &Moments) -> MeanInterval {
    let mean = m.mean();
    let point = MeanInterval {
        mean,
        ci_low: mean,
        ci_high: mean,
    };
    if m.n() < 2 {
        return point;
    }
    let se = (m.variance() / m.n() as f64).sqrt();
    let Ok(dist) = StudentsT::new(0.0, 1.0, m.n() as f64 - 1.0) else {
        return point;
    };
    if !(se.is_finite() && se > 0.0) {
        return point;
    }
    let q = dist.inverse_cdf(0.975);
    MeanInterval {
        mean,
        ci_low: mean - q * se,
        ci_high: mean + q * se,
    }
}
