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
    pub se: f64,
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
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    let p_value = (2.0 * dist.sf(t.abs())).min(1.0);
    let q = dist.inverse_cdf(0.975);
    Some(TestResult {
        statistic: t,
        p_value,
        diff,
        se,
        ci_low: diff - q * se,
        ci_high: diff + q * se,
        df: Some(df),
    })
}

/// Pooled two-proportion z test on 0/1 outcomes (as statsmodels' `proportions_ztest`), with a
/// Wald interval for the difference in proportions.
pub fn two_proportion_z(a: &Moments, b: &Moments) -> Option<TestResult> {
    if a.n() == 0 || b.n() == 0 {
        return None;
    }
    let (na, nb) = (a.n() as f64, b.n() as f64);
    let (pa, pb) = (a.sum() / na, b.sum() / nb);
    let pooled = (a.sum() + b.sum()) / (na + nb);
    let se0 = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    if !positive(se0) {
        return None;
    }
    let diff = pa - pb;
    let z = diff / se0;
    let n = normal();
    let se = (pa * (1.0 - pa) / na + pb * (1.0 - pb) / nb).sqrt();
    let q = n.inverse_cdf(0.975);
    Some(TestResult {
        statistic: z,
        p_value: (2.0 * n.sf(z.abs())).min(1.0),
        diff,
        se,
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
/// probability of superiority P(A > B) + ½P(A = B) minus ½.
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
    let nd = normal();
    let p_value = (2.0 * nd.sf(z)).clamp(0.0, 1.0);
    let diff = u1 / (n1 * n2) - 0.5;
    let se = s / (n1 * n2);
    let q = nd.inverse_cdf(0.975);
    Some(TestResult {
        statistic: u1,
        p_value,
        diff,
        se,
        ci_low: diff - q * se,
        ci_high: diff + q * se,
        df: None,
    })
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
