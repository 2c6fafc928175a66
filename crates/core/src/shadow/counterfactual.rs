//! The shadow stage's counterfactual: over the stage's closed trades, what would ranking
//! the discoveries by the learned weights have earned, against ranking them by the
//! conservative weights?
//!
//! Each closed trade is paired with its discovery (the learning module's rule: the latest
//! discovery of its symbol at or before the entry, within `match_window`). A discovery's
//! score under weights `w` is `Σ w[f] · features[f]` over the weights' features (a missing
//! feature adds 0). The trades are grouped by the UTC day of their discovery, the day a
//! scanner would have ranked them. On each day `d` with `n_d` trades, each ranking keeps its
//! top `k_d` (`⌈n_d / 10⌉`, the top decile, or `min(top_k, n_d)`; ties go to the earlier
//! trade), and `L_d`, `C_d` are the mean returns of the learned and the conservative
//! selection. **Paired** means paired by day: the difference is `D_d = L_d − C_d`, its
//! estimate the mean of `D_d` over the `m` days, its 95 % interval Student's t with `m − 1`
//! degrees of freedom (SciPy: `stats.ttest_1samp(D).confidence_interval(0.95)`). The learned
//! ranking is *significantly worse* when the whole interval is below 0.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::stats::{one_sample_t, Moments};
use crate::weights::Weights;

/// A closed trade of the window and its discovery.
#[derive(Debug, Clone, PartialEq)]
pub struct DatedPair {
    pub discovered_at: DateTime<Utc>,
    pub features: BTreeMap<String, f64>,
    pub return_pct: f64,
}

/// One day of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CounterfactualDay {
    pub day: NaiveDate,
    pub trades: usize,
    pub k: usize,
    pub learned_mean: f64,
    pub conservative_mean: f64,
    pub difference: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterfactualStatus {
    Ok,
    InsufficientData,
}

/// The comparison over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counterfactual {
    pub status: CounterfactualStatus,
    /// Why the status is `insufficient_data`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `top decile` or `top 10`.
    pub selection: String,
    pub trades: usize,
    pub days: usize,
    /// The learned weights compared (the last computation at or before the window's end).
    pub learned_weights: Option<Weights>,
    pub learned_computed_at: Option<DateTime<Utc>>,
    pub conservative_weights: Weights,
    /// Mean over the days of each ranking's top-k mean return.
    pub learned_top_mean: Option<f64>,
    pub conservative_top_mean: Option<f64>,
    /// Mean over the days of `L_d − C_d` and its 95 % t interval (m − 1 df).
    pub difference: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub df: Option<u64>,
    /// The interval lies entirely below 0.
    pub significantly_worse: bool,
    /// The interval lies entirely above 0.
    pub significantly_better: bool,
    pub daily: Vec<CounterfactualDay>,
}

/// A discovery's score under `w`.
pub fn score(w: &Weights, features: &BTreeMap<String, f64>) -> f64 {
    w.map()
        .iter()
        .map(|(f, wf)| wf * features.get(f).copied().unwrap_or(0.0))
        .sum()
}

/// The mean return of the top `k` of `trades` (indices into `pairs`) by `w`.
fn top_mean(pairs: &[DatedPair], trades: &[usize], w: &Weights, k: usize) -> f64 {
    let mut ranked: Vec<(f64, usize)> = trades
        .iter()
        .map(|&i| (score(w, &pairs[i].features), i))
        .collect();
    // Highest score first; ties to the earlier trade (the input order).
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let top = &ranked[..k.min(ranked.len())];
    top.iter().map(|(_, i)| pairs[*i].return_pct).sum::<f64>() / top.len() as f64
}

/// Compares the rankings over `pairs` (in trade order: entry time, then insertion).
pub fn compare(
    pairs: &[DatedPair],
    learned: Option<(&Weights, DateTime<Utc>)>,
    conservative: &Weights,
    top_k: Option<u32>,
) -> Counterfactual {
    let selection = match top_k {
        Some(k) => format!("top {k}"),
        None => "top decile".to_owned(),
    };
    let mut by_day: BTreeMap<NaiveDate, Vec<usize>> = BTreeMap::new();
    for (i, p) in pairs.iter().enumerate() {
        by_day
            .entry(p.discovered_at.date_naive())
            .or_default()
            .push(i);
    }
    let mut out = Counterfactual {
        status: CounterfactualStatus::InsufficientData,
        reason: None,
        selection,
        trades: pairs.len(),
        days: by_day.len(),
        learned_weights: learned.map(|(w, _)| w.clone()),
        learned_computed_at: learned.map(|(_, t)| t),
        conservative_weights: conservative.clone(),
        learned_top_mean: None,
        conservative_top_mean: None,
        difference: None,
        ci_low: None,
        ci_high: None,
        df: None,
        significantly_worse: false,
        significantly_better: false,
        daily: Vec::new(),
    };
    let Some((learned, _)) = learned else {
        out.reason = Some("no learned weights computed yet: run the learning analysis".into());
        return out;
    };
    for (day, trades) in &by_day {
        let n = trades.len();
        let k = match top_k {
            Some(k) => (k as usize).min(n),
            None => n.div_ceil(10),
        };
        let l = top_mean(pairs, trades, learned, k);
        let c = top_mean(pairs, trades, conservative, k);
        out.daily.push(CounterfactualDay {
            day: *day,
            trades: n,
            k,
            learned_mean: l,
            conservative_mean: c,
            difference: l - c,
        });
    }
    let m = out.daily.len();
    if m < 2 {
        out.reason = Some(format!(
            "{m} day(s) with closed, paired trades: the interval needs at least 2"
        ));
        return out;
    }
    let mean = |f: fn(&CounterfactualDay) -> f64| out.daily.iter().map(f).sum::<f64>() / m as f64;
    out.learned_top_mean = Some(mean(|d| d.learned_mean));
    out.conservative_top_mean = Some(mean(|d| d.conservative_mean));
    let diffs: Vec<f64> = out.daily.iter().map(|d| d.difference).collect();
    let t = one_sample_t(&Moments::from_values(&diffs));
    out.difference = Some(t.mean);
    out.ci_low = Some(t.ci_low);
    out.ci_high = Some(t.ci_high);
    out.df = Some(m as u64 - 1);
    out.significantly_worse = t.ci_high < 0.0;
    out.significantly_better = t.ci_low > 0.0;
    out.status = CounterfactualStatus::Ok;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn w(pairs: &[(&str, f64)]) -> Weights {
        Weights::rounded(&pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect())
    }

    fn pair(day: u32, a: f64, b: f64, ret: f64) -> DatedPair {
        DatedPair {
            discovered_at: Utc.with_ymd_and_hms(2026, 1, day, 15, 0, 0).unwrap(),
            features: [("a".to_string(), a), ("b".to_string(), b)].into(),
            return_pct: ret,
        }
    }

    #[test]
    fn ranks_per_day_and_pairs_the_days() {
        let learned = w(&[("a", 1.0), ("b", 0.0)]);
        let conservative = w(&[("a", 0.0), ("b", 1.0)]);
        // Day 1: learned picks the trade with a=0.9 (return 5), conservative b=0.9 (return -1).
        // Day 2: learned picks 3, conservative 1.
        let pairs = vec![
            pair(1, 0.9, 0.1, 5.0),
            pair(1, 0.1, 0.9, -1.0),
            pair(2, 0.8, 0.2, 3.0),
            pair(2, 0.2, 0.8, 1.0),
        ];
        let at = Utc.with_ymd_and_hms(2026, 1, 3, 0, 0, 0).unwrap();
        let c = compare(&pairs, Some((&learned, at)), &conservative, Some(1));
        assert_eq!(c.status, CounterfactualStatus::Ok);
        assert_eq!(c.daily.len(), 2);
        assert_eq!(c.daily[0].difference, 6.0);
        assert_eq!(c.daily[1].difference, 2.0);
        assert_eq!(c.difference, Some(4.0));
        // t(0.975, 1) = 12.7062...; sd of {6, 2} = 2.8284, se = 2.
        let half = 12.706_204_736_174_7 * 2.0;
        assert!((c.ci_high.unwrap() - (4.0 + half)).abs() < 1e-6);
        assert!(!c.significantly_worse && !c.significantly_better);
        // Without learned weights, or with one day: insufficient data, no numbers.
        let none = compare(&pairs, None, &conservative, None);
        assert_eq!(none.status, CounterfactualStatus::InsufficientData);
        let one = compare(&pairs[..2], Some((&learned, at)), &conservative, None);
        assert_eq!(one.status, CounterfactualStatus::InsufficientData);
        assert_eq!(one.difference, None);
    }
}
