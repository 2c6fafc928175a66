//! Whether freshly computed weights are published, as a pure function producing a
//! [`Action::Publish`] transition (committed like any other: CAS, epoch fence, history row).

use crate::config::Rollout;
use crate::controller::{Action, RolloutState, Status, Transition};
use crate::flags::applies_parameters;

use super::Weights;

/// What happens to computed weights.
#[derive(Debug, Clone, PartialEq)]
pub enum Publication {
    /// Commit this transition.
    Publish(Box<Transition>),
    /// They are already the published weights.
    Unchanged,
    /// Stored in the history only; the reason says why.
    Withheld(String),
}

/// Publishes `weights` if the rollout's stage applies parameters and it is running or
/// completed; paused and blocked rollouts keep their published weights.
pub fn publication(
    rollout: &Rollout,
    state: Option<&RolloutState>,
    weights: &Weights,
) -> Publication {
    if rollout.analysis.is_none() {
        return Publication::Withheld(format!("rollout {} has no analysis block", rollout.name));
    }
    let Some(s) = state else {
        return Publication::Withheld("the rollout has not started".into());
    };
    if !applies_parameters(rollout, s) {
        let stage = rollout
            .stages
            .get(s.stage_index)
            .map_or("unknown", |st| st.kind.name());
        return Publication::Withheld(format!(
            "stage {} ({stage}, {}) does not apply parameters; the conservative weights stay published",
            s.stage_index, s.status
        ));
    }
    if !matches!(s.status, Status::Running | Status::Completed) {
        return Publication::Withheld(format!(
            "the rollout is {}; its published weights are frozen",
            s.status
        ));
    }
    let json = weights.to_json();
    if s.weights.as_deref() == Some(json.as_str()) {
        return Publication::Unchanged;
    }
    let to = RolloutState {
        version: s.version + 1,
        weights: Some(json),
        ..s.clone()
    };
    Publication::Publish(Box::new(Transition::new(
        rollout,
        Action::Publish,
        Some(s),
        to,
        "learned weights",
    )))
}
