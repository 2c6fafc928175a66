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

/// How an A/B stage decides, as far as its final critical value goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Horizon {
    /// Group-sequential with `looks` equal looks (Lan–DeMets O'Brien–Fleming spending).
    GroupSequential { looks: u32 },
    /// The tuned always-valid mixture at its expected sample.
    AlwaysValid,
    /// One look at the end.
    FixedHorizon,
}

impl Horizon {
    pub fn as_str(self) -> &'static str {
        match self {
            Horizon::GroupSequential { .. } => "group_sequential",
            Horizon::AlwaysValid => "always_valid",
            Horizon::FixedHorizon => "fixed_horizon",
        }
    }
}

/// The critical |z| a two-sided test at `alpha` must pass at the end of the stage: the
/// group-sequential design's last boundary at equal looks, the mixture's critical |z| at
/// its tuned sample (1/Λ = α: z² = 2(1+L)/L (ln(1/α) + ½ ln(1+L)), L = −2 ln α +
/// ln(1 − 2 ln α)), or z₁₋α/₂.
pub fn critical_z(horizon: Horizon, alpha: f64) -> Option<f64> {
    if !super::unit_open(alpha) {
        return None;
    }
    match horizon {
        Horizon::GroupSequential { looks } => {
            let looks = looks.max(1);
            let t: Vec<f64> = (1..=looks).map(|k| k as f64 / looks as f64).collect();
            super::boundaries(alpha, &t, true)?.last().copied()
        }
        Horizon::AlwaysValid => {
            let l = -2.0 * alpha.ln() + (1.0 - 2.0 * alpha.ln()).ln();
            Some((2.0 * (1.0 + l) / l * (-alpha.ln() + 0.5 * (1.0 + l).ln())).sqrt())
        }
        Horizon::FixedHorizon => Some(Normal::new(0.0, 1.0).ok()?.inverse_cdf(1.0 - alpha / 2.0)),
    }
}
