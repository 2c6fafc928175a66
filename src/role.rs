//! Whether this process leads: the daemon sets it, the HTTP API and the webhook sender read it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// Whether this process leads, and with which epoch; shared with the webhook sender and
/// the HTTP API.
#[derive(Debug, Default)]
pub struct Role {
    /// The leader epoch, or 0 while standing by (epochs start at 1).
    epoch: AtomicI64,
    /// Until when the lease this process leads with runs, in milliseconds since the epoch
    /// (0: no end known). Past it, [`Role::epoch`] says standby even if the daemon's loop
    /// is stuck (on a cut-off connection) and has not stepped down yet.
    until_ms: AtomicI64,
    /// Why the last evaluation pass failed, until one succeeds.
    failing: Mutex<Option<String>>,
}

impl Role {
    pub fn epoch(&self) -> Option<i64> {
        let until = self.until_ms.load(Ordering::SeqCst);
        if until > 0 && Utc::now().timestamp_millis() >= until {
            return None;
        }
        Some(self.epoch.load(Ordering::SeqCst)).filter(|e| *e > 0)
    }

    /// Leads with `epoch` (or stands by), with no end known.
    pub fn set(&self, epoch: Option<i64>) {
        self.until_ms.store(0, Ordering::SeqCst);
        self.epoch.store(epoch.unwrap_or(0), Ordering::SeqCst);
    }

    /// Leads with `epoch` until `until`, when the lease ends unless renewed.
    pub fn lead_until(&self, epoch: i64, until: DateTime<Utc>) {
        self.epoch.store(epoch, Ordering::SeqCst);
        self.until_ms
            .store(until.timestamp_millis().max(1), Ordering::SeqCst);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_that_ran_out_is_not_leadership() {
        let r = Role::default();
        assert_eq!(r.epoch(), None);
        r.lead_until(3, Utc::now() + chrono::Duration::seconds(60));
        assert_eq!(r.epoch(), Some(3));
        r.lead_until(3, Utc::now() - chrono::Duration::seconds(1));
        assert_eq!(r.epoch(), None, "the lease ran out");
        r.set(Some(4));
        assert_eq!(r.epoch(), Some(4), "no end known");
    }
}
