//! Pearson and Spearman correlation with their two-sided p-values, as SciPy's `pearsonr`
//! and `spearmanr` compute them (checked in `tests/it/learning.rs`).

use serde::Serialize;
use statrs::function::beta::checked_beta_reg;

/// A correlation coefficient, its two-sided p-value and the sample size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Correlation {
    pub r: f64,
    pub p_value: f64,
    pub n: usize,
}

/// Pearson's r; `None` with fewer than 3 pairs, unequal lengths, non-finite values or a
/// constant input. The p-value is the exact one under normality: with `df = n - 2`,
/// `p = I_{1-r²}(df/2, 1/2)`, equivalent to a t test with `df` degrees of freedom.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<Correlation> {
    let n = x.len();
    if n < 3 || y.len() != n || x.iter().chain(y).any(|v| !v.is_finite()) {
        return None;
    }
    // Scaled by the largest magnitude first, as SciPy does, so that sums of huge (finite)
    // values cannot overflow; r does not change under scaling.
    let scaled = |v: &[f64]| {
        let m = v.iter().fold(0.0f64, |m, a| m.max(a.abs()));
        v.iter()
            .map(|a| if m > 0.0 { a / m } else { *a })
            .collect::<Vec<_>>()
    };
    let (x, y) = (&scaled(x)[..], &scaled(y)[..]);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n as f64;
    let (mx, my) = (mean(x), mean(y));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if !(sxx > 0.0 && syy > 0.0) {
        return None;
    }
    let r = (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0);
    if !r.is_finite() {
        return None;
    }
    Some(Correlation {
        r,
        p_value: p_value(r, n)?,
        n,
    })
}

/// Spearman's rank correlation: Pearson's r on average ranks (ties share their mean rank),
/// with the same t-based p-value on `n - 2` degrees of freedom, as SciPy's `spearmanr`.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<Correlation> {
    if y.len() != x.len() || x.iter().chain(y).any(|v| !v.is_finite()) {
        return None;
    }
    pearson(&ranks(x), &ranks(y))
}

/// 1-based average ranks.
pub fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|a, b| v[*a].total_cmp(&v[*b]));
    let mut out = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for k in &order[i..=j] {
            out[*k] = rank;
        }
        i = j + 1;
    }
    out
}

fn p_value(r: f64, n: usize) -> Option<f64> {
    let df = (n - 2) as f64;
    let x = 1.0 - r * r;
    if x <= 0.0 {
        return Some(0.0);
    }
    checked_beta_reg(df / 2.0, 0.5, x)
        .ok()
        .map(|p| p.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_and_constant() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let c = pearson(&x, &[2.0, 4.0, 6.0, 8.0]).unwrap();
        assert!((c.r - 1.0).abs() < 1e-12 && c.p_value < 1e-12, "{c:?}");
        assert!(pearson(&x, &[1.0, 1.0, 1.0, 1.0]).is_none());
        assert!(pearson(&x[..2], &[1.0, 2.0]).is_none());
        assert!(pearson(&x, &[1.0, f64::NAN, 1.0, 2.0]).is_none());
    }

    #[test]
    fn huge_finite_values_do_not_overflow() {
        let c = pearson(&[1e308, -1e308, 5e307, 0.0], &[1.0, -1.0, 0.5, 0.0]).unwrap();
        assert!((c.r - 1.0).abs() < 1e-12, "{c:?}");
        let s = spearman(&[f64::MAX, 1.0, 2.0], &[3.0, 1.0, 2.0]).unwrap();
        assert!((s.r - 1.0).abs() < 1e-12, "{s:?}");
    }

    #[test]
    fn ties_get_average_ranks() {
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        let s = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5.0, 6.0, 7.0, 8.0, 7.0]).unwrap();
        assert!((s.r - 0.820_782_681_668_123_7).abs() < 1e-12, "{}", s.r);
    }
}
