//! The optional per-rollout `analysis:` block: how the learning module analyses discovery
//! outcomes and adapts the discovery weights. Raw shape (serde) and validated model.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::domain::StageDuration;
use crate::weights::Weights;

/// The plan's feature list.
pub const DEFAULT_FEATURES: &[&str] = &[
    "volume_momentum",
    "squeeze",
    "catalyst",
    "sentiment",
    "options",
    "technical",
];

/// The plan's conservative weights, for [`DEFAULT_FEATURES`].
pub const DEFAULT_CONSERVATIVE: &[(&str, f64)] = &[
    ("volume_momentum", 0.25),
    ("squeeze", 0.20),
    ("catalyst", 0.15),
    ("sentiment", 0.15),
    ("options", 0.12),
    ("technical", 0.13),
];

pub const DEFAULT_SCHEDULE: &str = "0 0 6 * * *";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnalysis {
    pub schedule: Option<String>,
    pub window: Option<StageDuration>,
    pub match_window: Option<StageDuration>,
    pub min_pairs: Option<u64>,
    pub min_support: Option<u64>,
    pub max_daily_change: Option<f64>,
    pub alpha: Option<f64>,
    pub features: Option<Vec<String>>,
    pub conservative_weights: Option<BTreeMap<String, f64>>,
    #[serde(default)]
    pub regimes: BTreeMap<String, BTreeMap<String, f64>>,
}

/// The validated `analysis:` block.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisConfig {
    /// Cron with seconds; when the daemon runs the analysis (default daily at 06:00 UTC).
    pub schedule: String,
    /// How far back discoveries and outcomes are read (default 90 days).
    pub window: StageDuration,
    /// A trade pairs with a discovery of its symbol if entered this long after it (default 3 days).
    pub match_window: StageDuration,
    /// Fewer pairs than this: `insufficient_data` (default 10).
    pub min_pairs: usize,
    /// The fewest discoveries above an optimal threshold (default 5).
    pub min_support: usize,
    /// The most a published weight moves per day (default 0.05).
    pub max_daily_change: f64,
    /// Family-wise significance level over all features (Bonferroni; default 0.05).
    pub alpha: f64,
    pub features: Vec<String>,
    /// The fallback weights; they sum to 1.
    pub conservative_weights: Weights,
    /// Regime name (from `market_conditions.regime`) → feature → multiplier.
    pub regimes: BTreeMap<String, BTreeMap<String, f64>>,
}

fn feature_name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Validates `raw`; errors are `(path below the block, message)`.
pub fn validate(raw: RawAnalysis) -> Result<AnalysisConfig, Vec<(String, String)>> {
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut err = |path: &str, msg: String| errors.push((path.to_owned(), msg));

    let schedule = raw.schedule.unwrap_or_else(|| DEFAULT_SCHEDULE.to_owned());
    if !super::cron::parses(&schedule) {
        err(
            "schedule",
            format!("invalid cron expression {schedule:?}: six fields are expected, seconds first (e.g. \"0 0 6 * * *\")"),
        );
    } else if super::cron::firing(&schedule) == Some(super::cron::Firing::Never) {
        err(
            "schedule",
            format!("schedule {schedule:?} never fires: the analysis would never run"),
        );
    }
    let day = StageDuration::parse("1d").expect("valid literal");
    let window = raw
        .window
        .unwrap_or_else(|| StageDuration::parse("90d").expect("valid literal"));
    let match_window = raw
        .match_window
        .unwrap_or_else(|| StageDuration::parse("3d").expect("valid literal"));
    if match_window > window {
        err(
            "match_window",
            format!("match_window {match_window} is longer than window {window}"),
        );
    }
    if window < day {
        err(
            "window",
            format!("window must be at least 1d, got {window}"),
        );
    }
    let min_pairs = raw.min_pairs.unwrap_or(10);
    if !(3..=1_000_000).contains(&min_pairs) {
        err(
            "min_pairs",
            format!("min_pairs must be in [3, 1000000], got {min_pairs}"),
        );
    }
    let min_support = raw.min_support.unwrap_or(5);
    if !(1..=1_000_000).contains(&min_support) {
        err(
            "min_support",
            format!("min_support must be in [1, 1000000], got {min_support}"),
        );
    }
    let max_daily_change = raw.max_daily_change.unwrap_or(0.05);
    if !(max_daily_change > 0.0 && max_daily_change <= 1.0) {
        err(
            "max_daily_change",
            format!("max_daily_change must be in (0, 1], got {max_daily_change}"),
        );
    }
    let alpha = raw.alpha.unwrap_or(0.05);
    if !(alpha > 0.0 && alpha < 0.5) {
        err("alpha", format!("alpha must be in (0, 0.5), got {alpha}"));
    }

    let default_features = raw.features.is_none();
    let features = raw
        .features
        .unwrap_or_else(|| DEFAULT_FEATURES.iter().map(|s| (*s).to_owned()).collect());
    if features.is_empty() {
        err("features", "at least one feature is needed".into());
    }
    for (i, f) in features.iter().enumerate() {
        if !feature_name_ok(f) {
            err(
                &format!("features[{i}]"),
                format!("feature {f:?} must be 1-64 characters of a-z, 0-9 and '_'"),
            );
        }
        if features[..i].contains(f) {
            err(
                &format!("features[{i}]"),
                format!("feature {f} is listed twice"),
            );
        }
    }

    let conservative = match raw.conservative_weights {
        Some(w) => w,
        None if default_features => DEFAULT_CONSERVATIVE
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect(),
        None => {
            err(
                "conservative_weights",
                "conservative_weights are required when `features` is not the default list".into(),
            );
            BTreeMap::new()
        }
    };
    for (k, v) in &conservative {
        if !features.contains(k) {
            err(
                &format!("conservative_weights.{k}"),
                format!("{k} is not one of the features"),
            );
        }
        if !(v.is_finite() && *v >= 0.0) {
            err(
                &format!("conservative_weights.{k}"),
                format!("a weight must be a finite number >= 0, got {v}"),
            );
        }
    }
    if !conservative.is_empty() {
        for f in &features {
            if !conservative.contains_key(f) {
                err(
                    "conservative_weights",
                    format!("feature {f} has no conservative weight"),
                );
            }
        }
        let sum: f64 = conservative.values().sum();
        if (sum - 1.0).abs() > 1e-6 {
            err(
                "conservative_weights",
                format!("conservative weights must sum to 1, they sum to {sum}"),
            );
        }
    }

    for (name, rules) in &raw.regimes {
        if name.is_empty() || name.len() > 64 {
            err(
                &format!("regimes.{name}"),
                "a regime name is 1-64 characters".into(),
            );
        }
        for (k, m) in rules {
            let p = format!("regimes.{name}.{k}");
            if !features.contains(k) {
                err(&p, format!("{k} is not one of the features"));
            }
            if !(m.is_finite() && *m > 0.0 && *m <= 10.0) {
                err(&p, format!("a multiplier must be in (0, 10], got {m}"));
            }
        }
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(AnalysisConfig {
        schedule,
        window,
        match_window,
        min_pairs: min_pairs as usize,
        min_support: min_support as usize,
        max_daily_change,
        alpha,
        features,
        conservative_weights: Weights::rounded(&conservative),
        regimes: raw.regimes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(yaml: &str) -> RawAnalysis {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn defaults_are_the_plan() {
        let a = validate(raw("{}")).unwrap();
        assert_eq!(a.features.len(), 6);
        assert_eq!(a.min_pairs, 10);
        assert_eq!(a.window.get().as_secs(), 90 * 86_400);
        assert_eq!(a.match_window.get().as_secs(), 3 * 86_400);
        assert_eq!(a.conservative_weights.get("volume_momentum"), Some(0.25));
        assert_eq!(
            a.conservative_weights.to_json(),
            r#"{"catalyst":0.15,"options":0.12,"sentiment":0.15,"squeeze":0.2,"technical":0.13,"volume_momentum":0.25}"#
        );
    }

    #[test]
    fn errors_name_the_field() {
        let e = validate(raw(
            "{ features: [a, b, a], conservative_weights: { a: 0.5, c: 0.7 }, max_daily_change: 0, regimes: { hot: { z: 2 } } }",
        ))
        .unwrap_err();
        let paths: Vec<&str> = e.iter().map(|(p, _)| p.as_str()).collect();
        for want in [
            "features[2]",
            "conservative_weights.c",
            "conservative_weights",
            "max_daily_change",
            "regimes.hot.z",
        ] {
            assert!(paths.contains(&want), "{want} missing from {e:?}");
        }
    }
}
