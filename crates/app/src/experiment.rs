//! The A/B analysis against the store: read the maintained statistics the core's plan asks
//! for, and let the core analyse them.

use chrono::{DateTime, Utc};
use rollout_core::config::Rollout;
use rollout_core::controller::{RolloutState, Signals};
use rollout_core::experiment::{
    self as core, Analysis, AnalysisMemory, Exposure, MetricData, StageClock,
};
use rollout_core::records::PerVariant;
use rollout_store::{Store, StoreError};

/// Analyses the rollout's A/B stage from the stored statistics at `now`; `None` if it has
/// none.
///
/// Interim wiring (the store side is the lead's): the store's moments are read as the
/// per-unit moments, events and observations are not read yet (0), multiple exposures are
/// 0, and the design's memory is not persisted (every call starts from
/// `AnalysisMemory::default()`), so the group-sequential design is only exact once the
/// memory is stored and passed back.
pub async fn analyze(
    store: &dyn Store,
    rollout: &Rollout,
    state: Option<&RolloutState>,
    now: DateTime<Utc>,
) -> Result<Option<Analysis>, StoreError> {
    let Some(plan) = core::plan(rollout, state) else {
        return Ok(None);
    };
    let name = rollout.name.as_str();
    let mut data = Vec::new();
    for (metric, ranks) in plan.reads() {
        let moments = store.moments(name, metric).await?;
        data.push(MetricData {
            observations: PerVariant {
                control: moments.control.n(),
                treatment: moments.treatment.n(),
            },
            events: PerVariant::default(),
            moments,
            ranks: if ranks {
                Some(store.rank_sums(name, metric).await?)
            } else {
                None
            },
        });
    }
    let exposure = Exposure {
        units: store.unit_counts(name).await?,
        multiple_exposures: 0,
    };
    let clock = StageClock::of(rollout, plan.index, state, now);
    let (analysis, _memory) = plan.analyze(
        name,
        &data,
        &exposure,
        &clock,
        &AnalysisMemory::default(),
        now,
    );
    Ok(Some(analysis))
}

/// What the experiment tells the controller about a rollout in its A/B stage at `now`.
pub async fn signals(
    store: &dyn Store,
    rollout: &Rollout,
    state: Option<&RolloutState>,
    now: DateTime<Utc>,
) -> Result<Signals, StoreError> {
    if !core::judged(rollout, state) {
        return Ok(Signals::default());
    }
    Ok(analyze(store, rollout, state, now)
        .await?
        .map_or_else(Signals::default, |a| core::signals(&a)))
}
