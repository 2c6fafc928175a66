//! Whether this process leads: the daemon sets it, the HTTP API and the webhook sender read it.

use std::sync::atomic::{AtomicI64, Ordering};

/// Whether this process leads, and with which epoch; shared with the webhook sender and
/// the HTTP API.
#[derive(Debug, Default)]
pub struct Role {
    /// The leader epoch, or 0 while standing by (epochs start at 1).
    epoch: AtomicI64,
}

impl Role {
    pub fn epoch(&self) -> Option<i64> {
        Some(self.epoch.load(Ordering::SeqCst)).filter(|e| *e > 0)
    }

    pub fn set(&self, epoch: Option<i64>) {
        self.epoch.store(epoch.unwrap_or(0), Ordering::SeqCst);
    }
}
