//! The learning module's use cases: which rollout learns, its analysis, its weights, the
//! scheduled pass, and what a discovery pipeline should apply now.

use chrono::{DateTime, Utc};
use rollout_core::config::Rollout;
use rollout_core::learning::{config_of, Report, Weights};
use rollout_store::Writer;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::learning::RunReport;
use crate::Service;

/// The weights of a rollout: the latest computation, what is published, the conservative ones.
#[derive(Debug, Serialize)]
pub struct WeightsView {
    pub rollout: String,
    pub computed_at: Option<DateTime<Utc>>,
    pub current: Option<Weights>,
    pub suggested: Option<Weights>,
    pub published: Option<Weights>,
    pub conservative: Weights,
    pub fallback: Option<bool>,
    pub reason: Option<String>,
    pub confidence: Option<f64>,
    pub sample_size: Option<u64>,
    pub regime: Option<String>,
    /// The `<prefix>WEIGHTS` flag as stored (absent until the daemon writes it).
    pub flag: std::collections::BTreeMap<String, Option<String>>,
    #[serde(skip)]
    pub key: String,
    #[serde(skip)]
    pub published_text: Option<String>,
}

/// What a discovery pipeline should apply now.
#[derive(Debug, Serialize)]
pub struct DiscoveryParameters {
    pub status: &'static str,
    pub rollout: String,
    /// The `<prefix>WEIGHTS` flag: learned weights only where the stage applies parameters,
    /// the conservative weights otherwise.
    pub optimized_weights: serde_json::Value,
    /// Whether those are learned weights (false: the conservative ones).
    pub learned: bool,
    pub confidence: Option<f64>,
    pub market_regime: Option<String>,
    pub sample_size: u64,
    pub fallback: bool,
    pub reason: Option<String>,
    pub last_updated: Option<DateTime<Utc>>,
}

impl Service {
    /// The named rollout if it learns, or the only rollout with an `analysis:` block.
    pub fn learning_rollout(&self, name: Option<&str>) -> Result<Rollout> {
        if let Some(name) = name {
            let r = self.rollout(name)?;
            config_of(&r)?;
            return Ok(r);
        }
        let config = self.config();
        let with: Vec<&Rollout> = config
            .rollouts
            .iter()
            .filter(|r| r.analysis.is_some())
            .collect();
        match with.as_slice() {
            [r] => Ok((*r).clone()),
            [] => Err(Error::NotFound(
                "no rollout has an `analysis:` block in the configuration".into(),
            )),
            many => Err(Error::InvalidInput(format!(
                "several rollouts have an `analysis:` block ({}); name one",
                many.iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// The pattern analysis and the weights the next run would compute; writes nothing.
    pub async fn learning_analyze(&self, name: Option<&str>) -> Result<Report> {
        let r = self.learning_rollout(name)?;
        let cfg = config_of(&r)?;
        Ok(crate::learning::analyze(self.store(), &r, cfg, self.now()).await?)
    }

    /// The analysis of the latest stored run (the scheduled pass, or `rollout learning
    /// run`), as it was computed then: what `GET /learning/intelligence/market-insights`
    /// serves. Nothing is computed here, so requests cost one read whatever the data.
    pub async fn learning_insights(&self, name: Option<&str>) -> Result<serde_json::Value> {
        let r = self.learning_rollout(name)?;
        let latest = self.store().latest_weights(r.name.as_str()).await?;
        let schedule = "the daemon runs it on the `analysis.schedule` of the configuration, or run `rollout learning run`";
        match latest {
            None => Err(Error::NotFound(format!(
                "no analysis of rollout {:?} has run yet: {schedule}",
                r.name.as_str()
            ))),
            Some(l) => l.inputs.get("report").cloned().ok_or_else(|| {
                Error::NotFound(format!(
                    "the latest analysis of rollout {:?} ({}) was stored without its report (by an older version); the next run stores one: {schedule}",
                    r.name.as_str(),
                    l.computed_at.to_rfc3339()
                ))
            }),
        }
    }

    /// The scheduled pass, now: analyse, record the weights history, publish if allowed.
    pub async fn learning_run(&self, name: Option<&str>, writer: &Writer) -> Result<RunReport> {
        let r = self.learning_rollout(name)?;
        crate::learning::run(self.store(), &r, writer, self.now()).await
    }

    /// The latest computed, the published and the conservative weights.
    pub async fn learning_weights(&self, name: Option<&str>) -> Result<WeightsView> {
        let r = self.learning_rollout(name)?;
        let cfg = config_of(&r)?;
        let latest = self.store().latest_weights(r.name.as_str()).await?;
        let flags = self.store().rollout_flags(r.name.as_str()).await?;
        let key = r.flag_prefix.key("WEIGHTS");
        let published_text = flags.get(&key).cloned();
        Ok(WeightsView {
            rollout: r.name.to_string(),
            computed_at: latest.as_ref().map(|l| l.computed_at),
            current: latest.as_ref().map(|l| l.final_weights.clone()),
            suggested: latest.as_ref().map(|l| l.suggested.clone()),
            published: published_text.as_deref().and_then(Weights::from_json),
            conservative: cfg.conservative_weights.clone(),
            fallback: latest.as_ref().map(|l| l.fallback),
            reason: latest.as_ref().map(|l| l.reason.clone()),
            confidence: latest.as_ref().and_then(|l| l.confidence),
            sample_size: latest.as_ref().map(|l| l.sample_size),
            regime: latest.as_ref().and_then(|l| l.regime.clone()),
            flag: [(key.clone(), published_text.clone())]
                .into_iter()
                .collect(),
            key,
            published_text,
        })
    }

    /// The weights a discovery pipeline should apply now, with the latest analysis' context.
    pub async fn discovery_parameters(&self, name: Option<&str>) -> Result<DiscoveryParameters> {
        let r = self.learning_rollout(name)?;
        let name = r.name.as_str();
        let key = r.flag_prefix.key("WEIGHTS");
        let state = self.store().state(name).await?;
        let conservative = config_of(&r)?.conservative_weights.to_json();
        let weights = self
            .store()
            .rollout_flags(name)
            .await?
            .remove(&key)
            .unwrap_or(conservative.clone());
        let last = self.store().latest_weights(name).await?;
        Ok(DiscoveryParameters {
            status: "success",
            rollout: name.to_owned(),
            optimized_weights: serde_json::from_str(&weights).unwrap_or(serde_json::Value::Null),
            learned: weights != conservative && state.is_some_and(|st| st.weights.is_some()),
            confidence: last.as_ref().and_then(|l| l.confidence),
            market_regime: last.as_ref().and_then(|l| l.regime.clone()),
            sample_size: last.as_ref().map_or(0, |l| l.sample_size),
            fallback: last.as_ref().is_none_or(|l| l.fallback),
            reason: last.as_ref().map(|l| l.reason.clone()),
            last_updated: last.map(|l| l.computed_at),
        })
    }
}
