//! Always-valid p-values from the mixture sequential probability ratio test (mSPRT; Johari,
//! Pekelis and Walsh, "Always valid inference", 2017), the method behind Optimizely's and
//! Eppo's sequential engines, and the sequential sample-ratio test of Lindon and Malek
//! ("Anytime-valid inference for multinomial count data", 2022).
//!
//! For an estimate θ̂ of the difference with standard error s, and a normal mixing
//! distribution N(0, τ²) over the true difference, the mixture likelihood ratio against
//! θ = 0 is
//!
//! ```text
//! Λ = sqrt(s² / (s² + τ²)) · exp( θ̂² τ² / (2 s² (s² + τ²)) )
//! ```
//!
//! and by Ville's inequality P(Λ ever exceeds 1/α under θ = 0) ≤ α, so the rule
//! "stop when 1/Λ < α" keeps its false-positive rate at α however often it is checked.

use statrs::function::gamma::ln_gamma;

/// The always-valid p-value min(1, 1/Λ) for estimate `diff` with standard error `se`.
pub fn always_valid_p(diff: f64, se: f64, tau: f64) -> f64 {
    if !super::positive(se) || !super::positive(tau) || !diff.is_finite() {
        return 1.0;
    }
    let (s2, t2) = (se * se, tau * tau);
    let log_lambda = 0.5 * (s2 / (s2 + t2)).ln() + diff * diff * t2 / (2.0 * s2 * (s2 + t2));
    (-log_lambda).exp().min(1.0)
}

/// Half-width of the mSPRT's confidence sequence at level 1 − `alpha`: the differences θ
/// whose mixture ratio against θ stays below 1/α. `None` without a positive `se`/`tau`.
pub fn confidence_sequence_half_width(se: f64, tau: f64, alpha: f64) -> Option<f64> {
    if !(super::positive(se) && super::positive(tau) && super::unit_open(alpha)) {
        return None;
    }
    let (s2, t2) = (se * se, tau * tau);
    Some((2.0 * s2 * (s2 + t2) / t2 * (-alpha.ln() + 0.5 * ((s2 + t2) / s2).ln())).sqrt())
}

/// The mixing sd that makes the mixture most powerful near an expected sample (Waudby-Smith
/// et al.; GrowthBook's tuning): τ² = V(N*) · (−2 ln α + ln(1 − 2 ln α)), where `se_at_expected`
/// is the estimate's standard error at the expected sample N*.
pub fn tuned_tau(se_at_expected: f64, alpha: f64) -> f64 {
    if !(super::positive(se_at_expected) && super::unit_open(alpha)) {
        return f64::NAN;
    }
    let l = -2.0 * alpha.ln();
    se_at_expected * (l + (1.0 + l).ln()).sqrt()
}

/// The old mixing sd: the smallest effect worth detecting (`min_effect`, in standard
/// deviations) expressed on the estimate's scale. Kept for comparison in the bench.
pub fn mixture_sd(min_effect: f64, outcome_sd: f64) -> f64 {
    min_effect * outcome_sd
}

/// Lindon and Malek's always-valid test that `counts` follow the shares `expected`
/// (normalised): the Dirichlet–multinomial Bayes factor against the point null, with a
/// Dirichlet(`concentration` × shares) prior, and its p-value min(1, 1/BF). Taking the
/// running minimum of this p over any sequence of looks keeps P(ever below α) ≤ α.
/// `None` when the shares or the counts cannot be tested.
pub fn multinomial_mixture_p(counts: &[u64], expected: &[f64], concentration: f64) -> Option<f64> {
    let total: f64 = expected.iter().sum();
    if counts.len() < 2
        || counts.len() != expected.len()
        || !super::positive(total)
        || !super::positive(concentration)
        || expected.iter().any(|p| !super::positive(*p))
    {
        return None;
    }
    let n: f64 = counts.iter().map(|&c| c as f64).sum();
    let a0 = concentration;
    let mut log_bf = ln_gamma(a0) - ln_gamma(a0 + n);
    for (&c, &p) in counts.iter().zip(expected) {
        let (x, share) = (c as f64, p / total);
        let a = a0 * share;
        log_bf += ln_gamma(a + x) - ln_gamma(a) - x * share.ln();
    }
    log_bf.is_finite().then(|| (-log_bf).exp().min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuned_tau_matches_the_formula() {
        // alpha 0.05: -2 ln α = 5.9915, ln(1 + 5.9915) = 1.9447, sum 7.9362, sqrt 2.8171.
        assert!((tuned_tau(1.0, 0.05) - 2.817_13).abs() < 1e-4);
        assert!(tuned_tau(0.0, 0.05).is_nan());
    }

    #[test]
    fn confidence_sequence_is_where_the_p_value_is_alpha() {
        let (se, tau, alpha) = (0.1, 0.3, 0.01);
        let h = confidence_sequence_half_width(se, tau, alpha).unwrap();
        assert!((always_valid_p(h, se, tau) - alpha).abs() < 1e-12);
    }

    #[test]
    fn multinomial_mixture_is_one_at_the_expected_split_and_small_far_from_it() {
        let p = multinomial_mixture_p(&[900, 100], &[0.9, 0.1], 100.0).unwrap();
        assert!(p > 0.5, "{p}");
        let p = multinomial_mixture_p(&[800, 200], &[0.9, 0.1], 100.0).unwrap();
        assert!(p < 1e-6, "{p}");
        assert_eq!(multinomial_mixture_p(&[1], &[1.0], 100.0), None);
        assert_eq!(
            multinomial_mixture_p(&[0, 0], &[0.9, 0.1], 100.0),
            Some(1.0)
        );
        assert_eq!(multinomial_mixture_p(&[5, 5], &[1.0, 0.0], 100.0), None);
    }
}
