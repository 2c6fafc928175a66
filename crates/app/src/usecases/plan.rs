//! `rollout plan`: every rollout's stages as the configuration describes them.

use rollout_core::plan::{plan, RolloutPlan};

use crate::Service;

impl Service {
    /// The plan of every configured rollout, in configuration order.
    pub fn plan(&self) -> Vec<RolloutPlan> {
        self.config().rollouts.iter().map(plan).collect()
    }
}
