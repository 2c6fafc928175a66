//! Guardrails and preflight safety checks: the measurements that roll a rollout back or
//! hold it, turned into [`Signals`](crate::controller::Signals) for the pure controller.
//! Pure: measuring (window aggregates, configured queries, HTTP checks) is the application
//! layer's job.

mod judge;

use chrono::{DateTime, Utc};

pub use judge::{degradation, effect, judge, Arm, Effect, Measurement};

use crate::config::{Guardrail, Rollout, StageKind};
use crate::controller::{RolloutState, Status};
use crate::records::GuardrailReading;

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
    state.is_some_and(|s| {
        matches!(
            s.status(),
            Status::Running | Status::Blocked | Status::Paused
        )
    })
}

impl GuardrailPass {
    /// Judges guardrail `g` on measurement `m` against its readings so far and adds the
    /// reading and its effect to the pass. Breaches counted in an earlier stage (or before
    /// a restart, so before `stage_entered_at`) do not carry over.
    pub fn add(
        &mut self,
        g: &Guardrail,
        m: &Measurement,
        previous: &[GuardrailReading],
        stage_entered_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        let before = previous
            .iter()
            .find(|r| r.guardrail == g.name && r.evaluated_at >= stage_entered_at);
        let reading = judge(g, m, before, now);
        match effect(g, &reading) {
            Effect::Critical(why) => self.critical.push(why),
            Effect::Warning(why) => self.warnings.push(why),
            Effect::None => {}
        }
        self.readings.push(reading);
    }
}

/// `max_silence`: in a stage that exposes units (A/B or canary), no observation for longer
/// than allowed is critical; a paused rollout keeps its exposure, so its data must keep
/// arriving too. The clock starts when the stage did. `last` is when the newest observation
/// of the rollout arrived.
pub fn silence(
    rollout: &Rollout,
    s: &RolloutState,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<String> {
    let max = rollout.max_silence?;
    if !watches_silence(rollout, s) {
        return None;
    }
    let since = last.map_or(s.stage_entered_at, |l| l.max(s.stage_entered_at));
    let quiet = now - since;
    (quiet > max.chrono()).then(|| {
        format!(
            "no observations arrived for {}s (max_silence {max}); the data stopped",
            quiet.num_seconds()
        )
    })
}

/// Whether [`silence`] applies to a rollout in `s` at all (so the caller need not read when
/// the last observation arrived).
pub fn watches_silence(rollout: &Rollout, s: &RolloutState) -> bool {
    let exposing = matches!(
        rollout.stages.get(s.stage_index).map(|st| &st.kind),
        Some(StageKind::AbTest { .. } | StageKind::Canary { .. })
    );
    rollout.max_silence.is_some() && exposing && watched(Some(s))
}
