//! Pattern analysis over (discovery features, trade return) pairs: per-feature correlations,
//! optimal thresholds, the profiles of the best and worst outcomes, and the success rate.
//! Pure; too little data is reported as `insufficient_data`, never as a number.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::stats::{pearson, spearman};

/// One discovery and the return of the trade it was paired with.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub features: BTreeMap<String, f64>,
    pub return_pct: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureStatus {
    Ok,
    InsufficientData,
}

/// The feature value that maximises the mean return of the discoveries at or above it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Threshold {
    pub threshold: f64,
    pub mean_return: f64,
    /// Pairs at or above the threshold.
    pub support: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureAnalysis {
    pub status: FeatureStatus,
    /// Pairs whose discovery has this feature (missing values are skipped, not invented).
    pub n: usize,
    pub pearson: Option<f64>,
    pub pearson_p: Option<f64>,
    pub spearman: Option<f64>,
    pub spearman_p: Option<f64>,
    pub optimal_threshold: Option<f64>,
    pub threshold: Option<Threshold>,
    /// Why the status is `insufficient_data`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Analyses one feature over `pairs`.
pub fn feature(
    name: &str,
    pairs: &[Pair],
    min_pairs: usize,
    min_support: usize,
) -> FeatureAnalysis {
    let (x, y): (Vec<f64>, Vec<f64>) = pairs
        .iter()
        .filter_map(|p| p.features.get(name).map(|v| (*v, p.return_pct)))
        .unzip();
    let n = x.len();
    let insufficient = |reason: String| FeatureAnalysis {
        status: FeatureStatus::InsufficientData,
        n,
        pearson: None,
        pearson_p: None,
        spearman: None,
        spearman_p: None,
        optimal_threshold: None,
        threshold: None,
        reason: Some(reason),
    };
    if n < min_pairs {
        return insufficient(format!("{n} pairs, fewer than min_pairs {min_pairs}"));
    }
    let (Some(p), Some(s)) = (pearson(&x, &y), spearman(&x, &y)) else {
        return insufficient(format!("{name} or the return is constant over {n} pairs"));
    };
    let threshold = optimal_threshold(&x, &y, min_support);
    FeatureAnalysis {
        status: FeatureStatus::Ok,
        n,
        pearson: Some(p.r),
        pearson_p: Some(p.p_value),
        spearman: Some(s.r),
        spearman_p: Some(s.p_value),
        optimal_threshold: threshold.map(|t| t.threshold),
        threshold,
        reason: None,
    }
}

/// Scans the distinct values of `x` from the top: for each, the mean of `y` over the pairs with
/// `x >= value`; the best mean with at least `min_support` pairs wins (ties: the higher value).
pub fn optimal_threshold(x: &[f64], y: &[f64], min_support: usize) -> Option<Threshold> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|a, b| x[*b].total_cmp(&x[*a]));
    let mut best: Option<Threshold> = None;
    let (mut sum, mut count) = (0.0, 0usize);
    let mut i = 0;
    while i < order.len() {
        let value = x[order[i]];
        while i < order.len() && x[order[i]] == value {
            sum += y[order[i]];
            count += 1;
            i += 1;
        }
        if count < min_support.max(1) {
            continue;
        }
        let mean = sum / count as f64;
        if best.is_none_or(|b| mean > b.mean_return) {
            best = Some(Threshold {
                threshold: value,
                mean_return: mean,
                support: count,
            });
        }
    }
    best
}

/// The mean features of a group of outcomes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub n: usize,
    pub mean_return: f64,
    pub min_return: f64,
    pub max_return: f64,
    /// Feature → mean over the group's pairs that have it.
    pub features: BTreeMap<String, f64>,
}

fn profile(group: &[&Pair], features: &[String]) -> Profile {
    let returns: Vec<f64> = group.iter().map(|p| p.return_pct).collect();
    let mut means = BTreeMap::new();
    for f in features {
        let v: Vec<f64> = group
            .iter()
            .filter_map(|p| p.features.get(f).copied())
            .collect();
        if !v.is_empty() {
            means.insert(f.clone(), v.iter().sum::<f64>() / v.len() as f64);
        }
    }
    Profile {
        n: group.len(),
        mean_return: returns.iter().sum::<f64>() / returns.len().max(1) as f64,
        min_return: returns.iter().copied().fold(f64::INFINITY, f64::min),
        max_return: returns.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        features: means,
    }
}

/// Success and failure patterns: the feature profiles of the top and bottom deciles of
/// returns (at least one pair each), next to the profile of all pairs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Patterns {
    pub success: Profile,
    pub failure: Profile,
    pub all: Profile,
}

/// `None` with fewer than `min_pairs` pairs.
pub fn patterns(pairs: &[Pair], features: &[String], min_pairs: usize) -> Option<Patterns> {
    if pairs.len() < min_pairs.max(1) {
        return None;
    }
    let mut sorted: Vec<&Pair> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.return_pct.total_cmp(&b.return_pct));
    let decile = sorted.len().div_ceil(10);
    Some(Patterns {
        failure: profile(&sorted[..decile], features),
        success: profile(&sorted[sorted.len() - decile..], features),
        all: profile(&sorted, features),
    })
}

/// The share of outcomes with return > 0 and its 95 % Wilson score interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SuccessRate {
    pub n: u64,
    pub successes: u64,
    pub rate: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
}

pub fn success_rate(n: u64, successes: u64) -> SuccessRate {
    if n == 0 || successes > n {
        return SuccessRate {
            n,
            successes,
            rate: None,
            ci_low: None,
            ci_high: None,
        };
    }
    let z = 1.959_963_984_540_054_f64;
    let (nf, p) = (n as f64, successes as f64 / n as f64);
    let denom = 1.0 + z * z / nf;
    let centre = (p + z * z / (2.0 * nf)) / denom;
    let half = z * (p * (1.0 - p) / nf + z * z / (4.0 * nf * nf)).sqrt() / denom;
    SuccessRate {
        n,
        successes,
        rate: Some(p),
        ci_low: Some((centre - half).max(0.0)),
        ci_high: Some((centre + half).min(1.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(f64, f64)]) -> Vec<Pair> {
        v.iter()
            .map(|(x, r)| Pair {
                features: [("squeeze".to_owned(), *x)].into_iter().collect(),
                return_pct: *r,
            })
            .collect()
    }

    #[test]
    fn nine_pairs_are_insufficient() {
        let p = pairs(&(0..9).map(|i| (i as f64, i as f64)).collect::<Vec<_>>());
        let f = feature("squeeze", &p, 10, 5);
        assert_eq!(f.status, FeatureStatus::InsufficientData);
        assert_eq!((f.n, f.pearson, f.spearman), (9, None, None));
        assert!(patterns(&p, &["squeeze".into()], 10).is_none());
        let ten = pairs(
            &(0..10)
                .map(|i| (i as f64, (i * i) as f64))
                .collect::<Vec<_>>(),
        );
        assert_eq!(feature("squeeze", &ten, 10, 5).status, FeatureStatus::Ok);
    }

    #[test]
    fn threshold_maximises_mean_with_support() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let y = [0.0, 0.0, 5.0, 1.0, 1.0, 100.0];
        let t = optimal_threshold(&x, &y, 1).unwrap();
        assert_eq!((t.threshold, t.support), (6.0, 1));
        let t = optimal_threshold(&x, &y, 4).unwrap();
        assert_eq!((t.threshold, t.support), (3.0, 4));
        assert!((t.mean_return - 107.0 / 4.0).abs() < 1e-12);
        assert!(optimal_threshold(&x, &y, 7).is_none());
    }

    #[test]
    fn deciles_and_wilson() {
        let p = pairs(&(0..20).map(|i| (i as f64, i as f64)).collect::<Vec<_>>());
        let pat = patterns(&p, &["squeeze".into()], 10).unwrap();
        assert_eq!(pat.success.n, 2);
        assert_eq!(pat.success.features["squeeze"], 18.5);
        assert_eq!(pat.failure.features["squeeze"], 0.5);
        // Wilson interval of 7 out of 10, as statsmodels proportion_confint(method="wilson")
        let s = success_rate(10, 7);
        assert!((s.ci_low.unwrap() - 0.396_778_147_461_145_4).abs() < 1e-9);
        assert!((s.ci_high.unwrap() - 0.892_208_732_593_698_9).abs() < 1e-9);
        assert_eq!(success_rate(0, 0).rate, None);
    }
}
