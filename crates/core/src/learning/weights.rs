//! Discovery weights and the pure adaptive step that moves them.
//!
//! Order of operations, chosen so that both invariants hold for the *final* weights:
//! 1. suggested = conservative, with each significant feature scaled by `1 + ρ` (Spearman),
//!    normalised; non-significant features keep their conservative share;
//! 2. target = suggested × regime multipliers, normalised;
//! 3. final = current + λ·(target − current), with λ ≤ 1 the largest step that keeps every
//!    weight within `max_daily_change` of each value it had in the last 24 hours (a rolling
//!    24 h: the weights in force 24 h ago and every computation since, see [`StepInput::recent`]),
//!    so no run, scheduled or manual, moves a weight by more than the cap within any 24 h.
//!    Both `current` and `target` sum to 1, so `final` does too, with no renormalisation after
//!    the cap;
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
    /// The weights the step starts from (the last computation's, or the published ones)
    /// and when they were computed.
    pub previous: Option<(&'a Weights, DateTime<Utc>)>,
    /// Final weights of earlier computations and when they were made: those after
    /// `now − 24 h` and the latest at or before it (in force at the window's start). The
    /// next weights stay within `max_daily_change` of each, and of `previous`.
    pub recent: &'a [(Weights, DateTime<Utc>)],
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
    let allowance = (input.max_daily_change - ROUNDING_MARGIN).max(0.0);
    let lambda = capped_step(&current, &target, &in_window(input), allowance);
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

/// The weights the cap compares with: those computed after `now − 24 h` and the one in
/// force when that window opened: the latest computed at or before it, or, with none, the
/// conservative weights (what was in force before the first computation).
fn in_window<'a>(input: &StepInput<'a>) -> Vec<&'a Weights> {
    let start = input.now - chrono::Duration::hours(24);
    let opening = input
        .recent
        .iter()
        .filter(|(_, at)| *at <= start)
        .max_by_key(|(_, at)| *at)
        .map_or(input.conservative, |(w, _)| w);
    input
        .recent
        .iter()
        .filter(|(_, at)| *at > start && *at <= input.now)
        .map(|(w, _)| w)
        .chain(std::iter::once(opening))
        .collect()
}

/// The largest λ in [0, 1] with `current + λ·(target − current)` within `allowance` of
/// `current` and of every weight set in `window`, feature by feature; 0 when there is none.
fn capped_step(
    current: &Weights,
    target: &BTreeMap<String, f64>,
    window: &[&Weights],
    allowance: f64,
) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for (f, t) in target {
        let c = current.map()[f];
        let d = t - c;
        let references = std::iter::once(c).chain(
            window
                .iter()
                .filter(|w| w.same_features(current))
                .filter_map(|w| w.get(f)),
        );
        for r in references {
            // |c + λd − r| ≤ allowance  ⇔  λd ∈ [r − c − allowance, r − c + allowance]
            let (a, b) = (r - c - allowance, r - c + allowance);
            if d.abs() < 1e-15 {
                if a > 0.0 || b < 0.0 {
                    return 0.0; // already outside this band and not moving: stay
                }
                continue;
            }
            let (x, y) = if d > 0.0 {
                (a / d, b / d)
            } else {
                (b / d, a / d)
            };
            lo = lo.max(x);
            hi = hi.min(y);
        }
    }
    if lo <= hi {
        hi
    } else {
        0.0
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
            recent: &[],
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
            recent: &[],
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
        /// Whatever the data, regime, previous weights and the times of the runs (scheduled or
        /// manual, minutes or days apart): the final weights are non-negative, sum to exactly
        /// 1 (in millionths), and no weight moves by more than the cap within any 24 hours,
        /// also after the regime multipliers.
        #[test]
        fn final_weights_sum_to_one_and_respect_the_rolling_cap(
            prev in proptest::collection::vec(0.0f64..1.0, 6),
            signals in proptest::collection::vec(signal(), 6),
            multipliers in proptest::option::of(proptest::collection::vec(0.1f64..10.0, 6)),
            gaps in proptest::collection::vec(0i64..2 * 1440, 1..12),
            cap in 0.001f64..0.3,
        ) {
            let c = conservative();
            let start = Weights::rounded(&FEATURES.iter().zip(&prev).map(|(f, w)| ((*f).to_owned(), *w)).collect());
            let signals: BTreeMap<String, Option<FeatureSignal>> = FEATURES.iter().zip(signals).map(|(f, s)| ((*f).to_owned(), s)).collect();
            let m: Option<BTreeMap<String, f64>> = multipliers.map(|m| FEATURES.iter().zip(m).map(|(f, v)| ((*f).to_owned(), v)).collect());
            let mut history = vec![(start, t0())];
            for gap in gaps {
                let (previous, at) = history.last().cloned().unwrap();
                let now = at + Duration::minutes(gap);
                let s = step(&StepInput {
                    conservative: &c,
                    previous: Some((&previous, at)),
                    recent: &history,
                    signals: &signals,
                    insufficient: None,
                    multipliers: m.as_ref(),
                    max_daily_change: cap,
                    alpha: 0.05,
                    now,
                });
                prop_assert_eq!(total_micros(&s.next), 1_000_000);
                history.push((s.next, now));
            }
            // Every pair of weights in force within 24 h of each other (the one in force at
            // a window's start included) differs by at most the cap.
            // Weights i is in force from its time until the next computation's; i and j
            // are both in force within some 24 h iff j was computed less than 24 h after i
            // stopped being in force.
            for i in 0..history.len() {
                for j in i + 1..history.len() {
                    if history[j].1 - history[i + 1].1 >= Duration::hours(24) {
                        continue;
                    }
                    for f in FEATURES {
                        let (x, y) = (history[i].0.get(f).unwrap(), history[j].0.get(f).unwrap());
                        prop_assert!(y >= 0.0);
                        prop_assert!((y - x).abs() <= cap + 1e-12, "{} moved {} > {} between runs {} and {}", f, (y - x).abs(), cap, i, j);
                    }
                }
            }
        }

        /// A manual run right after a scheduled one cannot move a weight a second cap.
        #[test]
        fn a_manual_run_after_a_scheduled_one_stays_within_the_cap(minutes in 1i64..1440) {
            let c = conservative();
            let signals: BTreeMap<String, Option<FeatureSignal>> = FEATURES.iter().map(|f| ((*f).to_owned(), Some(FeatureSignal { rho: 0.0, p: 0.5 }))).collect();
            let mut strong = signals.clone();
            strong.insert("squeeze".into(), Some(FeatureSignal { rho: 0.9, p: 1e-9 }));
            let run = |previous: &Weights, at, recent: &[(Weights, DateTime<Utc>)], now| step(&StepInput {
                conservative: &c, previous: Some((previous, at)), recent, signals: &strong,
                insufficient: None, multipliers: None, max_daily_change: 0.05, alpha: 0.05, now,
            }).next;
            let scheduled_at = t0() + Duration::days(1);
            let scheduled = run(&c, t0(), &[(c.clone(), t0())], scheduled_at);
            let moved = scheduled.get("squeeze").unwrap() - c.get("squeeze").unwrap();
            prop_assert!(moved > 0.049 && moved <= 0.05, "{}", moved);
            let manual_at = scheduled_at + Duration::minutes(minutes);
            let recent = [(c.clone(), t0()), (scheduled.clone(), scheduled_at)];
            let manual = run(&scheduled, scheduled_at, &recent, manual_at);
            prop_assert!(manual.get("squeeze").unwrap() - c.get("squeeze").unwrap() <= 0.05 + 1e-12);
            // A day after the scheduled run, the next cap is available.
            let later = scheduled_at + Duration::days(1) + Duration::minutes(1);
            let recent = [(c.clone(), t0()), (scheduled.clone(), scheduled_at), (manual.clone(), manual_at)];
            let next = run(&manual, manual_at, &recent, later);
            prop_assert!(next.get("squeeze").unwrap() > manual.get("squeeze").unwrap());
        }

        /// Features without a significant correlation never gain share against each other.
        #[test]
        fn only_significant_features_change_relative_weight(rho in -0.9f64..0.9, days in 1i64..40) {
            let c = conservative();
            let mut signals: BTreeMap<String, Option<FeatureSignal>> = FEATURES.iter().map(|f| ((*f).to_owned(), Some(FeatureSignal { rho: 0.3, p: 0.2 }))).collect();
            signals.insert("squeeze".into(), Some(FeatureSignal { rho, p: 1e-6 }));
            let mut w = c.clone();
            for d in 0..days {
                let recent = [(w.clone(), t0() + Duration::days(d))];
                let s = step(&StepInput {
                    conservative: &c,
                    previous: Some((&w, t0() + Duration::days(d))),
                    recent: &recent,
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
