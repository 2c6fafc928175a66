//! Guardrails and preflight safety checks: the measurements that roll a rollout back or
//! hold it, turned into [`Signals`](crate::controller::Signals) for the pure controller.

mod judge;
mod measure;
mod preflight;

use chrono::{DateTime, Utc};

pub use judge::{degradation, effect, judge, Arm, Effect, Measurement};
pub use measure::{measure, QUERY_TIMEOUT};
pub use preflight::{first_failure, http_client, run_checks, CheckResult};

use crate::config::{Rollout, StageKind};
use crate::controller::{RolloutState, Status};
use crate::store::{GuardrailReading, Store, StoreError};

/// What one guardrail pass found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GuardrailPass {
    pub critical: Vec<String>,
    pub warnings: Vec<String>,
    pub readings: Vec<GuardrailReading>,
}

/// Whether a rollout in `state` has units on the new path (or may get them) and so is
/// watched by its guardrails. A paused rollout keeps its exposure and is watched too.
pub fn watched(state: Option<&RolloutState>) -> bool {
    state.is_some_and(|s| matches!(s.status, Status::Running | Status::Blocked | Status::Paused))
}

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
            let m = measure(store, name, g, s.stage_entered_at, now).await?;
            // Breaches counted in an earlier stage (or before a restart) do not carry over.
            let before = previous
                .iter()
                .find(|r| r.guardrail == g.name && r.evaluated_at >= s.stage_entered_at);
            let reading = judge(g, &m, before, now);
            match effect(g, &reading) {
                Effect::Critical(why) => pass.critical.push(why),
                Effect::Warning(why) => pass.warnings.push(why),
                Effect::None => {}
            }
            pass.readings.push(reading);
        }
    }
    if let Some(why) = silence(store, rollout, s, now).await? {
        pass.critical.push(why);
    }
    Ok(pass)
}

/// [`evaluate`], then stores the readings so that `consecutive` counts across passes.
pub async fn evaluate_and_record(
    store: &dyn Store,
    rollout: &Rollout,
    state: Option<&RolloutState>,
    now: DateTime<Utc>,
) -> Result<GuardrailPass, StoreError> {
    let pass = evaluate(store, rollout, state, now).await?;
    if !pass.readings.is_empty() {
        store
            .record_guardrails(rollout.name.as_str(), &pass.readings)
            .await?;
    }
    Ok(pass)
}

/// `max_silence`: in a stage that exposes units (A/B or canary), no observation for longer
/// than allowed is critical; a paused rollout keeps its exposure, so its data must keep
/// arriving too. The clock starts when the stage did.
async fn silence(
    store: &dyn Store,
    rollout: &Rollout,
    s: &RolloutState,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    let Some(max) = rollout.max_silence else {
        return Ok(None);
    };
    let exposing = matches!(
        rollout.stages.get(s.stage_index).map(|st| &st.kind),
        Some(StageKind::AbTest { .. } | StageKind::Canary { .. })
    );
    if !exposing || !watched(Some(s)) {
        return Ok(None);
    }
    let last = store.last_ingested_at(rollout.name.as_str()).await?;
    let since = last.map_or(s.stage_entered_at, |l| l.max(s.stage_entered_at));
    let quiet = now - since;
    Ok((quiet > max.chrono()).then(|| {
        format!(
            "no observations arrived for {}s (max_silence {max}); the data stopped",
            quiet.num_seconds()
        )
    }))
}
