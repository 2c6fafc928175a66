//! The A/B analysis against the store: read the maintained statistics the core's plan asks
//! for, and let the core analyse them.

use rollout_core::config::Rollout;
use rollout_core::controller::{RolloutState, Signals};
use rollout_core::experiment::{self as core, Analysis, MetricData};
use rollout_store::{Store, StoreError};

/// Analyses the rollout's A/B stage from the stored statistics; `None` if it has none.
pub async fn analyze(
    store: &dyn Store,
    rollout: &Rollout,
    state: Option<&RolloutState>,
) -> Result<Option<Analysis>, StoreError> {
    let Some(plan) = core::plan(rollout, state) else {
        return Ok(None);
    };
    let name = rollout.name.as_str();
    let mut data = Vec::new();
    for (metric, ranks) in plan.reads() {
        data.push(MetricData {
            moments: store.moments(name, metric).await?,
            ranks: if ranks {
                Some(store.rank_sums(name, metric).await?)
            } else {
                None
            },
        });
    }
    let units = store.unit_counts(name).await?;
    Ok(Some(plan.analyze(name, &data, &units)))
}

/// What the experiment tells the controller about a rollout in its A/B stage.
pub async fn signals(
    store: &dyn Store,
    rollout: &Rollout,
    state: Option<&RolloutState>,
) -> Result<Signals, StoreError> {
    if !core::judged(rollout, state) {
        return Ok(Signals::default());
    }
    Ok(analyze(store, rollout, state)
        .await?
        .map_or_else(Signals::default, |a| core::signals(&a)))
}
