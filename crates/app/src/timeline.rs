//! A rollout's stage entries over time, read from its history: where an observation
//! belongs (ingest) and which stage entry an A/B analysis reads.

use chrono::{DateTime, Utc};

use rollout_core::controller::{RolloutState, Status};
use rollout_core::experiment::{Period, StageEntry, Timeline};
use rollout_core::records::EventRow;
use rollout_store::{Store, StoreError};

/// Whether a history row entered a stage (start, advance, restart) rather than changing the
/// status within one.
fn enters(e: &EventRow) -> bool {
    e.from_stage != Some(e.to_stage) || e.action == "restart"
}

/// The periods of `events` (oldest first; a tail of the history is enough). The current
/// stage entry is named by the state, which is exact; older entries by the history row that
/// entered them.
pub fn from_events(events: &[EventRow], state: Option<&RolloutState>) -> Timeline {
    let last_entry = events.iter().rposition(enters);
    let mut entered: Option<DateTime<Utc>> = None;
    let mut periods = Vec::with_capacity(events.len() + 1);
    for (i, e) in events.iter().enumerate() {
        let stage = e.to_stage.max(0) as usize;
        let current = state.filter(|s| s.stage_index == stage && last_entry.is_none_or(|k| i >= k));
        let entered_at = match current {
            Some(s) => s.stage_entered_at,
            None if enters(e) => e.stage_entered_at.unwrap_or(e.at),
            None => e.stage_entered_at.or(entered).unwrap_or(e.at),
        };
        if enters(e) {
            entered = Some(entered_at);
        }
        periods.push(Period {
            from: e.at,
            entry: StageEntry { stage, entered_at },
            // An unreadable status exposes nothing: the safe reading.
            status: e.to_status.parse().unwrap_or(Status::RolledBack),
        });
    }
    if periods.is_empty() {
        if let Some(s) = state {
            periods.push(Period {
                from: s.stage_entered_at,
                entry: StageEntry {
                    stage: s.stage_index,
                    entered_at: s.stage_entered_at,
                },
                status: s.status(),
            });
        }
    }
    Timeline::new(periods)
}

/// The timeline from `since` on.
pub async fn since(
    store: &dyn Store,
    rollout: &str,
    state: Option<&RolloutState>,
    since: DateTime<Utc>,
) -> Result<Timeline, StoreError> {
    let events = store.events_since(rollout, since).await?;
    Ok(from_events(&events, state))
}

/// The latest entry of stage `stage`: the current one if the rollout is in it, else the
/// last time the history entered it; `None` if it never did.
pub async fn latest_entry(
    store: &dyn Store,
    rollout: &str,
    state: Option<&RolloutState>,
    stage: usize,
) -> Result<Option<StageEntry>, StoreError> {
    let Some(s) = state else {
        return Ok(None);
    };
    if s.stage_index == stage {
        return Ok(Some(StageEntry {
            stage,
            entered_at: s.stage_entered_at,
        }));
    }
    let events = store.history(rollout).await?;
    let t = from_events(&events, state);
    Ok(events
        .iter()
        .rev()
        .filter(|e| enters(e) && e.to_stage.max(0) as usize == stage)
        .find_map(|e| t.at(e.at).map(|p| p.entry)))
}
