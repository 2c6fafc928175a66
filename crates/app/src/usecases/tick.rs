//! One evaluation pass over every rollout (`rollout tick`, the daemon's cron).

use rollout_store::Writer;

use crate::engine::{self, Outcome};
use crate::error::Result;
use crate::Service;

impl Service {
    /// Evaluates every configured rollout now and commits what the controller decides;
    /// a writer with an epoch (a one-off `rollout tick`) then records the pass, without a
    /// tick interval (it does not tick again).
    pub async fn tick(&self, writer: &Writer) -> Result<Vec<(String, Outcome)>> {
        let now = self.now();
        let outcomes = engine::tick_all(self.store(), &self.config(), writer, now).await?;
        if let Some(epoch) = writer.epoch {
            self.store().record_tick(epoch, now, None).await?;
        }
        Ok(outcomes)
    }

    /// Judges new data of rollout `name` (may only roll back).
    pub async fn judge_new_data(&self, name: &str, writer: &Writer) -> Result<Outcome> {
        let r = self.rollout(name)?;
        Ok(engine::on_new_data(self.store(), &r, writer, self.now()).await?)
    }
}

impl Service {
    /// Starts a new leader epoch for `actor` (the caller holds the leadership lock) and
    /// returns the writer whose commits that epoch fences.
    pub async fn begin_epoch(&self, actor: &str) -> Result<Writer> {
        let epoch = self.store().new_epoch(actor, self.now()).await?;
        Ok(Writer {
            actor: actor.to_owned(),
            epoch: Some(epoch),
        })
    }
}
