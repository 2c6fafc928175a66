//! Whether a new configuration can take over from the running one.

use super::state::{RolloutState, Status};
use crate::config::Config;

/// The reasons `config` cannot be applied to the rollouts' persisted `states`; empty when it can.
/// A config may not remove or replace the stage a live rollout is in, nor remove a live rollout.
pub fn incompatibilities(config: &Config, states: &[RolloutState]) -> Vec<String> {
    let mut out = Vec::new();
    for s in states {
        let live = s.status() != Status::RolledBack;
        let Some(r) = config.rollout(&s.rollout) else {
            if live && s.status() != Status::Completed {
                out.push(format!(
                    "rollout {} is {} in stage {} ({}) and cannot be removed; roll it back first",
                    s.rollout,
                    s.status(),
                    s.stage_index + 1,
                    s.stage_label
                ));
            }
            continue;
        };
        if !live {
            continue;
        }
        match r.stages.get(s.stage_index) {
            Some(stage) if stage.kind.label() == s.stage_label => {}
            Some(stage) => out.push(format!(
                "rollout {} is in stage {} ({}), which the new configuration replaces with {}",
                s.rollout,
                s.stage_index + 1,
                s.stage_label,
                stage.kind.label()
            )),
            None => out.push(format!(
                "rollout {} is in stage {} ({}), which the new configuration removes",
                s.rollout,
                s.stage_index + 1,
                s.stage_label
            )),
        }
    }
    out
}
