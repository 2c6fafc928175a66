//! The learning module: discovery, thesis and outcome data; the pattern analysis; adaptive
//! discovery weights; and their publication as `<prefix>WEIGHTS` through the rollout.
//!
//! Pure: [`compute`] takes its inputs and the time as arguments. Reading the inputs from the
//! store and the scheduled pass (analyse, record, publish) are the application layer's.

pub mod patterns;
mod publish;
mod rows;
mod weights;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use crate::weights::Weights;
pub use patterns::{FeatureAnalysis, FeatureStatus, Pair, Patterns, SuccessRate};
pub use publish::{publication, Publication};
pub use rows::{parse_jsonl, parse_object, Discovery, Kind, LearningIngest, Outcome, Rows, Thesis};
pub use weights::{step, FeatureSignal, Step, StepInput};

use crate::config::{AnalysisConfig, Rollout};
use crate::records::{LearningCounts, WeightsRecord};

/// What the analysis read from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    pub pairs: Vec<Pair>,
    pub counts: LearningCounts,
    pub regime: Option<String>,
    /// Final weights of the computations of the last 24 h and the latest before them, with
    /// their times: the rolling daily cap keeps the next weights within `max_daily_change`
    /// of each (see [`step`]); with none before the window, of the conservative weights.
    pub recent: Vec<(Weights, DateTime<Utc>)>,
}

/// The weights part of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightsView {
    /// The learner's weights before this computation (the last final weights).
    pub current: Weights,
    /// Where the data points (before the regime and the per-day cap).
    pub suggested: Weights,
    /// The final weights of this computation: current moved toward suggested × regime.
    pub next: Weights,
    pub fallback: bool,
    pub reason: String,
    pub confidence: Option<f64>,
    pub significant: Vec<String>,
    pub regime: Option<String>,
    pub multipliers: Option<BTreeMap<String, f64>>,
}

/// `rollout learning analyze --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub rollout: String,
    pub computed_at: DateTime<Utc>,
    pub window_days: f64,
    pub match_window_days: f64,
    pub pairs: usize,
    /// Share of outcomes closed in the window with return > 0; `null` without outcomes.
    pub success_rate: Option<f64>,
    pub success: SuccessRate,
    pub counts: LearningCounts,
    pub features: BTreeMap<String, FeatureAnalysis>,
    /// Feature profiles of the top and bottom deciles of paired returns.
    pub patterns: Option<Patterns>,
    pub weights: WeightsView,
}

fn days(d: std::time::Duration) -> f64 {
    d.as_secs_f64() / 86_400.0
}

/// The analysis and the next weights, from `inputs` and the last computation. Pure.
pub fn compute(
    rollout: &str,
    cfg: &AnalysisConfig,
    inputs: &Inputs,
    previous: Option<&WeightsRecord>,
    now: DateTime<Utc>,
) -> Report {
    let features: BTreeMap<String, FeatureAnalysis> = cfg
        .features
        .iter()
        .map(|f| {
            (
                f.clone(),
                patterns::feature(f, &inputs.pairs, cfg.min_pairs, cfg.min_support),
            )
        })
        .collect();
    let signals: BTreeMap<String, Option<FeatureSignal>> = features
        .iter()
        .map(|(f, a)| {
            let s = match (a.status, a.spearman, a.spearman_p) {
                (FeatureStatus::Ok, Some(rho), Some(p)) => Some(FeatureSignal { rho, p }),
                _ => None,
            };
            (f.clone(), s)
        })
        .collect();
    let n = inputs.pairs.len();
    let insufficient = if n < cfg.min_pairs {
        Some(format!(
            "insufficient data: {n} pairs, fewer than min_pairs {}",
            cfg.min_pairs
        ))
    } else if signals.values().all(Option::is_none) {
        Some("insufficient data: no feature has enough varying pairs".to_owned())
    } else {
        None
    };
    let multipliers = inputs
        .regime
        .as_ref()
        .and_then(|r| cfg.regimes.get(r))
        .cloned();
    let s = step(&StepInput {
        conservative: &cfg.conservative_weights,
        previous: previous.map(|p| (&p.final_weights, p.computed_at)),
        recent: &inputs.recent,
        signals: &signals,
        insufficient,
        multipliers: multipliers.as_ref(),
        max_daily_change: cfg.max_daily_change,
        alpha: cfg.alpha,
        now,
    });
    let success = patterns::success_rate(inputs.counts.outcomes, inputs.counts.positive_outcomes);
    Report {
        rollout: rollout.to_owned(),
        computed_at: now,
        window_days: days(cfg.window.get()),
        match_window_days: days(cfg.match_window.get()),
        pairs: n,
        success_rate: success.rate,
        success,
        counts: inputs.counts,
        features,
        patterns: patterns::patterns(&inputs.pairs, &cfg.features, cfg.min_pairs),
        weights: WeightsView {
            current: s.current,
            suggested: s.suggested,
            next: s.next,
            fallback: s.fallback,
            reason: s.reason,
            confidence: s.confidence,
            significant: s.significant,
            multipliers: if s.fallback { None } else { multipliers },
            regime: inputs.regime.clone(),
        },
    }
}

/// The rollout's `analysis:` block, or an error naming the rollout.
pub fn config_of(rollout: &Rollout) -> Result<&AnalysisConfig, crate::Error> {
    rollout
        .analysis
        .as_ref()
        .ok_or_else(|| crate::Error::NoAnalysis(rollout.name.to_string()))
}

impl Report {
    /// The weights-history row that records this computation.
    pub fn record(&self, rollout: &str, now: DateTime<Utc>) -> WeightsRecord {
        let w = &self.weights;
        WeightsRecord {
            rollout: rollout.to_owned(),
            computed_at: now,
            current: w.current.clone(),
            suggested: w.suggested.clone(),
            final_weights: w.next.clone(),
            fallback: w.fallback,
            reason: w.reason.clone(),
            confidence: w.confidence,
            sample_size: self.pairs as u64,
            regime: w.regime.clone(),
            inputs: serde_json::json!({
                "window_days": self.window_days,
                "match_window_days": self.match_window_days,
                "pairs": self.pairs,
                "counts": self.counts,
                "significant": w.significant,
                "features": self.features.iter().map(|(f, a)| (f.clone(), serde_json::json!({
                    "status": a.status, "n": a.n, "spearman": a.spearman, "spearman_p": a.spearman_p,
                }))).collect::<BTreeMap<_, _>>(),
                // The whole analysis, which `market-insights` serves until the next run.
                "report": serde_json::to_value(self).unwrap_or_default(),
            }),
        }
    }
}

/// The weights the step starts from: the latest computation, except where the weights are
/// live — there it starts from what is published, so that the published flag moves at most
/// `max_daily_change` a day too (e.g. at the first publication after shadow, whose learning
/// went on unpublished).
pub fn starting_point(
    rollout: &Rollout,
    cfg: &AnalysisConfig,
    mut previous: Option<WeightsRecord>,
    state: Option<&crate::controller::RolloutState>,
) -> Option<WeightsRecord> {
    if let (Some(p), Some(s)) = (previous.as_mut(), state) {
        if crate::controller::flags::applies_parameters(rollout, s) {
            p.final_weights = s
                .weights
                .clone()
                .unwrap_or_else(|| cfg.conservative_weights.clone());
        }
    }
    previous
}

/// What the rolling daily cap compares with ([`Inputs::recent`]), from `records`, the
/// computations of the last 24 h and the latest before them. All of them, except where the
/// weights are live but nothing learned is published yet (the first stage that applies
/// parameters, after shadow): the computations from before that stage were never in force,
/// the conservative weights were, so the first publication may move the cap from them.
pub fn cap_references(
    rollout: &Rollout,
    state: Option<&crate::controller::RolloutState>,
    records: Vec<WeightsRecord>,
) -> Vec<(Weights, DateTime<Utc>)> {
    let since = state
        .filter(|s| s.weights.is_none() && crate::controller::flags::applies_parameters(rollout, s))
        .map(|s| s.stage_entered_at);
    records
        .into_iter()
        .filter(|r| since.is_none_or(|t| r.computed_at >= t))
        .map(|r| (r.final_weights, r.computed_at))
        .collect()
}
