//! Whether this process leads: the daemon sets it, the HTTP API and the webhook sender read it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

/// Whether this process leads, and with which epoch; shared with the webhook sender and
/// the HTTP API.
#[derive(Debug, Default)]
pub struct Role {
    /// The leader epoch, or 0 while standing by (epochs start at 1).
    epoch: AtomicI64,
    /// Why the last evaluation pass failed, until one succeeds.
    failing: Mutex<Option<String>>,
}

impl Role {
    pub fn epoch(&self) -> Option<i64> {
        Some(self.epoch.load(Ordering::SeqCst)).filter(|e| *e > 0)
    }

    pub fn set(&self, epoch: Option<i64>) {
        self.epoch.store(epoch.unwrap_or(0), Ordering::SeqCst);
    }

    /// Records how the last pass ended: `None` when it succeeded.
    pub fn set_failing(&self, why: Option<String>) {
        if let Ok(mut f) = self.failing.lock() {
            *f = why;
        }
    }

    /// Why the last pass failed, if it did.
    pub fn failing(&self) -> Option<String> {
        self.failing.lock().ok().and_then(|f| f.clone())
    }
}
