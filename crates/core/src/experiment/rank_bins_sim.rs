//! Seeded simulation of the rank test on binned unit values against the exact rank test on
//! the values themselves, on the shapes services send: latency-like (log-normal), returns
//! with t(3) noise and outliers, Pareto tails, values near 1e9 with a small spread, small
//! integer counts (ties), unit means of several observations, small and large arms. The
//! binned p must stay within 1e-3 of the exact p, and decide at 0.05 as the exact one does
//! except within that distance of the threshold.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::aggregates::{rank_sums_of_bins, RankBins};
use crate::stats::{mann_whitney, RankSums};

fn normal(r: &mut ChaCha20Rng) -> f64 {
    let (u, v): (f64, f64) = (1.0 - r.random::<f64>(), r.random());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Exact rank sums: average ranks over both samples, ties by equality.
fn exact(t: &[f64], c: &[f64]) -> RankSums {
    let mut all: Vec<(f64, bool)> = t
        .iter()
        .map(|v| (*v, true))
        .chain(c.iter().map(|v| (*v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut i, mut rank_sum_a, mut tie_term) = (0usize, 0.0, 0.0);
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let size = (j - i) as f64;
        let avg = i as f64 + (size + 1.0) / 2.0;
        rank_sum_a += all[i..j].iter().filter(|x| x.1).count() as f64 * avg;
        tie_term += size * size * size - size;
        i = j;
    }
    RankSums {
        n_a: t.len() as u64,
        n_b: c.len() as u64,
        rank_sum_a,
        tie_term,
    }
}

/// The store's computation: bins anchored at the first unit value, counted per variant.
fn binned(t: &[f64], c: &[f64]) -> RankSums {
    let bins = RankBins::new(c.first().or(t.first()).copied().unwrap_or(0.0));
    let mut h: std::collections::BTreeMap<i64, (u64, u64)> = Default::default();
    for v in c {
        h.entry(bins.bin(*v)).or_default().0 += 1;
    }
    for v in t {
        h.entry(bins.bin(*v)).or_default().1 += 1;
    }
    rank_sums_of_bins(h.into_values())
}

type Shape = fn(&mut ChaCha20Rng, f64) -> f64;

#[test]
fn binned_rank_test_matches_the_exact_one() {
    let shapes: [(&str, Shape); 6] = [
        ("latency", |r, shift| {
            (3.9 + 0.8 * normal(r)).exp() * (1.0 + shift)
        }),
        ("returns", |r, shift| {
            let chi: f64 = (0..3).map(|_| normal(r).powi(2)).sum();
            if r.random::<f64>() < 0.01 {
                300.0
            } else {
                2.0 * normal(r) / (chi / 3.0).sqrt() + shift * 2.0
            }
        }),
        ("pareto", |r, shift| {
            (1.0 - r.random::<f64>()).powf(-1.0 / 1.2) * (1.0 + shift)
        }),
        ("huge", |r, shift| 1e9 + 1e3 * (normal(r) + shift)),
        ("counts", |r, shift| {
            f64::from(r.random_range(0..6u8)) + if r.random::<f64>() < shift { 1.0 } else { 0.0 }
        }),
        // A unit's value is the mean of 1 to 5 observations.
        ("unit means", |r, shift| {
            let k = r.random_range(1..=5);
            (0..k).map(|_| 10.0 + normal(r) + shift).sum::<f64>() / f64::from(k)
        }),
    ];
    let mut rng = ChaCha20Rng::seed_from_u64(20261130);
    let (mut worst, mut flips, mut runs) = (0.0f64, 0, 0);
    for (name, shape) in shapes {
        for &(n_t, n_c) in &[(20, 25), (300, 2700), (6000, 6000)] {
            for &shift in &[0.0, 0.02, 0.1] {
                let t: Vec<f64> = (0..n_t).map(|_| shape(&mut rng, shift)).collect();
                let c: Vec<f64> = (0..n_c).map(|_| shape(&mut rng, 0.0)).collect();
                let p_exact = mann_whitney(&exact(&t, &c)).unwrap().p_value;
                let p_binned = mann_whitney(&binned(&t, &c)).unwrap().p_value;
                let d = (p_exact - p_binned).abs();
                assert!(
                    d <= 1e-3,
                    "{name} {n_t}/{n_c} shift {shift}: binned p {p_binned} vs exact {p_exact}: {:?} {:?}",
                    exact(&t, &c), binned(&t, &c)
                );
                worst = worst.max(d);
                runs += 1;
                if (p_exact < 0.05) != (p_binned < 0.05) {
                    flips += 1;
                    assert!((p_exact - 0.05).abs() <= 1e-3);
                }
            }
        }
    }
    eprintln!("binned vs exact rank test: {runs} datasets, worst |Δp| {worst:.1e}, {flips} decisions flipped at 0.05");
}

#[test]
fn rank_bins_keep_order_and_ties() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    for anchor in [0.0, 513.7, -2.0, 1e9, -1e12] {
        let bins = RankBins::new(anchor);
        let mut v: Vec<f64> = (0..5000)
            .map(|_| {
                normal(&mut rng) * 10f64.powi(rng.random_range(-13..13))
                    + anchor * rng.random::<f64>()
            })
            .collect();
        v.extend([0.0, anchor, anchor, 1e12, -1e12]);
        v.sort_by(f64::total_cmp);
        for w in v.windows(2) {
            assert!(
                bins.bin(w[0]) <= bins.bin(w[1]),
                "anchor {anchor}: {} {}",
                w[0],
                w[1]
            );
            if w[0] == w[1] {
                assert_eq!(bins.bin(w[0]), bins.bin(w[1]));
            }
        }
    }
}
