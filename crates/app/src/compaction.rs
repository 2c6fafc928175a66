//! Retention: the raw observations of stages that have ended are needed only for audit and
//! re-computation, so they can be dropped once older than the rollout's `retention` (and at
//! least its longest guardrail window); every aggregate a judgment reads is kept, so every
//! verdict stays reproducible. The dashboard's series of those stages are thinned with
//! them: guardrail readings keep their breaches only (what a report counts and a chart
//! marks), analysis snapshots the last of each stage (the verdict it ended with).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use rollout_core::config::Rollout;
use rollout_core::controller::{RolloutState, Status};
use rollout_core::experiment::StageEntry;
use rollout_store::{Store, StoreError};

/// What a compaction did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Compaction {
    pub rollout: String,
    /// Raw observations deleted.
    pub deleted: u64,
    /// Guardrail readings (other than breaches) and analysis snapshots (other than each
    /// stage's last) of ended stages deleted.
    pub readings_deleted: u64,
    pub snapshots_deleted: u64,
    /// Rows observed before this are summarised only (a re-delivered one is skipped).
    pub compacted_before: DateTime<Utc>,
}

/// The stage entry whose rows are still in use: the current one, unless the rollout was
/// rolled back (or has not started).
pub fn current_entry(state: Option<&RolloutState>) -> Option<StageEntry> {
    state
        .filter(|s| s.status() != Status::RolledBack)
        .map(|s| StageEntry {
            stage: s.stage_index,
            entered_at: s.stage_entered_at,
        })
}

/// Drops the raw rows of `rollout` observed more than `keep` ago (at least its longest
/// guardrail window) in stages that have ended.
pub async fn compact(
    store: &dyn Store,
    rollout: &Rollout,
    keep: Duration,
    now: DateTime<Utc>,
) -> Result<Compaction, StoreError> {
    let name = rollout.name.as_str();
    let keep = keep.max(rollout.longest_window());
    let state = store.state(name).await?;
    let (deleted, compacted_before) = store
        .compact(name, now - keep, current_entry(state.as_ref()), now)
        .await?;
    // Before the watermark everything belongs to an ended stage, as for the raw rows.
    let (readings_deleted, snapshots_deleted) = store.thin_series(name, compacted_before).await?;
    Ok(Compaction {
        rollout: name.to_owned(),
        deleted,
        readings_deleted,
        snapshots_deleted,
        compacted_before,
    })
}

/// Compaction scans the rollout's rows, so a pass runs it about hourly, not every tick.
const EVERY: Duration = Duration::hours(1);

/// Compacts `rollout` if it has a `retention` and was not compacted in the last hour.
/// Called after each evaluation pass; its failure is logged, never the pass's.
pub async fn compact_if_due(store: &dyn Store, rollout: &Rollout, now: DateTime<Utc>) {
    let Some(retention) = rollout.retention else {
        return;
    };
    let keep = retention.chrono().max(rollout.longest_window());
    let due = match store.compacted_at(rollout.name.as_str()).await {
        Ok(Some(at)) => at <= now - EVERY,
        Ok(None) => true,
        Err(e) => {
            tracing::warn!(rollout = %rollout.name, error = %e, "cannot read the compaction watermark");
            false
        }
    };
    if !due {
        return;
    }
    match compact(store, rollout, keep, now).await {
        Ok(c) if c.deleted + c.readings_deleted + c.snapshots_deleted > 0 => tracing::info!(
            rollout = %rollout.name,
            deleted = c.deleted,
            readings_deleted = c.readings_deleted,
            snapshots_deleted = c.snapshots_deleted,
            before = %c.compacted_before,
            "compacted raw observations and thinned the series of ended stages (retention)"
        ),
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(rollout = %rollout.name, error = %e, "compacting raw observations failed; retried next pass")
        }
    }
}
