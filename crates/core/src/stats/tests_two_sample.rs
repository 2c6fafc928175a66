//! Two-sample tests. Convention: `a` is treatment, `b` is control, differences are a - b.

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

use super::{positive, Moments};

/// A two-sided test of "no difference", with a 95 % interval for the difference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TestResult {
    pub statistic: f64,
    pub p_value: f64,
    /// The estimated difference (treatment - control) on the metric's scale.
    pub diff: f64,
    /// The standard error behind the interval (the estimate's own, not the null's).
    pub se: f64,
    /// The standard error the statistic divides by: `diff / se_null` is the z (or t) the
    /// sequential designs use. Under the null for the proportion and rank tests.
    pub se_null: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// Degrees of freedom, for the t test.
    pub df: Option<f64>,
}

fn normal() -> Normal {
    Normal::new(0.0, 1.0).expect("standard normal")
}

/// Welch's unequal-variances t test (SciPy `ttest_ind(a, b, equal_var=False)`).
pub fn welch_t(a: &Moments, b: &Moments) -> Option<TestResult> {
    if a.n() < 2 || b.n() < 2 {
        return None;
    }
    let (va, vb) = (a.variance() / a.n() as f64, b.variance() / b.n() as f64);
    let se2 = va + vb;
    if !positive(se2) {
        return None;
    }
    let se = se2.sqrt();
    let diff = a.mean() - b.mean();
    let t = diff / se;
    let df = se2 * se2 / (va * va / (a.n() as f64 - 1.0) + vb * vb / (b.n() as f64 - 1.0));
    if !(t.is_finite() && positive(df)) {
        return None;
    }
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    let p_value = (2.0 * dist.sf(t.abs())).min(1.0);
    let q = dist.inverse_cdf(0.975);
    Some(TestResult {
        statistic: t,
        p_value,
        diff,
        se,
        se_null: se,
        ci_low: diff - q * se,
        ci_high: diff + q * se,
        df: Some(df),
    })
}

/// Pooled two-proportion z test (as statsmodels' `proportions_ztest`), on unit values in
/// [0, 1]: a 0/1 outcome per unit, or a unit's share of successful observations. The SE of
/// the statistic is the one under the null that both arms share one distribution: the
/// population variance of all unit values together, which for 0/1 values is p̄(1 − p̄).
/// The interval is Wald's, from each arm's own variance (p(1 − p)/n for 0/1 values).
pub fn two_proportion_z(a: &Moments, b: &Moments) -> Option<TestResult> {
    if a.n() == 0 || b.n() == 0 {
        return None;
    }
    let (na, nb) = (a.n() as f64, b.n() as f64);
    let mut all = *a;
    all.merge(b);
    let pooled_var = all.m2() / (na + nb);
    let se0 = (pooled_var * (1.0 / na + 1.0 / nb)).sqrt();
    if !positive(se0) {
        return None;
    }
    let diff = a.mean() - b.mean();
    let z = diff / se0;
    if !z.is_finite() {
        return None;
    }
    let n = normal();
    let se = (a.m2() / na / na + b.m2() / nb / nb).sqrt();
    let q = n.inverse_cdf(0.975);
    Some(TestResult {
        statistic: z,
        p_value: (2.0 * n.sf(z.abs())).min(1.0),
        diff,
        se,
        se_null: se0,
        ci_low: diff - q * se,
        ci_high: diff + q * se,
        df: None,
    })
}

/// What the rank test needs, computed in SQL: the sample sizes, the rank sum of treatment
/// (average ranks over both samples) and the tie term Σ(t³ - t) over groups of tied values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RankSums {
    pub n_a: u64,
    pub n_b: u64,
    pub rank_sum_a: f64,
    pub tie_term: f64,
}

/// Mann-Whitney U, normal approximation with tie and continuity correction (SciPy
/// `mannwhitneyu(a, b, method="asymptotic")`). `statistic` is U of `a`; `diff` is the
/// probability of superiority P(A > B) + ½P(A = B) minus ½, with its
/// Hanley–McNeil interval; `se_null` is the SE of that estimate under the null.
pub fn mann_whitney(r: &RankSums) -> Option<TestResult> {
    if r.n_a == 0 || r.n_b == 0 {
        return None;
    }
    let (n1, n2) = (r.n_a as f64, r.n_b as f64);
    let n = n1 + n2;
    let u1 = r.rank_sum_a - n1 * (n1 + 1.0) / 2.0;
    let u2 = n1 * n2 - u1;
    let mu = n1 * n2 / 2.0;
    let var = n1 * n2 / 12.0 * ((n + 1.0) - r.tie_term / (n * (n - 1.0)));
    if !positive(var) {
        return None;
    }
    let s = var.sqrt();
    let z = (u1.max(u2) - mu - 0.5) / s;
    if !z.is_finite() {
        return None;
    }
    let nd = normal();
    let p_value = (2.0 * nd.sf(z)).clamp(0.0, 1.0);
    let auc = u1 / (n1 * n2);
    let diff = auc - 0.5;
    let se = superiority_se(auc, n1, n2);
    let q = nd.inverse_cdf(0.975);
    Some(TestResult {
        statistic: u1,
        p_value,
        diff,
        se,
        se_null: s / (n1 * n2),
        ci_low: (diff - q * se).max(-0.5),
        ci_high: (diff + q * se).min(0.5),
        df: None,
    })
}

/// The standard error of an estimated P(A > B) = `a` (Hanley and McNeil 1982), from the
/// estimate itself rather than the null: [a(1−a) + (n₁−1)(Q₁−a²) + (n₂−1)(Q₂−a²)] / (n₁n₂)
/// with Q₁ = a/(2−a), Q₂ = 2a²/(1+a). At a = 0 or 1 it is 0 (complete separation).
fn superiority_se(a: f64, n1: f64, n2: f64) -> f64 {
    let q1 = a / (2.0 - a);
    let q2 = 2.0 * a * a / (1.0 + a);
    let v = (a * (1.0 - a) + (n1 - 1.0) * (q1 - a * a) + (n2 - 1.0) * (q2 - a * a)) / (n1 * n2);
    v.max(0.0).sqrt()
}

/// Chi-square goodness of fit of `observed` counts to `expected_shares` (SciPy `chisquare`).
/// Returns (statistic, p-value).
pub fn chi_square_gof(observed: &[f64], expected_shares: &[f64]) -> Option<(f64, f64)> {
    let total: f64 = observed.iter().sum();
    let share_total: f64 = expected_shares.iter().sum();
    if observed.len() < 2
        || observed.len() != expected_shares.len()
        || !positive(total)
        || !positive(share_total)
    {
        return None;
    }
    let stat: f64 = observed
        .iter()
        .zip(expected_shares)
        .map(|(o, s)| {
            let e = total * s / share_total;
            (o - e) * (o - e) / e
        })
        .sum();
    let p = ChiSquared::new((observed.len() - 1) as f64).ok()?.sf(stat);
    Some((stat, p))
}

/// Cohen's d with the pooled standard deviation: (mean a - mean b) / s_pooled.
pub fn cohens_d(a: &Moments, b: &Moments) -> Option<f64> {
    if a.n() < 2 || b.n() < 2 {
        return None;
    }
    let (na, nb) = (a.n() as f64, b.n() as f64);
    let pooled = (((na - 1.0) * a.variance() + (nb - 1.0) * b.variance()) / (na + nb - 2.0)).sqrt();
    (pooled > 0.0).then(|| (a.mean() - b.mean()) / pooled)
}
