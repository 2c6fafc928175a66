//! How failed reads of the source are retried. Reading flags is never cut off by a circuit
//! breaker: a rollback must reach the service as soon as the source answers again. After
//! the n-th failure in a row the refresher waits `backoff_initial · 2^(n−1)`, capped at
//! `backoff_max` (1, 2, 4, 8, 16, 30, 30 … s by default), each wait jittered to [½, 1] of
//! that so a fleet does not reconnect in lock-step; a server's `Retry-After` is a floor.
//! Meanwhile reads serve the last flags loaded. While an HTTP daemon refuses connections,
//! its port is probed (see [`Refresh::probe_interval`](crate::Refresh::probe_interval)).
//!
//! The clock and the jitter are injectable, so that tests need neither wait nor guess.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{ClientError, Refresh};

/// The time source; injectable so that tests need not wait.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Instant::now)
}

/// A clock that moves only when told to, for tests.
#[derive(Clone)]
pub struct ManualClock {
    start: Instant,
    offset_ms: Arc<AtomicU64>,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock {
            start: Instant::now(),
            offset_ms: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn clock(&self) -> Clock {
        let this = self.clone();
        Arc::new(move || this.start + Duration::from_millis(this.offset_ms.load(Ordering::SeqCst)))
    }
}

/// Draws for the jitter, uniform in [0, 1]; injectable so that tests can pin them.
pub type Jitter = Arc<dyn Fn() -> f64 + Send + Sync>;

pub fn random_jitter() -> Jitter {
    Arc::new(rand::random::<f64>)
}

impl Refresh {
    /// The wait after `failures` failed calls in a row, before jitter:
    /// `backoff_initial · 2^(failures−1)` capped at `backoff_max` (0 failures: the initial
    /// wait, used after a stream that ended normally).
    pub fn backoff_ceiling(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.backoff_initial
            .saturating_mul(1u32 << doublings)
            .min(self.backoff_max)
    }

    /// The jittered wait: the ceiling times a factor in [½, 1], `draw` (in [0, 1]) choosing
    /// where. Never zero for a positive `backoff_initial`: no hot loop against a dead server.
    pub fn backoff(&self, failures: u32, draw: f64) -> Duration {
        let draw = if draw.is_finite() {
            draw.clamp(0.0, 1.0)
        } else {
            1.0
        };
        self.backoff_ceiling(failures).mul_f64(0.5 + 0.5 * draw)
    }
}

/// The retry state, for [`Stats`](crate::Stats).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetryStats {
    /// Calls made to the source: loads and stream connections.
    pub attempts: u64,
    /// Failed calls in all.
    pub failures: u64,
    /// Failed calls in a row; 0 once a call succeeds.
    pub consecutive_failures: u32,
    /// When the refresher calls the source again, at the latest, while it waits after a
    /// failure (a probe that finds the daemon's port open, a `NOTIFY`, or a successful
    /// [`Client::refresh`](crate::Client::refresh) end the wait sooner).
    pub next_retry_at: Option<DateTime<Utc>>,
    pub next_retry_in: Option<Duration>,
    /// The last failure was a connection the daemon's host refused (or that could not be
    /// made): its port is probed while waiting.
    pub unreachable: bool,
    /// TCP probes of the daemon's port, and how many of them ended a wait.
    pub probes: u64,
    pub probe_wakeups: u64,
}

#[derive(Default)]
struct State {
    consecutive: u32,
    unreachable: bool,
    retry_after: Option<Duration>,
    next_at: Option<Instant>,
}

/// Counts calls and failures and schedules the next attempt.
pub(crate) struct Retry {
    clock: Clock,
    jitter: Jitter,
    state: Mutex<State>,
    attempts: AtomicU64,
    failures: AtomicU64,
    pub(crate) probes: AtomicU64,
    pub(crate) probe_wakeups: AtomicU64,
}

impl Retry {
    pub(crate) fn new(clock: Clock, jitter: Jitter) -> Retry {
        Retry {
            clock,
            jitter,
            state: Mutex::new(State::default()),
            attempts: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            probes: AtomicU64::new(0),
            probe_wakeups: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The guarded data stays consistent even if a holder panicked.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A draw in [0, 1] from the injected jitter.
    pub(crate) fn draw(&self) -> f64 {
        (self.jitter)()
    }

    pub(crate) fn attempt(&self) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
    }

    /// Returns the failures in a row that this success ends.
    pub(crate) fn succeeded(&self) -> u32 {
        let mut s = self.lock();
        std::mem::take(&mut *s).consecutive
    }

    pub(crate) fn failed(&self, e: &ClientError) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let mut s = self.lock();
        s.consecutive = s.consecutive.saturating_add(1);
        s.unreachable = e.is_unreachable();
        s.retry_after = e.retry_after();
    }

    pub(crate) fn consecutive_failures(&self) -> u32 {
        self.lock().consecutive
    }

    pub(crate) fn unreachable(&self) -> bool {
        self.lock().unreachable
    }

    /// The wait before the next call: `normal` while the last call succeeded; after
    /// failures, the jittered backoff, at least `normal` and at least the server's
    /// `Retry-After` (capped at `backoff_max`).
    pub(crate) fn next_wait(&self, refresh: &Refresh, normal: Duration) -> Duration {
        let (failures, retry_after) = {
            let s = self.lock();
            (s.consecutive, s.retry_after)
        };
        if failures == 0 {
            return normal;
        }
        let mut wait = refresh.backoff(failures, self.draw()).max(normal);
        if let Some(after) = retry_after {
            wait = wait.max(after.min(refresh.backoff_max));
        }
        wait
    }

    /// The refresher waits `wait` from now (shown in the stats only after a failure).
    pub(crate) fn waiting(&self, wait: Duration) {
        let now = (self.clock)();
        let mut s = self.lock();
        s.next_at = (s.consecutive > 0).then(|| now + wait);
    }

    pub(crate) fn done_waiting(&self) {
        self.lock().next_at = None;
    }

    pub(crate) fn stats(&self) -> RetryStats {
        let now = (self.clock)();
        let s = self.lock();
        let next_retry_in = s.next_at.map(|at| at.saturating_duration_since(now));
        RetryStats {
            attempts: self.attempts.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            consecutive_failures: s.consecutive,
            next_retry_at: next_retry_in
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .map(|d| Utc::now() + d),
            next_retry_in,
            unreachable: s.unreachable,
            probes: self.probes.load(Ordering::Relaxed),
            probe_wakeups: self.probe_wakeups.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(d: Duration) -> f64 {
        d.as_secs_f64()
    }

    #[test]
    fn the_schedule_doubles_from_one_second_to_thirty() {
        let r = Refresh::default();
        let ceilings: Vec<f64> = (1..=9).map(|n| secs(r.backoff_ceiling(n))).collect();
        assert_eq!(ceilings, [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]);
        assert_eq!(
            r.backoff_ceiling(u32::MAX),
            Duration::from_secs(30),
            "no overflow"
        );
        // The draw picks a point in [½, 1] of the ceiling.
        assert_eq!(r.backoff(3, 1.0), Duration::from_secs(4));
        assert_eq!(r.backoff(3, 0.0), Duration::from_secs(2));
        assert_eq!(r.backoff(6, 0.5), Duration::from_millis(22_500));
        assert_eq!(
            r.backoff(1, f64::NAN),
            Duration::from_secs(1),
            "a bad draw: the ceiling"
        );
        assert_eq!(
            r.backoff(1, 7.0),
            Duration::from_secs(1),
            "draws are clamped"
        );
    }

    /// The schedule as the refresher sees it, with the clock and the jitter injected: each
    /// failure in a row schedules the next call at `now + wait`, the wait within [½, 1] of
    /// 1, 2, 4, 8, 16, 30, 30 … s; a success resets it.
    #[test]
    fn waits_follow_the_schedule_with_bounded_jitter() {
        let clock = ManualClock::default();
        let draws = Arc::new(Mutex::new(
            [1.0, 0.0, 0.25, 0.999, 0.5, 1.0, 0.0, 0.75]
                .into_iter()
                .cycle(),
        ));
        let d = draws.clone();
        let jitter: Jitter = Arc::new(move || d.lock().unwrap().next().unwrap());
        let retry = Retry::new(clock.clock(), jitter);
        let refresh = Refresh::default();
        let down = ClientError::Status(502);
        let poll = Duration::from_millis(100);
        assert_eq!(
            retry.next_wait(&refresh, poll),
            poll,
            "healthy: the normal wait"
        );
        let expected = [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0];
        let mut got = Vec::new();
        for (i, ceiling) in expected.iter().enumerate() {
            retry.attempt();
            retry.failed(&down);
            let wait = retry.next_wait(&refresh, poll);
            assert!(
                secs(wait) >= ceiling / 2.0 && secs(wait) <= *ceiling,
                "failure {}: {wait:?} outside [{}, {ceiling}] s",
                i + 1,
                ceiling / 2.0
            );
            retry.waiting(wait);
            let stats = retry.stats();
            assert_eq!(stats.consecutive_failures, i as u32 + 1);
            assert_eq!(stats.next_retry_in, Some(wait));
            assert!(stats.next_retry_at.is_some());
            clock.advance(Duration::from_millis(500));
            let left = retry.stats().next_retry_in.unwrap();
            assert_eq!(
                left,
                wait - Duration::from_millis(500),
                "the injected clock"
            );
            retry.done_waiting();
            got.push((secs(wait) * 1000.0).round() / 1000.0);
        }
        // Draws 1, 0, ¼, 0.999, ½, 1, 0, ¾ over ceilings 1, 2, 4, 8, 16, 30, 30, 30.
        assert_eq!(got, [1.0, 1.0, 2.5, 7.996, 12.0, 30.0, 15.0, 26.25]);
        let stats = retry.stats();
        assert_eq!((stats.attempts, stats.failures), (8, 8));
        assert_eq!(stats.next_retry_at, None, "not waiting");

        assert_eq!(retry.succeeded(), 8);
        assert_eq!(retry.next_wait(&refresh, poll), poll);
        retry.failed(&down);
        let wait = retry.next_wait(&refresh, poll);
        assert!(wait >= Duration::from_millis(500) && wait <= Duration::from_secs(1));
    }

    #[test]
    fn retry_after_is_a_floor_capped_at_the_maximum() {
        let retry = Retry::new(system_clock(), Arc::new(|| 0.0));
        let refresh = Refresh::default();
        retry.failed(&ClientError::Unavailable {
            status: 503,
            retry_after: Duration::from_secs(5),
        });
        assert_eq!(
            retry.next_wait(&refresh, Duration::ZERO),
            Duration::from_secs(5)
        );
        retry.failed(&ClientError::Unavailable {
            status: 503,
            retry_after: Duration::from_secs(3600),
        });
        assert_eq!(
            retry.next_wait(&refresh, Duration::ZERO),
            Duration::from_secs(30)
        );
        assert!(!retry.unreachable());
    }
}
