//! Manual actions: pause, resume, promote, roll back, restart.

use std::collections::BTreeMap;

use rollout_core::controller::ManualAction;
use rollout_core::status::RolloutStatus;
use rollout_store::Writer;
use serde::Serialize;

use crate::engine::{self, Applied};
use crate::error::{Error, Result};
use crate::Service;

/// The longest reason and actor an action accepts (characters).
pub const MAX_REASON: usize = 1000;
pub const MAX_ACTOR: usize = 64;

/// What an action did; `rollout <action> --json` and the HTTP answer.
#[derive(Debug, Serialize)]
pub struct ActionReport {
    pub rollout: String,
    pub action: &'static str,
    pub changed: bool,
    pub status: RolloutStatus,
    pub flags_version: Option<i64>,
    pub flags: BTreeMap<String, Option<String>>,
    /// The committed transition, for logs and human output.
    #[serde(skip)]
    pub applied: Option<Applied>,
}

impl Service {
    /// Applies a manual action as `actor`. A rollback must say why. After a commit the
    /// answer comes from what was committed: a failing re-read must not turn a done action
    /// into an error that a caller would retry.
    pub async fn act(
        &self,
        name: &str,
        action: ManualAction,
        reason: &str,
        actor: &str,
    ) -> Result<ActionReport> {
        let r = self.rollout(name)?;
        for (field, text, max) in [("reason", reason, MAX_REASON), ("actor", actor, MAX_ACTOR)] {
            if text.contains('\0') || text.chars().count() > max {
                return Err(Error::InvalidInput(format!(
                    "`{field}` must be at most {max} characters, without NUL"
                )));
            }
        }
        if action == ManualAction::Rollback && reason.trim().is_empty() {
            return Err(Error::InvalidInput(
                "a rollback must say why (a reason is required)".into(),
            ));
        }
        let writer = Writer::person(actor);
        let clock = self.clock().clone();
        let applied =
            engine::act(self.store(), &r, action, reason, &writer, || clock.now()).await?;
        let state = match &applied {
            Some(a) => Some(a.transition.to.clone()),
            None => self.store().state(name).await?,
        };
        Ok(ActionReport {
            rollout: name.to_owned(),
            action: action.as_str(),
            changed: applied.is_some(),
            status: self.status_after_action(&r, state.as_ref()).await,
            flags_version: applied.as_ref().map(|a| a.committed.flags_version),
            flags: applied
                .as_ref()
                .map(|a| a.committed.changed.clone())
                .unwrap_or_default(),
            applied,
        })
    }
}
