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
    // The A/B stage entry to read: the current one, else its latest; never entered: nothing.
    let entry = crate::timeline::latest_entry(store, name, state, plan.index).await?;
    let mut data = Vec::new();
    for (spec, ranks) in plan.cfg.metrics.iter().zip(plan.reads().map(|(_, r)| r)) {
        let (agg, rank_sums) = match entry {
            Some(e) => (
                store
                    .unit_aggregate(name, e, &spec.name, spec.per_unit)
                    .await?,
                if ranks {
                    Some(
                        store
                            .unit_rank_sums(name, e, &spec.name, spec.per_unit)
                            .await?,
                    )
                } else {
                    None
                },
            ),
            None => (Default::default(), None),
        };
        data.push(MetricData {
            moments: agg.moments,
            ranks: rank_sums,
        });
    }
    let exposure = match entry {
        Some(e) => store.exposure(name, e).await?,
        None => Default::default(),
    };
    Ok(Some(plan.analyze(name, &data, &exposure.units)))
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
