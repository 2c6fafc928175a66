//! The shadow stage against the store: read a shadow window's data, report it, and tell the
//! controller whether the stage's exit criteria hold it (`Signals::shadow_unmet`).

use chrono::{DateTime, Utc};

use rollout_core::config::{Rollout, StageKind};
use rollout_core::controller::{Phase, RolloutState};
use rollout_core::shadow::{self, ShadowInputs, ShadowReport};
use rollout_store::{Store, StoreError};

/// The report of shadow stage `stage` of `rollout` over `[from, to]`; `None` if the
/// configuration's stage `stage` is not a shadow stage.
pub async fn report(
    store: &dyn Store,
    rollout: &Rollout,
    stage: usize,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    complete: bool,
) -> Result<Option<ShadowReport>, StoreError> {
    let Some(StageKind::Shadow { duration, settings }) = rollout.stages.get(stage).map(|s| &s.kind)
    else {
        return Ok(None);
    };
    let name = rollout.name.as_str();
    let analysis = rollout.analysis.as_ref();
    let (pairs, learned) = match analysis {
        Some(cfg) => (
            store.dated_pairs(from, to, cfg.match_window.get()).await?,
            store
                .weights_at(name, to)
                .await?
                .map(|w| (w.final_weights, w.computed_at)),
        ),
        None => (Vec::new(), None),
    };
    let inputs = ShadowInputs {
        records: store.learning_times(from, to).await?,
        rejections: store.rejections(from, to).await?,
        runs: store.analysis_runs(name, from, to).await?,
        errors: store.service_errors(name, from, to).await?,
        pairs,
        learned,
    };
    Ok(Some(shadow::report(
        settings,
        duration.get(),
        analysis.map(|a| &a.conservative_weights),
        &inputs,
        from,
        to,
        complete,
    )))
}

/// The shadow exit criteria not met, when they matter: the rollout is running (or held) in
/// a shadow stage whose duration has run out. `None` otherwise, and when they are met.
pub async fn unmet(
    store: &dyn Store,
    rollout: &Rollout,
    state: Option<&RolloutState>,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    let Some(s) = state else { return Ok(None) };
    if !matches!(s.phase(), Phase::Running | Phase::Blocked { .. }) {
        return Ok(None);
    }
    let Some(StageKind::Shadow { duration, .. }) =
        rollout.stages.get(s.stage_index).map(|st| &st.kind)
    else {
        return Ok(None);
    };
    if s.elapsed(now) < duration.chrono() {
        return Ok(None);
    }
    let r = report(store, rollout, s.stage_index, s.stage_entered_at, now, true).await?;
    Ok(r.and_then(|r| r.unmet))
}
