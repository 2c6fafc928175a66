//! The learning module: discovery, thesis and outcome data; the pattern analysis; adaptive
//! discovery weights; and their publication as `<prefix>WEIGHTS` through the rollout.
//!
//! [`compute`] is pure (time is an argument); [`analyze`] reads its inputs from the store;
//! [`run`] is the scheduled pass: analyse, record the weights history row, publish.

pub mod patterns;
mod publish;
mod rows;
pub mod schedule;
mod weights;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use patterns::{FeatureAnalysis, FeatureStatus, Pair, Patterns, SuccessRate};
pub use publish::{publication, Publication};
pub use rows::{parse_jsonl, parse_object, Discovery, Kind, LearningIngest, Outcome, Rows, Thesis};
pub use weights::{step, FeatureSignal, Step, StepInput, Weights};

use crate::config::{AnalysisConfig, Rollout};
use crate::store::{LearningCounts, Store, StoreError, WeightsRecord, Writer};

/// What the analysis read from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    pub pairs: Vec<Pair>,
    pub counts: LearningCounts,
    pub regime: Option<String>,
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
    rollout.analysis.as_ref().ok_or_else(|| {
        crate::Error::InvalidInput(format!(
            "rollout {} has no `analysis:` block in the configuration",
            rollout.name
        ))
    })
}

/// Reads the window ending at `now` and computes the report; writes nothing.
pub async fn analyze(
    store: &dyn Store,
    rollout: &Rollout,
    cfg: &AnalysisConfig,
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let from = now - cfg.window.chrono();
    let inputs = Inputs {
        pairs: store
            .learning_pairs(from, now, cfg.match_window.get())
            .await?,
        counts: store.learning_counts(from, now).await?,
        regime: store.latest_regime(from, now).await?,
    };
    let mut previous = store.latest_weights(rollout.name.as_str()).await?;
    // Where the weights are live, the step starts from what is published, so that the
    // published flag moves at most `max_daily_change` a day too (e.g. at the first
    // publication after shadow, whose learning went on unpublished).
    let state = store.state(rollout.name.as_str()).await?;
    if let (Some(p), Some(s)) = (previous.as_mut(), state.as_ref()) {
        if crate::flags::applies_parameters(rollout, s) {
            p.final_weights = s
                .weights
                .as_deref()
                .and_then(Weights::from_json)
                .unwrap_or_else(|| cfg.conservative_weights.clone());
        }
    }
    Ok(compute(
        rollout.name.as_str(),
        cfg,
        &inputs,
        previous.as_ref(),
        now,
    ))
}

/// What a scheduled pass did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub report: Report,
    /// `published`, `unchanged` or `withheld`.
    pub publication: &'static str,
    pub detail: String,
    pub flags_version: Option<i64>,
}

/// The scheduled pass for one rollout: analyse, store the weights history row, and publish
/// the final weights if the stage allows (an [`crate::controller::Action::Publish`] commit).
pub async fn run(
    store: &dyn Store,
    rollout: &Rollout,
    writer: &Writer,
    now: DateTime<Utc>,
) -> Result<RunReport, crate::Error> {
    let cfg = config_of(rollout)?;
    let report = analyze(store, rollout, cfg, now).await?;
    let w = &report.weights;
    store
        .record_weights(&WeightsRecord {
            rollout: rollout.name.to_string(),
            computed_at: now,
            current: w.current.clone(),
            suggested: w.suggested.clone(),
            final_weights: w.next.clone(),
            fallback: w.fallback,
            reason: w.reason.clone(),
            confidence: w.confidence,
            sample_size: report.pairs as u64,
            regime: w.regime.clone(),
            inputs: serde_json::json!({
                "window_days": report.window_days,
                "match_window_days": report.match_window_days,
                "pairs": report.pairs,
                "counts": report.counts,
                "significant": w.significant,
                "features": report.features.iter().map(|(f, a)| (f.clone(), serde_json::json!({
                    "status": a.status, "n": a.n, "spearman": a.spearman, "spearman_p": a.spearman_p,
                }))).collect::<BTreeMap<_, _>>(),
            }),
        }, writer.epoch)
        .await?;
    const ATTEMPTS: usize = 5;
    for _ in 0..ATTEMPTS {
        let state = store.state(rollout.name.as_str()).await?;
        let (publication, detail, flags_version) =
            match publication(rollout, state.as_ref(), &w.next) {
                Publication::Unchanged => ("unchanged", "already published".to_owned(), None),
                Publication::Withheld(why) => ("withheld", why, None),
                Publication::Publish(t) => match store.commit(&t, writer, now).await {
                    Ok(c) => ("published", w.next.to_json(), Some(c.flags_version)),
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(e.into()),
                },
            };
        return Ok(RunReport {
            report,
            publication,
            detail,
            flags_version,
        });
    }
    Err(StoreError::Conflict {
        rollout: rollout.name.to_string(),
        expected: None,
    }
    .into())
}
