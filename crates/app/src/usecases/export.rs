//! `rollout export`: the configuration, state, history and flags in one JSON document, for
//! audit (`jq`-friendly: plain objects and arrays, timestamps as RFC 3339 strings).

use chrono::{DateTime, Utc};
use rollout_core::records::{EventRow, FlagTable, RecordedConfig};
use rollout_core::status::RolloutStatus;
use serde::Serialize;

use crate::error::Result;
use crate::Service;

#[derive(Debug, Serialize)]
pub struct Export {
    pub exported_at: DateTime<Utc>,
    /// The configuration recorded in the store (what the controller acts on).
    pub config: Option<RecordedConfig>,
    pub flags: FlagTable,
    /// Each configured rollout: its status and its whole history, oldest first.
    pub rollouts: Vec<RolloutExport>,
}

#[derive(Debug, Serialize)]
pub struct RolloutExport {
    pub name: String,
    pub status: RolloutStatus,
    pub history: Vec<EventRow>,
}

impl Service {
    /// Everything an auditor asks about, read from the store.
    pub async fn export(&self) -> Result<Export> {
        let exported_at = self.now();
        let config = self.store().recorded_config().await?;
        let flags = self.store().flags().await?;
        let mut rollouts = Vec::new();
        for status in self.statuses().await? {
            let name = status.name.clone();
            let history = self.store().history(&name).await?;
            rollouts.push(RolloutExport {
                name,
                status,
                history,
            });
        }
        Ok(Export {
            exported_at,
            config,
            flags,
            rollouts,
        })
    }
}
