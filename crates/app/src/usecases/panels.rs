//! The dashboard's panels beside the series, from stored rows only: the learning panel (the
//! weights each run computed, the published weights flag over time, the conservative
//! weights) and the webhook deliveries.

use rollout_core::deliveries::Delivery;
use rollout_core::learning::{config_of, Weights};
use rollout_core::series::{Page, WeightsFlagChange, WeightsPoint};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::Service;

/// A rollout's learning, newest first: what each run computed (its weights, confidence,
/// fallback and the analysis behind them: features and correlations) and each write of the
/// published weights flag, against the conservative weights.
#[derive(Debug, Serialize)]
pub struct LearningPanel {
    pub rollout: String,
    /// Whether the rollout learns (has an `analysis:` block); without one the rest is empty.
    pub learns: bool,
    /// The published weights flag (`<prefix>WEIGHTS`).
    pub flag: Option<String>,
    pub conservative: Option<Weights>,
    /// The flag's value now.
    pub published: Option<Weights>,
    /// A page of the weights history (each run's computation).
    pub computations: Vec<WeightsPoint>,
    pub computations_next_before: Option<i64>,
    /// A page of the history rows that wrote the flag.
    pub publications: Vec<WeightsFlagChange>,
    pub publications_next_before: Option<i64>,
}

/// A page of a rollout's webhook deliveries, newest first.
#[derive(Debug, Serialize)]
pub struct DeliveriesPage {
    pub rollout: String,
    pub deliveries: Vec<Delivery>,
    /// The `before` of the next (older) page; `None` at the end.
    pub next_before: Option<i64>,
}

impl Service {
    /// `name`'s learning panel: a page of its computations and one of its publications.
    pub async fn learning_panel(
        &self,
        name: &str,
        computations: Page,
        publications: Page,
    ) -> Result<LearningPanel> {
        let r = self.rollout(name)?;
        let Ok(cfg) = config_of(&r) else {
            return Ok(LearningPanel {
                rollout: name.to_owned(),
                learns: false,
                flag: None,
                conservative: None,
                published: None,
                computations: Vec::new(),
                computations_next_before: None,
                publications: Vec::new(),
                publications_next_before: None,
            });
        };
        let key = r.flag_prefix.key("WEIGHTS");
        let runs = self
            .store()
            .weights_page(name, computations.before, i64::from(computations.limit))
            .await?;
        let writes = self
            .store()
            .flag_writes(
                name,
                &key,
                publications.before,
                i64::from(publications.limit),
            )
            .await?;
        let published = self
            .store()
            .rollout_flags(name)
            .await?
            .get(&key)
            .and_then(|text| Weights::from_json(text));
        Ok(LearningPanel {
            rollout: name.to_owned(),
            learns: true,
            conservative: Some(cfg.conservative_weights.clone()),
            published,
            computations_next_before: computations.next(runs.len(), runs.last().map(|p| p.id)),
            computations: runs,
            publications_next_before: publications.next(writes.len(), writes.last().map(|w| w.id)),
            publications: writes,
            flag: Some(key),
        })
    }

    /// A page of `name`'s webhook deliveries (a rollout no longer configured keeps its rows;
    /// a name with neither is unknown).
    pub async fn deliveries(&self, name: &str, page: Page) -> Result<DeliveriesPage> {
        let rows = self
            .store()
            .deliveries(name, page.before, i64::from(page.limit))
            .await?;
        if rows.is_empty() && self.config().rollout(name).is_none() {
            return Err(Error::UnknownRollout(name.to_owned()));
        }
        Ok(DeliveriesPage {
            rollout: name.to_owned(),
            next_before: page.next(rows.len(), rows.last().map(|d| d.id)),
            deliveries: rows,
        })
    }
}
