//! Guardrails against the store: measure each one (window aggregates, configured queries),
//! judge it with the core's pure rules, and run the preflight safety checks.

mod measure;
mod preflight;

use chrono::{DateTime, Utc};
use rollout_core::config::Rollout;
use rollout_core::controller::RolloutState;
use rollout_core::experiment::StageEntry;
use rollout_core::guardrails::{silence, watched, watches_silence, GuardrailPass};
use rollout_store::{Store, StoreError};

pub use measure::{measure, QUERY_TIMEOUT};
pub use preflight::{first_failure, http_client, run_checks, CheckResult};

/// Measures and judges every guardrail of `rollout`, and checks `max_silence`. Does not
/// write; the caller records `readings` (see [`evaluate_and_record`]).
pub async fn evaluate(
    store: &dyn Store,
    rollout: &Rollout,
    state: Option<&RolloutState>,
    now: DateTime<Utc>,
) -> Result<GuardrailPass, StoreError> {
    let mut pass = GuardrailPass::default();
    let Some(s) = state.filter(|s| watched(Some(s))) else {
        return Ok(pass);
    };
    let name = rollout.name.as_str();
    if !rollout.guardrails.is_empty() {
        let previous = store.guardrail_status(name).await?;
        for g in &rollout.guardrails {
            let entry = StageEntry {
                stage: s.stage_index,
                entered_at: s.stage_entered_at,
            };
            let m = measure(store, name, g, entry, now).await?;
            pass.add(g, &m, &previous, s.stage_entered_at, now);
        }
    }
    if watches_silence(rollout, s) {
        let last = store.last_ingested_at(name).await?;
        if let Some(why) = silence(rollout, s, last, now) {
            pass.critical.push(why);
        }
    }
    Ok(pass)
}

/// [`evaluate`], then stores the readings so that `consecutive` counts across passes;
/// fenced by `epoch` (a deposed leader's readings are not stored).
pub async fn evaluate_and_record(
    store: &dyn Store,
    rollout: &Rollout,
    state: Option<&RolloutState>,
    now: DateTime<Utc>,
    epoch: Option<i64>,
) -> Result<GuardrailPass, StoreError> {
    let pass = evaluate(store, rollout, state, now).await?;
    if !pass.readings.is_empty() {
        store
            .record_guardrails(rollout.name.as_str(), &pass.readings, epoch)
            .await?;
    }
    Ok(pass)
}
