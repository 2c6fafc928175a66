//! Fixed-horizon sample sizes, for `rollout plan`.

use statrs::distribution::{ContinuousCDF, Normal};

/// Units per arm, at the smaller arm, needed to detect a standardised effect `d` with a
/// two-sided test at `alpha` and the given `power`, when a share `treatment` (0..1) of units
/// is in treatment. Returns (treatment units, control units).
pub fn sample_size_per_arm(d: f64, alpha: f64, power: f64, treatment: f64) -> Option<(u64, u64)> {
    if !(super::positive(d)
        && super::unit_open(alpha)
        && super::unit_open(power)
        && super::unit_open(treatment))
    {
        return None;
    }
    let n = Normal::new(0.0, 1.0).ok()?;
    let z = n.inverse_cdf(1.0 - alpha / 2.0) + n.inverse_cdf(power);
    // Var(diff) = σ² (1/(pN) + 1/((1-p)N)) = σ² / (p (1-p) N); solve z·sqrt(...) = d σ for N.
    let total = (z * z / (d * d * treatment * (1.0 - treatment))).ceil();
    Some((
        (total * treatment).ceil() as u64,
        (total * (1.0 - treatment)).ceil() as u64,
    ))
}

/// Power of a two-sided z test at `alpha` whose statistic has drift `d / se_d`, where
/// `se_d` is the SE of the standardised difference: 1/√(n_t) and 1/√(n_c) combined.
/// `critical` overrides the fixed-horizon critical value (e.g. a group-sequential design's
/// final boundary). `None` for inputs out of range.
pub fn power_fixed(d: f64, n_treatment: f64, n_control: f64, critical: f64) -> Option<f64> {
    if !(super::positive(n_treatment) && super::positive(n_control) && d.is_finite()) {
        return None;
    }
    let n = Normal::new(0.0, 1.0).ok()?;
    let drift = d.abs() / (1.0 / n_treatment + 1.0 / n_control).sqrt();
    Some(n.cdf(drift - critical) + n.cdf(-drift - critical))
}
