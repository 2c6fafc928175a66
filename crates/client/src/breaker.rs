//! A circuit breaker: open after `failure_threshold` failures in a row, let one trial
//! call through after `reset_timeout` (half-open), close on its success.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The time source; injectable so that tests need not wait 300 s.
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

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    pub failure_threshold: u32,
    pub reset_timeout: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 3,
            reset_timeout: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BreakerStats {
    pub state: BreakerState,
    pub consecutive_failures: u32,
    /// Until the next trial call, while open.
    pub retry_in: Option<Duration>,
    pub calls: u64,
    pub rejected: u64,
}

struct Inner {
    failures: u32,
    opened_at: Option<Instant>,
    trial_in_flight: bool,
}

pub struct Breaker {
    config: BreakerConfig,
    clock: Clock,
    inner: Mutex<Inner>,
    calls: AtomicU64,
    rejected: AtomicU64,
}

impl Breaker {
    pub fn new(config: BreakerConfig, clock: Clock) -> Breaker {
        Breaker {
            config,
            clock,
            inner: Mutex::new(Inner {
                failures: 0,
                opened_at: None,
                trial_in_flight: false,
            }),
            calls: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The guarded data stays consistent even if a holder panicked.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// May a call go to the source now? Every `true` must be followed by
    /// [`success`](Self::success) or [`failure`](Self::failure).
    pub fn allow(&self) -> bool {
        let mut s = self.lock();
        let allowed = match s.opened_at {
            None => true,
            Some(at) if !s.trial_in_flight && (self.clock)() >= at + self.config.reset_timeout => {
                s.trial_in_flight = true;
                true
            }
            Some(_) => false,
        };
        if allowed {
            self.calls.fetch_add(1, Ordering::Relaxed);
        } else {
            self.rejected.fetch_add(1, Ordering::Relaxed);
        }
        allowed
    }

    pub fn success(&self) {
        let mut s = self.lock();
        s.failures = 0;
        s.opened_at = None;
        s.trial_in_flight = false;
    }

    pub fn failure(&self) {
        let mut s = self.lock();
        s.failures = s.failures.saturating_add(1);
        if s.trial_in_flight || s.failures >= self.config.failure_threshold.max(1) {
            s.opened_at = Some((self.clock)());
        }
        s.trial_in_flight = false;
    }

    pub fn state(&self) -> BreakerState {
        let s = self.lock();
        match s.opened_at {
            None => BreakerState::Closed,
            Some(_) if s.trial_in_flight => BreakerState::HalfOpen,
            Some(at) if (self.clock)() >= at + self.config.reset_timeout => BreakerState::HalfOpen,
            Some(_) => BreakerState::Open,
        }
    }

    pub fn stats(&self) -> BreakerStats {
        let retry_in = {
            let s = self.lock();
            s.opened_at.map(|at| {
                (at + self.config.reset_timeout).saturating_duration_since((self.clock)())
            })
        };
        BreakerStats {
            state: self.state(),
            consecutive_failures: self.lock().failures,
            retry_in,
            calls: self.calls.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_three_failures_and_closes_after_a_good_trial() {
        let clock = ManualClock::default();
        let b = Breaker::new(BreakerConfig::default(), clock.clock());
        for _ in 0..3 {
            assert!(b.allow());
            b.failure();
        }
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.allow());
        clock.advance(Duration::from_secs(299));
        assert!(!b.allow());
        clock.advance(Duration::from_secs(1));
        assert!(b.allow(), "half-open: one trial");
        assert!(!b.allow(), "only one trial at a time");
        b.failure();
        assert_eq!(b.state(), BreakerState::Open, "a failed trial opens again");
        clock.advance(Duration::from_secs(300));
        assert!(b.allow());
        b.success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.stats().rejected, 3);
    }
}
