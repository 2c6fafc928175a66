//! The A/B analysis against the store: read the maintained statistics the core's plan asks
//! for (the per-unit aggregates of the A/B stage's latest entry, and the design's memory of
//! its earlier looks), and let the core analyse them.

use chrono::{DateTime, Utc};
use rollout_core::config::Rollout;
use rollout_core::controller::{RolloutState, Signals};
use rollout_core::experiment::{
    self as core, AbPlan, Analysis, AnalysisMemory, Exposure, MetricData, StageClock, StageEntry,
};
use rollout_core::series::LatestAnalysis;
use rollout_store::{Store, StoreError};

/// What one analysis read and produced.
struct Judged {
    analysis: Analysis,
    entry: Option<StageEntry>,
    before: AnalysisMemory,
    after: AnalysisMemory,
}

async fn run(
    store: &dyn Store,
    rollout: &Rollout,
    plan: &AbPlan,
    state: Option<&RolloutState>,
    now: DateTime<Utc>,
) -> Result<Judged, StoreError> {
    let name = rollout.name.as_str();
    // The A/B stage entry to read: the current one, else its latest; never entered: nothing.
    let entry = crate::timeline::latest_entry(store, name, state, plan.index).await?;
    let mut data = Vec::with_capacity(plan.cfg.metrics.len());
    for (spec, (_, ranks)) in plan.cfg.metrics.iter().zip(plan.reads()) {
        let d = match entry {
            Some(e) => {
                let agg = store
                    .unit_aggregate(name, e, &spec.name, spec.per_unit)
                    .await?;
                let ranks = if ranks {
                    Some(
                        store
                            .unit_rank_sums(name, e, &spec.name, spec.per_unit)
                            .await?,
                    )
                } else {
                    None
                };
                MetricData {
                    moments: agg.moments,
                    observations: agg.observations,
                    events: agg.events,
                    ranks,
                }
            }
            None => MetricData::default(),
        };
        data.push(d);
    }
    let (exposure, before) = match entry {
        Some(e) => {
            let counts = store.exposure(name, e).await?;
            // A memory this version cannot read starts over (the design says so in
            // `analyze --json`); it is never a reason to stop judging.
            let memory = store
                .analysis_memory(name, e)
                .await?
                .and_then(|text| serde_json::from_str::<AnalysisMemory>(&text).ok())
                .unwrap_or_default();
            (
                Exposure {
                    units: counts.units,
                    multiple_exposures: counts.multiple,
                },
                memory,
            )
        }
        None => (Exposure::default(), AnalysisMemory::default()),
    };
    let clock = StageClock::of(rollout, plan.index, state, now);
    let (analysis, after) = plan.analyze(name, &data, &exposure, &clock, &before, now);
    Ok(Judged {
        analysis,
        entry,
        before,
        after,
    })
}

/// Analyses the rollout's A/B stage from the stored statistics at `now`; `None` if it has
/// none. Read-only: a look this analysis would take is shown, not recorded (only judging
/// records looks, see [`signals`]). An explicit computation (`rollout analyze`); the
/// reads serve the latest judgment's instead.
pub async fn analyze(
    store: &dyn Store,
    rollout: &Rollout,
    state: Option<&RolloutState>,
    now: DateTime<Utc>,
) -> Result<Option<Analysis>, StoreError> {
    let Some(plan) = core::plan(rollout, state) else {
        return Ok(None);
    };
    Ok(Some(run(store, rollout, &plan, state, now).await?.analysis))
}

/// What the experiment tells the controller about a rollout in its A/B stage at `now`. The
/// judgment is kept ([`rollout_store::SeriesStore::record_judgment`]): its analysis as the
/// rollout's latest, which the reads show; the design's memory (the looks taken, the
/// running minima of the p-values) when the analysis changed it, so that the next judgment
/// continues the same design; and when the design took a look
/// ([`AnalysisMemory::took_look`]), the same analysis as that look's snapshot. One
/// transaction, fenced by `epoch` (a deposed leader keeps nothing).
pub async fn signals(
    store: &dyn Store,
    rollout: &Rollout,
    state: Option<&RolloutState>,
    now: DateTime<Utc>,
    epoch: Option<i64>,
) -> Result<Signals, StoreError> {
    if !core::judged(rollout, state) {
        return Ok(Signals::default());
    }
    let Some(plan) = core::plan(rollout, state) else {
        return Ok(Signals::default());
    };
    let judged = run(store, rollout, &plan, state, now).await?;
    // The memory changes when the design takes a look, and also when it starts or the SRM
    // test's running minimum moves: saved every time, a snapshot only for a look.
    let memory = match judged.entry {
        Some(e) if judged.after != judged.before => Some((
            e,
            serde_json::to_string(&judged.after)
                .map_err(|err| StoreError::Corrupt(format!("analysis memory: {err}")))?,
            judged.after.took_look(&judged.before),
        )),
        _ => None,
    };
    let analysis = serde_json::to_value(&judged.analysis)
        .map_err(|err| StoreError::Corrupt(format!("analysis: {err}")))?;
    let latest = LatestAnalysis {
        stage_index: plan.index as i64,
        verdict: analysis["verdict"].as_str().unwrap_or("unknown").to_owned(),
        computed_at: now,
        analysis,
    };
    store
        .record_judgment(
            rollout.name.as_str(),
            &latest,
            memory
                .as_ref()
                .map(|(e, text, look)| (*e, text.as_str(), *look)),
            epoch,
        )
        .await?;
    Ok(core::signals(&judged.analysis))
}
