//! The flags each state writes: the contract with the trading services.
//!
//! `desired(rollout, state)` is the only place that maps a state to flag values, so the
//! flags table always equals `desired` of the committed state.

use std::collections::BTreeMap;

use super::{RolloutState, Status};
use crate::config::{flag_strings, Rollout, StageKind};
pub use crate::config::{OVERRIDABLE_ON_ROLLBACK, STANDARD_SUFFIXES};

/// The value of `MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Shadow,
    AbTest,
    Rollout,
    Full,
    RolledBack,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Shadow => "shadow",
            Mode::AbTest => "ab_test",
            Mode::Rollout => "rollout",
            Mode::Full => "full",
            Mode::RolledBack => "rolled_back",
        }
    }
}

struct Standard {
    mode: Mode,
    apply_parameters: bool,
    ab_test_percentage: Option<String>,
    rollout_percentage: String,
}

fn standard(kind: &StageKind) -> Standard {
    match kind {
        StageKind::Shadow { .. } => Standard {
            mode: Mode::Shadow,
            apply_parameters: false,
            ab_test_percentage: None,
            rollout_percentage: "0".into(),
        },
        StageKind::AbTest { percentage, .. } => Standard {
            mode: Mode::AbTest,
            apply_parameters: true,
            ab_test_percentage: Some(percentage.to_string()),
            rollout_percentage: "0".into(),
        },
        StageKind::Canary { percentage, .. } => Standard {
            mode: Mode::Rollout,
            apply_parameters: true,
            ab_test_percentage: None,
            rollout_percentage: percentage.to_string(),
        },
        StageKind::Full => Standard {
            mode: Mode::Full,
            apply_parameters: true,
            ab_test_percentage: None,
            rollout_percentage: "100".into(),
        },
    }
}

fn rolled_back_standard() -> Standard {
    Standard {
        mode: Mode::RolledBack,
        apply_parameters: false,
        ab_test_percentage: None,
        rollout_percentage: "0".into(),
    }
}

/// Whether the state's stage applies the new parameters (ab_test, canary, full; not shadow,
/// not rolled back): the stages where learned weights are published.
pub fn applies_parameters(rollout: &Rollout, state: &RolloutState) -> bool {
    match rollout.stages.get(state.stage_index) {
        Some(s) if state.status() != Status::RolledBack => standard(&s.kind).apply_parameters,
        _ => false,
    }
}

/// The complete flag set of `rollout` in `state`.
pub fn desired(rollout: &Rollout, state: &RolloutState) -> BTreeMap<String, String> {
    let p = &rollout.flag_prefix;
    let stage = rollout.stages.get(state.stage_index);
    let rolled_back = state.status() == Status::RolledBack || stage.is_none();
    let std = match stage {
        Some(s) if !rolled_back => standard(&s.kind),
        _ => rolled_back_standard(),
    };
    let mut flags = BTreeMap::new();
    let mut set = |suffix: &str, value: String| {
        flags.insert(p.key(suffix), value);
    };
    set("MODE", std.mode.as_str().into());
    set("STATUS", state.status().as_str().into());
    set("DATA_COLLECTION", "true".into());
    set("APPLY_PARAMETERS", std.apply_parameters.to_string());
    set(
        "AB_TEST_ENABLED",
        std.ab_test_percentage.is_some().to_string(),
    );
    set(
        "AB_TEST_PERCENTAGE",
        std.ab_test_percentage.unwrap_or_else(|| "0".into()),
    );
    set("ROLLOUT_PERCENTAGE", std.rollout_percentage);
    set("SEED", rollout.seed.to_string());
    set(
        "ASSIGNMENT_VERSION",
        crate::assignment::ASSIGNMENT_VERSION.to_string(),
    );
    if let Some(analysis) = &rollout.analysis {
        // Learned weights only where the stage applies parameters; otherwise (shadow, rolled
        // back, nothing published yet) the conservative ones.
        let published = state.weights.as_ref().filter(|_| std.apply_parameters);
        let conservative = analysis.conservative_weights.to_json();
        set(
            "WEIGHTS",
            published.map_or_else(|| conservative.clone(), |w| w.to_json()),
        );
        // In every state, so a service can give units the new path is off for (A/B control,
        // outside a canary's percentage) the conservative weights from the flags alone.
        set("CONSERVATIVE_WEIGHTS", conservative);
    }
    if rolled_back {
        flags.extend(flag_strings(&rollout.on_rollback));
    } else if let Some(s) = stage {
        flags.extend(flag_strings(&s.flags));
    }
    flags
}
