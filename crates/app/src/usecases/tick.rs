//! One evaluation pass over every rollout (`rollout tick`, the daemon's cron).

use rollout_store::{Lease, Writer};

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

/// How long a one-off `rollout tick` holds the leadership lease (it gives it back when done).
pub const ONE_OFF_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

impl Service {
    /// Takes the leadership lease for `actor` with a new epoch, for one pass; `None` while a
    /// daemon holds it. Returns the writer whose commits that epoch fences.
    pub async fn begin_lease(&self, actor: &str) -> Result<Option<Writer>> {
        match self
            .store()
            .claim_lease(actor, self.now(), ONE_OFF_LEASE, true)
            .await?
        {
            Lease::Held { epoch, .. } => Ok(Some(Writer {
                actor: actor.to_owned(),
                epoch: Some(epoch),
            })),
            Lease::Elsewhere { .. } => Ok(None),
        }
    }

    /// Gives the lease back (best effort: it expires anyway).
    pub async fn end_lease(&self, actor: &str) {
        let _ = self.store().release_lease(actor).await;
    }
}
