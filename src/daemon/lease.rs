//! The daemon's leadership lease: claiming and renewing it (bounded, so that a cut-off
//! connection cannot keep a deposed leader acting), stepping down when it runs out, and
//! ending the sessions of a leader taken over from or of a stalled transaction in the way.

use std::time::Duration;

use chrono::Utc;
use tracing::{info, warn};

use super::Runner;
use crate::engine;
use crate::store::Lease;

impl Runner {
    /// Claims or renews the leadership lease; true when the store answered.
    pub(super) async fn renew(&mut self) -> bool {
        let now = Utc::now();
        // A connection cut off without a reset answers never: the claim is bounded, so that
        // a leader that cannot reach the store still steps down when its lease runs out.
        let claim = self
            .store
            .claim_lease(&self.actor, now, self.lease, self.epoch.is_none());
        let claimed = match tokio::time::timeout(self.claim_bound(), claim).await {
            Ok(r) => r,
            Err(_) => {
                self.unreachable = true;
                warn!(bound = ?self.claim_bound(), "the store did not answer the lease renewal in time");
                self.lease_ran_out(now);
                return false;
            }
        };
        self.unreachable = claimed.is_err();
        match claimed {
            Ok(Lease::Held {
                epoch,
                fresh,
                until,
                took_over_from,
            }) => {
                if let Some(from) = took_over_from.as_deref() {
                    self.end_sessions_of(from).await;
                }
                if fresh || self.epoch.is_none() {
                    match (&took_over_from, self.standby) {
                        (Some(from), _) => {
                            info!(epoch, previous = %from, "became the leader (took over an expired lease)")
                        }
                        (None, true) => info!(epoch, "became the leader (was standing by)"),
                        (None, false) => info!(epoch, "became the leader"),
                    }
                    self.epoch = Some(epoch);
                }
                // Not fresh: keep the epoch this process led with. If another writer moved
                // it meanwhile, the next write is fenced and this process steps down.
                self.lease_until = Some(until);
                self.standby = false;
                match self.epoch {
                    Some(epoch) => self.role.lead_until(epoch, until),
                    None => self.role.set(None),
                }
                true
            }
            Ok(Lease::Elsewhere { holder, until }) => {
                if self.epoch.take().is_some() {
                    warn!(holder = ?holder, "lost the leadership; standing by");
                } else if !self.standby {
                    info!(holder = ?holder, lease_until = %until, "standby: another daemon leads; this one takes over when its lease expires");
                }
                self.lease_until = None;
                self.standby = true;
                self.role.set(None);
                true
            }
            Err(e) => {
                warn!(error = %e, "cannot renew the leadership lease");
                if e.is_lock_timeout() {
                    // A frozen process's transaction holds the leader row: end it if it has
                    // sat idle (the server would, after its idle-in-transaction timeout).
                    self.end_stalled().await;
                }
                self.unreachable = true;
                self.lease_ran_out(now);
                false
            }
        }
    }

    /// How long a lease claim may take: half a lease, at least 3 s (the claim itself waits
    /// at most 2 s for a lock).
    fn claim_bound(&self) -> Duration {
        (self.lease / 2).max(Duration::from_secs(3))
    }

    /// After a failed renewal: a leader whose lease has run out stands by.
    fn lease_ran_out(&mut self, now: chrono::DateTime<Utc>) {
        if self.epoch.is_some() && self.lease_until.is_some_and(|t| t <= now) {
            warn!("lost the leadership: the lease expired without renewal; standing by");
            self.epoch = None;
            self.lease_until = None;
            self.role.set(None);
            self.standby = true;
        }
    }

    /// Ends the transactions that hold the leader row and have sat idle for
    /// [`engine::STALLED`] (a frozen process's). Best effort, bounded.
    async fn end_stalled(&self) {
        let ended = tokio::time::timeout(
            self.claim_bound(),
            self.store.end_stalled_lock_holders(engine::STALLED),
        );
        if let Ok(Ok(ended)) = ended.await {
            if !ended.is_empty() {
                warn!(
                    "ended a stalled transaction holding the leader row (a frozen process): {}",
                    ended.join("; ")
                );
            }
        }
    }

    /// Ends the database sessions of the leader this process took over from: a frozen or
    /// cut-off process's sessions (and any lock it holds) go now, not when the server
    /// notices. Best effort, bounded.
    async fn end_sessions_of(&self, previous: &str) {
        let ended = tokio::time::timeout(self.claim_bound(), self.store.end_sessions(previous));
        match ended.await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => info!(previous, sessions = n, "ended the previous leader's database sessions"),
            Ok(Err(e)) => warn!(previous, error = %e, "cannot end the previous leader's database sessions; the server's timeouts will"),
            Err(_) => warn!(previous, "ending the previous leader's database sessions took too long; the server's timeouts will"),
        }
    }
}
