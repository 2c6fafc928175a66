//! Discovery weights and the pure adaptive step that moves them.
//!
//! Order of operations, chosen so that both invariants hold for the *final* weights:
//! 1. suggested = conservative, with each significant feature scaled by `1 + ρ` (Spearman),
//!    normalised; non-significant features keep their conservative share;
//! 2. target = suggested × regime multipliers, normalised;
//! 3. final = current + λ·(target − current), with λ ≤ 1 the largest step that moves no weight
//!    by more than `max_daily_change × elapsed days` (elapsed capped at one day). Both
//!    `current` and `target` sum to 1, so `final` does too, with no renormalisation after the cap;
//! 4. final is rounded to 6 decimals by largest remainder, so the published values sum to
//!    exactly 1 (in millionths); the step keeps a 2e-6 margin so rounding cannot break the cap.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::weights::{Weights, ROUNDING_MARGIN};

/// What the analysis says about one feature, as far as the weights care.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureSignal {
    /// Spearman rank correlation with return.
    pub rho: f64,
    /// Its two-sided p-value.
    pub p: f64,
}

/// The inputs of one adaptive step.
#[derive(Debug, Clone)]
pub struct StepInput<'a> {
    pub conservative: &'a Weights,
    /// The last computed final weights and when they were computed.
    pub previous: Option<(&'a Weights, DateTime<Utc>)>,
    /// Feature → signal; `None` when the feature has too few pairs.
    pub signals: &'a BTreeMap<String, Option<FeatureSignal>>,
    /// Why the data is insufficient overall, if it is: the step falls back.
    pub insufficient: Option<String>,
    pub multipliers: Option<&'a BTreeMap<String, f64>>,
    pub max_daily_change: f64,
    /// Family-wise level; each feature is tested at `alpha / features` (Bonferroni).
    pub alpha: f64,
    pub now: DateTime<Utc>,
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub current: Weights,
    pub suggested: Weights,
    /// The final weights: what is stored and, where the stage allows, published.
    pub next: Weights,
    pub fallback: bool,
    pub reason: String,
    /// 1 − the smallest Bonferroni-adjusted p-value; `None` on fallback.
    pub confidence: Option<f64>,
    pub significant: Vec<String>,
}

fn normalised(raw: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    let sum: f64 = raw.values().sum();
    raw.iter().map(|(k, v)| (k.clone(), v / sum)).collect()
}

/// One adaptive step. Pure: time is `input.now`.
pub fn step(input: &StepInput) -> Step {
    let conservative = input.conservative;
    let current = match input.previous {
        Some((w, _)) if w.same_features(conservative) => w.clone(),
        _ => conservative.clone(),
    };
    let fallback = |reason: String| Step {
        current: current.clone(),
        suggested: conservative.clone(),
        next: conservative.clone(),
        fallback: true,
        reason,
        confidence: None,
        significant: Vec::new(),
    };
    if let Some(reason) = &input.insufficient {
        return fallback(reason.clone());
    }
    let k = conservative.map().len().max(1) as f64;
    let per_feature = input.alpha / k;
    let mut significant = Vec::new();
    let mut min_p = 1.0f64;
    let mut suggested = BTreeMap::new();
    for (f, c) in conservative.map() {
        let signal = input.signals.get(f).copied().flatten();
        let w = match signal {
            Some(s) if s.p.is_finite() && s.rho.is_finite() => {
                min_p = min_p.min(s.p);
                if s.p < per_feature {
                    significant.push(f.clone());
                    c * (1.0 + s.rho).max(0.0)
                } else {
                    *c
                }
            }
            _ => *c,
        };
        suggested.insert(f.clone(), w);
    }
    if suggested.values().sum::<f64>() <= 0.0 {
        return fallback("every weighted feature correlates at -1 with return".into());
    }
    let suggested = normalised(&suggested);
    let target = match input.multipliers {
        Some(m) => normalised(
            &suggested
                .iter()
                .map(|(f, w)| (f.clone(), w * m.get(f).copied().unwrap_or(1.0)))
                .collect(),
        ),
        None => suggested.clone(),
    };
    let elapsed_days = match input.previous {
        Some((_, at)) => {
            ((input.now - at).num_milliseconds() as f64 / 86_400_000.0).clamp(0.0, 1.0)
        }
        None => 1.0,
    };
    let allowance = (input.max_daily_change * elapsed_days - ROUNDING_MARGIN).max(0.0);
    let largest = target
        .iter()
        .map(|(f, t)| (t - current.map()[f]).abs())
        .fold(0.0f64, f64::max);
    let lambda = if largest <= allowance {
        1.0
    } else {
        allowance / largest
    };
    let next: BTreeMap<String, f64> = target
        .iter()
        .map(|(f, t)| {
            let c = current.map()[f];
            (f.clone(), (c + lambda * (t - c)).max(0.0))
        })
        .collect();
    let reason = if significant.is_empty() {
        format!(
            "no feature's Spearman correlation is significant at {:.4} (alpha {} / {} features); moving toward the conservative weights",
            per_feature, input.alpha, k
        )
    } else {
        format!(
            "significant at {:.4} (Spearman, alpha {} / {} features): {}",
            per_feature,
            input.alpha,
            k,
            significant.join(", ")
        )
    };
    Step {
        current,
        suggested: Weights::rounded(&suggested),
        next: Weights::rounded(&next),
        fallback: false,
        reason,
        confidence: Some(1.0 - (min_p * k).min(1.0)),
        significant,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    const FEATURES: [&str; 6] = [
        "catalyst",
        "options",
        "sentiment",
        "squeeze",
        "technical",
        "volume_momentum",
    ];

    fn conservative() -> Weights {
        Weights::rounded(
            &[0.15, 0.12, 0.15, 0.20, 0.13, 0.25]
                .iter()
                .zip(FEATURES)
                .map(|(w, f)| (f.to_owned(), *w))
                .collect(),
        )
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 6, 0, 0).unwrap()
    }

    fn total_micros(w: &Weights) -> i64 {
        w.micros().values().sum()
    }

    #[test]
    fn rounding_sums_to_exactly_one() {
        let raw: BTreeMap<String, f64> = [("a", 1.0), ("b", 1.0), ("c", 1.0)]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect();
        let w = Weights::rounded(&raw);
        assert_eq!(total_micros(&w), 1_000_000);
        assert_eq!(w.to_json(), r#"{"a":0.333334,"b":0.333333,"c":0.333333}"#);
        assert_eq!(Weights::from_json(&w.to_json()), Some(w));
    }

    #[test]
    fn insufficient_data_falls_back_to_conservative() {
        let c = conservative();
        let prev = Weights::rounded(&FEATURES.iter().map(|f| ((*f).to_owned(), 1.0)).collect());
        let s = step(&StepInput {
            conservative: &c,
            previous: Some((&prev, t0())),
            signals: &BTreeMap::new(),
            insufficient: Some("9 pairs, fewer than min_pairs 10".into()),
            multipliers: None,
            max_daily_change: 0.05,
            alpha: 0.05,
            now: t0() + Duration::days(1),
        });
        assert!(s.fallback);
        assert_eq!(s.next, c);
        assert_eq!(s.current, prev);
        assert_eq!(s.confidence, None);
    }

    #[test]
    fn regime_multipliers_shape_the_target() {
        let c = conservative();
        let signals = BTreeMap::new();
        let m: BTreeMap<String, f64> = [("squeeze".to_owned(), 0.5)].into_iter().collect();
        let s = step(&StepInput {
            conservative: &c,
            previous: None,
            signals: &signals,
            insufficient: None,
            multipliers: Some(&m),
            max_daily_change: 1.0,
            alpha: 0.05,
            now: t0(),
        });
        // squeeze 0.2 → 0.1, then everything is divided by 0.9.
        assert!((s.next.get("squeeze").unwrap() - 0.1 / 0.9).abs() < 2e-6);
        assert!((s.next.get("volume_momentum").unwrap() - 0.25 / 0.9).abs() < 2e-6);
        assert_eq!(total_micros(&s.next), 1_000_000);
    }

    fn signal() -> impl Strategy<Value = Option<FeatureSignal>> {
        prop_oneof![
            1 => Just(None),
            3 => (-1.0f64..1.0, prop_oneof![0.0f64..0.01, 0.0f64..1.0])
                .prop_map(|(rho, p)| Some(FeatureSignal { rho, p })),
        ]
    }

    proptest! {
        /// Whatever the data, regime and previous weights: the final weights are non-negative,
        /// sum to exactly 1 (in millionths), and no weight moves by more than the cap times the
        /// elapsed share of a day, also after the regime multipliers.
        #[test]
        fn final_weights_sum_to_one_and_respect_the_cap(
            prev in proptest::collection::vec(0.0f64..1.0, 6),
            signals in proptest::collection::vec(signal(), 6),
            multipliers in proptest::option::of(proptest::collection::vec(0.1f64..10.0, 6)),
            elapsed_minutes in 0i64..3 * 1440,
            cap in 0.001f64..0.3,
            days in 1usize..15,
        ) {
            let c = conservative();
            let mut previous = Weights::rounded(&FEATURES.iter().zip(&prev).map(|(f, w)| ((*f).to_owned(), *w)).collect());
            let signals: BTreeMap<String, Option<FeatureSignal>> = FEATURES.iter().zip(signals).map(|(f, s)| ((*f).to_owned(), s)).collect();
            let m: Option<BTreeMap<String, f64>> = multipliers.map(|m| FEATURES.iter().zip(m).map(|(f, v)| ((*f).to_owned(), v)).collect());
            let mut at = t0();
            for _ in 0..days {
                let now = at + Duration::minutes(elapsed_minutes);
                let s = step(&StepInput {
                    conservative: &c,
                    previous: Some((&previous, at)),
                    signals: &signals,
                    insufficient: None,
                    multipliers: m.as_ref(),
                    max_daily_change: cap,
                    alpha: 0.05,
                    now,
                });
                prop_assert_eq!(total_micros(&s.next), 1_000_000);
                let allowed = cap * (elapsed_minutes as f64 / 1440.0).min(1.0);
                for f in FEATURES {
                    let (a, b) = (previous.get(f).unwrap(), s.next.get(f).unwrap());
                    prop_assert!(b >= 0.0);
                    prop_assert!((b - a).abs() <= allowed + 1e-12, "{} moved {} > {}", f, (b - a).abs(), allowed);
                }
                previous = s.next;
                at = now;
            }
        }

        /// Features without a significant correlation never gain share against each other.
        #[test]
        fn only_significant_features_change_relative_weight(rho in -0.9f64..0.9, days in 1i64..40) {
            let c = conservative();
            let mut signals: BTreeMap<String, Option<FeatureSignal>> = FEATURES.iter().map(|f| ((*f).to_owned(), Some(FeatureSignal { rho: 0.3, p: 0.2 }))).collect();
            signals.insert("squeeze".into(), Some(FeatureSignal { rho, p: 1e-6 }));
            let mut w = c.clone();
            for d in 0..days {
                let s = step(&StepInput {
                    conservative: &c,
                    previous: Some((&w, t0() + Duration::days(d))),
                    signals: &signals,
                    insufficient: None,
                    multipliers: None,
                    max_daily_change: 0.05,
                    alpha: 0.05,
                    now: t0() + Duration::days(d + 1),
                });
                w = s.next;
            }
            let ratio = |a: &str, b: &str, w: &Weights| w.get(a).unwrap() / w.get(b).unwrap();
            prop_assert!((ratio("catalyst", "volume_momentum", &w) - 0.6).abs() < 1e-4);
            prop_assert!((ratio("options", "technical", &w) - 0.12 / 0.13).abs() < 1e-4);
            if rho > 0.01 {
                prop_assert!(w.get("squeeze").unwrap() > 0.2);
            }
        }
    }
}
