//! Always-valid p-values from the mixture sequential probability ratio test (mSPRT; Johari,
//! Pekelis and Walsh, "Always valid inference", 2017), the method behind Optimizely's and
//! Eppo's sequential engines.
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

/// The always-valid p-value min(1, 1/Λ) for estimate `diff` with standard error `se`.
pub fn always_valid_p(diff: f64, se: f64, tau: f64) -> f64 {
    if !super::positive(se) || !super::positive(tau) || !diff.is_finite() {
        return 1.0;
    }
    let (s2, t2) = (se * se, tau * tau);
    let log_lambda = 0.5 * (s2 / (s2 + t2)).ln() + diff * diff * t2 / (2.0 * s2 * (s2 + t2));
    (-log_lambda).exp().min(1.0)
}

/// The mixing standard deviation: the smallest effect worth detecting (`min_effect`, in
/// standard deviations) expressed on the estimate's scale.
pub fn mixture_sd(min_effect: f64, outcome_sd: f64) -> f64 {
    min_effect * outcome_sd
}
