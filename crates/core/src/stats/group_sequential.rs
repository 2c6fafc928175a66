//! Group-sequential boundaries with Lan–DeMets alpha spending (O'Brien–Fleming type), for
//! looks at arbitrary information fractions, by recursive numerical integration
//! (Armitage, McPherson and Rowe 1969; Jennison and Turnbull, *Group Sequential Methods*,
//! ch. 19), and the repeated p-value of a look.
//!
//! Under the null the score statistics S_k = Z_k √t_k have independent normal increments
//! with variance t_k − t_{k−1}. The density of S_k on the continuation region is carried
//! from look to look on a Simpson grid; the two-sided boundary c_k of look k is the value
//! whose exit probability, given no earlier exit, equals the alpha spent at that look.
//! Checked against published boundaries and a Monte Carlo simulation in the tests and in
//! `scripts/reference_group_sequential.py`.

use statrs::distribution::{ContinuousCDF, Normal};

/// 1/√(2π).
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

fn pdf(x: f64) -> f64 {
    INV_SQRT_2PI * (-0.5 * x * x).exp()
}

/// Simpson grid points per look (odd). 41 points reproduce the 81-point boundaries of five
/// equal looks to 4e-6 and the published ones to their 3 decimals.
const GRID: usize = 41;
/// A boundary no statistic reaches: the alpha of a look that spends nothing.
pub const NO_BOUNDARY: f64 = 40.0;

fn normal() -> Normal {
    Normal::new(0.0, 1.0).expect("standard normal")
}

/// The Lan–DeMets O'Brien–Fleming-type spending function of a symmetric two-sided design
/// at total level `alpha`, as gsDesign (`sfLDOF`) and ldbounds apply it: each side spends
/// 2 − 2Φ(z_{1−α/4} / √t) (one-sided level α/2), so the total is twice that; all of
/// `alpha` at t ≥ 1.
pub fn obf_spending(alpha: f64, t: f64) -> f64 {
    if t.is_nan() || t <= 0.0 {
        return 0.0;
    }
    if t >= 1.0 {
        return alpha;
    }
    let n = normal();
    4.0 * n.sf(n.inverse_cdf(1.0 - alpha / 4.0) / t.sqrt())
}

/// Cumulative alpha spent by each look: the spending function at the look's fraction, and
/// everything at the last look when `final_look`.
fn cumulative(alpha: f64, fractions: &[f64], final_look: bool) -> Vec<f64> {
    let k = fractions.len();
    fractions
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            if final_look && i + 1 == k {
                alpha
            } else {
                obf_spending(alpha, t)
            }
        })
        .collect()
}

/// Fractions made usable: finite, positive and strictly increasing (a look without new
/// information gets a tiny increment, which spends its alpha on the same statistic).
fn clean(fractions: &[f64]) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::with_capacity(fractions.len());
    for &t in fractions {
        let t = if t.is_finite() && t > 0.0 { t } else { 1e-6 };
        let floor = out.last().map_or(1e-6, |p| p * (1.0 + 1e-4));
        out.push(t.max(floor));
    }
    out
}

/// The continuation density of S on a Simpson grid: points, weights × density.
struct Density {
    points: Vec<f64>,
    mass: Vec<f64>,
}

fn simpson_grid(half_width: f64) -> (Vec<f64>, Vec<f64>) {
    let h = 2.0 * half_width / (GRID - 1) as f64;
    let points = (0..GRID).map(|i| -half_width + i as f64 * h).collect();
    let weights = (0..GRID)
        .map(|i| {
            let w = if i == 0 || i == GRID - 1 {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            w * h / 3.0
        })
        .collect();
    (points, weights)
}

/// P(exit at a look with boundary `b` on the S scale | continuation density `d`), with
/// increment sd `sd`, and its derivative in `b`.
fn exit(d: &Density, b: f64, sd: f64, n: &Normal) -> (f64, f64) {
    let (mut p, mut dp) = (0.0, 0.0);
    for (&u, &m) in d.points.iter().zip(&d.mass) {
        let (lo, hi) = ((-b - u) / sd, (b - u) / sd);
        p += m * (n.cdf(lo) + n.sf(hi));
        dp -= m * (pdf(lo) + pdf(hi)) / sd;
    }
    (p, dp)
}

/// The boundary b (S scale) whose exit probability is `target`, by safeguarded Newton.
fn solve(d: &Density, target: f64, sd: f64, n: &Normal, max_b: f64) -> f64 {
    if target.is_nan() || target <= 0.0 {
        return max_b;
    }
    let (mut lo, mut hi) = (0.0, max_b);
    // Start from the boundary that would spend `target` with no earlier look.
    let total: f64 = d.mass.iter().sum();
    let start = n.inverse_cdf((1.0 - 0.5 * target / total.max(target)).clamp(0.5, 1.0 - 1e-16));
    let mut b = (start * (sd * sd + d.points.last().map_or(0.0, |p| p * p / 9.0)).sqrt())
        .clamp(1e-6, max_b);
    for _ in 0..60 {
        let (p, dp) = exit(d, b, sd, n);
        let err = p - target;
        if err.abs() <= 1e-10 * target {
            break;
        }
        if err > 0.0 {
            lo = b;
        } else {
            hi = b;
        }
        let newton = if dp < 0.0 { b - err / dp } else { f64::NAN };
        b = if newton.is_finite() && newton > lo && newton < hi {
            newton
        } else {
            0.5 * (lo + hi)
        };
        if hi - lo < 1e-12 {
            break;
        }
    }
    b
}

/// Two-sided boundaries on the Z scale, one per look at the information `fractions`
/// (relative to the planned total), spending `alpha` with the O'Brien–Fleming-type
/// function; the last look spends all that is left when `final_look`. `None` if `alpha`
/// is not in (0, 1) or there is no look.
pub fn boundaries(alpha: f64, fractions: &[f64], final_look: bool) -> Option<Vec<f64>> {
    if !(alpha > 0.0 && alpha < 1.0) || fractions.is_empty() {
        return None;
    }
    let t = clean(fractions);
    let spent = cumulative(alpha, &t, final_look);
    let n = normal();
    let mut out = Vec::with_capacity(t.len());
    // Look 1: the exact normal quantile.
    let first = spent[0];
    let c1 = if first > 0.0 {
        n.inverse_cdf(1.0 - first / 2.0).min(NO_BOUNDARY)
    } else {
        NO_BOUNDARY
    };
    out.push(c1);
    if t.len() == 1 {
        return Some(out);
    }
    let sd1 = t[0].sqrt();
    let (points, weights) = simpson_grid(c1 * sd1);
    let mass = points
        .iter()
        .zip(&weights)
        .map(|(&s, &w)| w * pdf(s / sd1) / sd1)
        .collect();
    let mut d = Density { points, mass };
    for k in 1..t.len() {
        let sd = (t[k] - t[k - 1]).sqrt();
        let target = (spent[k] - spent[k - 1]).max(0.0);
        let max_b = NO_BOUNDARY * t[k].sqrt();
        let b = solve(&d, target, sd, &n, max_b);
        out.push(b / t[k].sqrt());
        if k + 1 == t.len() {
            break;
        }
        let (points, weights) = simpson_grid(b);
        let mass = points
            .iter()
            .zip(&weights)
            .map(|(&s, &w)| {
                let f: f64 = d
                    .points
                    .iter()
                    .zip(&d.mass)
                    .map(|(&u, &m)| m * pdf((s - u) / sd))
                    .sum::<f64>()
                    / sd;
                w * f
            })
            .collect();
        d = Density { points, mass };
    }
    Some(out)
}

/// The repeated p-value of the last look: the smallest level at which the design, with the
/// same looks, would have stopped at that look, i.e. the `a` with c_k(a) = |z|. In the
/// variable q = Φ⁻¹(1 − a/2) the last boundary is nearly linear (c_k ≥ q, equal for one
/// look), so the root is found by the Illinois variant of regula falsi in a few boundary
/// computations. Never below the look's nominal p-value; 1 when |z| is below the boundary
/// of a design at level 1.
pub fn repeated_p(z: f64, fractions: &[f64], final_look: bool) -> Option<f64> {
    if !z.is_finite() || fractions.is_empty() {
        return None;
    }
    let n = normal();
    let z = z.abs().min(NO_BOUNDARY - 1.0);
    let level = |q: f64| 2.0 * n.sf(q);
    let f = |q: f64| -> Option<f64> {
        let b = boundaries(level(q).clamp(1e-300, 1.0 - 1e-12), fractions, final_look)?;
        Some(b.last().copied()? - z)
    };
    // c(q) - z is increasing in q; at q = z it is >= 0 (c >= q).
    let (mut lo, mut hi) = (1e-9, z);
    let (mut f_lo, mut f_hi) = (f(lo)?, f(hi)?);
    if f_lo >= 0.0 {
        return Some(1.0);
    }
    if f_hi <= 0.0 {
        return Some(level(hi));
    }
    let mut side = 0i8;
    for _ in 0..60 {
        let q = (lo * f_hi - hi * f_lo) / (f_hi - f_lo);
        let q = if q.is_finite() && q > lo && q < hi {
            q
        } else {
            0.5 * (lo + hi)
        };
        let fq = f(q)?;
        if fq.abs() < 1e-9 || hi - lo < 1e-9 {
            return Some(level(q));
        }
        if fq > 0.0 {
            hi = q;
            f_hi = fq;
            if side == 1 {
                f_lo *= 0.5;
            }
            side = 1;
        } else {
            lo = q;
            f_lo = fq;
            if side == -1 {
                f_hi *= 0.5;
            }
            side = -1;
        }
    }
    Some(level(0.5 * (lo + hi)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_look_is_the_fixed_test() {
        let b = boundaries(0.05, &[1.0], true).unwrap();
        assert!((b[0] - 1.959_963_985).abs() < 1e-6, "{b:?}");
    }

    /// Lan–DeMets O'Brien–Fleming-type spending, two-sided alpha 0.05 (0.025 a side), five
    /// equal looks: 4.877, 3.357, 2.680, 2.290, 2.031 (gsDesign `sfLDOF`, ldbounds). These
    /// boundaries spend exactly the spending function's alpha at each look, by SciPy's
    /// multivariate normal CDF and a 2,000,000-path Monte Carlo:
    /// `python3 scripts/reference_group_sequential.py`.
    #[test]
    fn five_equal_looks_match_the_published_boundaries() {
        let t = [0.2, 0.4, 0.6, 0.8, 1.0];
        let b = boundaries(0.05, &t, true).unwrap();
        for (got, want) in b.iter().zip([4.877, 3.357, 2.680, 2.290, 2.031]) {
            assert!((got - want).abs() < 6e-4, "{b:?}");
        }
    }

    #[test]
    fn repeated_p_inverts_the_boundary() {
        let t = [0.25, 0.5, 0.75, 1.0];
        let b = boundaries(0.01, &t, true).unwrap();
        let p = repeated_p(b[3], &t, true).unwrap();
        assert!((p / 0.01 - 1.0).abs() < 1e-6, "{p}");
        let p1 = repeated_p(b[1], &t[..2], false).unwrap();
        assert!((p1 / 0.01 - 1.0).abs() < 1e-6, "{p1}");
        let p2 = repeated_p(b[1] + 0.5, &t[..2], false).unwrap();
        assert!(p2 < 0.01);
        assert_eq!(repeated_p(0.0, &t, true), Some(1.0));
        assert_eq!(repeated_p(f64::NAN, &t, true), None);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        assert!(boundaries(0.05, &[], true).is_none());
        assert!(boundaries(f64::NAN, &[0.5], true).is_none());
        let b = boundaries(0.05, &[0.5, 0.5, f64::NAN, 2.0], true).unwrap();
        assert!(b.iter().all(|c| c.is_finite()), "{b:?}");
    }
}

#[cfg(test)]
mod timing {
    #[test]
    #[ignore]
    fn time_boundaries() {
        let t: Vec<f64> = (1..=14).map(|k| k as f64 / 14.0).collect();
        let s = std::time::Instant::now();
        for _ in 0..10 {
            super::boundaries(0.01, &t, true).unwrap();
        }
        println!("boundaries x10: {:?}", s.elapsed());
        let s = std::time::Instant::now();
        for _ in 0..10 {
            super::repeated_p(2.0, &t, true).unwrap();
        }
        println!("repeated_p x10: {:?}", s.elapsed());
    }
}
