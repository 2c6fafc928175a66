//! The coalescing rule of judgments, without I/O: per rollout at most one judgment running
//! and one pending, and judgment starts spaced by at least a minimum interval. A request
//! while one runs marks it pending; the pending one starts when the running one ends (and
//! the spacing has passed), so it sees every commit made before it starts; a request while
//! one is pending is absorbed by it. The first request after a quiet spell starts at once:
//! the spacing only delays the later ones, so a flood of requests (a `NOTIFY` storm) costs
//! at most one judgment per interval and rollout, and a lone breach is judged at once.
//!
//! Time is an input (`now`), so that the rule is tested without a clock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The least time between the starts of two judgments of one rollout.
pub const MIN_SPACING: Duration = Duration::from_millis(200);

/// What a request for a judgment does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// Nothing ran for this rollout: the caller starts a judgment after `after` (zero when
    /// the last one started at least the spacing ago).
    Start { after: Duration },
    /// One runs (or waits to start): another is pending, to start when it ends.
    Pending,
    /// One runs and one is pending already: the pending one will see this commit too.
    Absorbed,
}

impl Requested {
    /// Whether the caller starts a judgment.
    pub fn starts(&self) -> bool {
        matches!(self, Requested::Start { .. })
    }
}

/// One rollout's judgments.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// A judgment runs or waits for its start.
    busy: bool,
    /// Another one is pending, to start after it.
    pending: bool,
    /// When the last judgment started (or is due to start).
    started: Instant,
}

/// The judgments of every rollout: running, whether another is pending, and when the
/// last one started.
#[derive(Debug)]
pub struct Coalescer {
    spacing: Duration,
    slots: HashMap<String, Slot>,
}

impl Default for Coalescer {
    fn default() -> Self {
        Coalescer::new(MIN_SPACING)
    }
}

impl Coalescer {
    /// Judgment starts of one rollout at least `spacing` apart.
    pub fn new(spacing: Duration) -> Coalescer {
        Coalescer {
            spacing,
            slots: HashMap::new(),
        }
    }

    /// How long after `now` a judgment of a rollout whose last one started at `last` may
    /// start.
    fn wait(&self, last: Option<Instant>, now: Instant) -> Duration {
        last.map_or(Duration::ZERO, |t| {
            (t + self.spacing).saturating_duration_since(now)
        })
    }

    /// A commit of `rollout` asks for a judgment at `now`.
    pub fn request(&mut self, rollout: &str, now: Instant) -> Requested {
        // Idle rollouts are remembered only while their last start is within the spacing.
        let spacing = self.spacing;
        self.slots
            .retain(|_, s| s.busy || s.started + spacing > now);
        let wait = self.wait(self.slots.get(rollout).map(|s| s.started), now);
        match self.slots.get_mut(rollout) {
            Some(s) if s.busy && s.pending => Requested::Absorbed,
            Some(s) if s.busy => {
                s.pending = true;
                Requested::Pending
            }
            _ => {
                self.slots.insert(
                    rollout.to_owned(),
                    Slot {
                        busy: true,
                        pending: false,
                        started: now + wait,
                    },
                );
                Requested::Start { after: wait }
            }
        }
    }

    /// The running judgment of `rollout` ended at `now`. `Some(wait)` when the pending one
    /// starts after `wait` (the caller runs it, and calls this again when it ends); `None`
    /// when the rollout is idle.
    pub fn finished(&mut self, rollout: &str, now: Instant) -> Option<Duration> {
        let last = self.slots.get(rollout).map(|s| s.started);
        let wait = self.wait(last, now);
        let slot = self.slots.get_mut(rollout)?;
        if slot.pending {
            slot.pending = false;
            slot.started = now + wait;
            Some(wait)
        } else {
            slot.busy = false;
            None
        }
    }

    /// How many rollouts have a judgment running (or waiting for its start).
    pub fn running(&self) -> usize {
        self.slots.values().filter(|s| s.busy).count()
    }

    /// How many rollouts have a judgment pending.
    pub fn pending(&self) -> usize {
        self.slots.values().filter(|s| s.pending).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Duration = Duration::ZERO;
    const SPACING: Duration = Duration::from_millis(200);

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    fn start(after: Duration) -> Requested {
        Requested::Start { after }
    }

    #[test]
    fn the_first_request_starts_a_judgment_at_once() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(SPACING);
        assert_eq!(c.request("a", t0), start(NOW));
        assert_eq!((c.running(), c.pending()), (1, 0));
        assert_eq!(c.finished("a", at(t0, 5)), None, "nothing pending: idle");
        assert_eq!(c.running(), 0);
        // Idle again, and the spacing has passed: at once.
        assert_eq!(c.request("a", at(t0, 200)), start(NOW));
    }

    #[test]
    fn a_request_soon_after_the_last_start_waits_for_the_spacing() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(SPACING);
        assert_eq!(c.request("a", t0), start(NOW));
        assert_eq!(c.finished("a", at(t0, 10)), None);
        assert_eq!(
            c.request("a", at(t0, 50)),
            start(Duration::from_millis(150)),
            "started 50 ms after the last one: waits the rest of the 200 ms"
        );
        // While it waits for its start, it is busy: further requests coalesce.
        assert_eq!(c.request("a", at(t0, 60)), Requested::Pending);
        assert_eq!(c.request("a", at(t0, 70)), Requested::Absorbed);
        // It started at 200 and ends at 210: the pending one starts at 400.
        assert_eq!(
            c.finished("a", at(t0, 210)),
            Some(Duration::from_millis(190))
        );
        assert_eq!(c.finished("a", at(t0, 450)), None);
    }

    #[test]
    fn a_pending_judgment_after_a_long_one_starts_at_once() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(SPACING);
        c.request("a", t0);
        assert_eq!(c.request("a", at(t0, 1)), Requested::Pending);
        assert_eq!(c.finished("a", at(t0, 500)), Some(NOW));
    }

    #[test]
    fn requests_while_one_runs_make_one_pending_and_the_rest_are_absorbed() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(SPACING);
        assert_eq!(c.request("a", t0), start(NOW));
        assert_eq!(c.request("a", t0), Requested::Pending);
        for _ in 0..100 {
            assert_eq!(c.request("a", t0), Requested::Absorbed);
        }
        assert_eq!((c.running(), c.pending()), (1, 1));
        // The running one ends: the pending one starts, and nothing is pending after it.
        assert!(c.finished("a", at(t0, 300)).is_some());
        assert_eq!((c.running(), c.pending()), (1, 0));
        assert_eq!(c.finished("a", at(t0, 301)), None);
        assert_eq!(c.running(), 0);
    }

    #[test]
    fn a_request_during_the_pending_run_makes_another_pending() {
        // The pending judgment has started; a commit after its start is not seen by it, so
        // it must be judged again.
        let t0 = Instant::now();
        let mut c = Coalescer::new(SPACING);
        c.request("a", t0);
        c.request("a", t0);
        assert!(c.finished("a", t0).is_some(), "the pending one starts");
        assert_eq!(c.request("a", t0), Requested::Pending);
        assert!(c.finished("a", t0).is_some());
        assert!(c.finished("a", t0).is_none());
    }

    #[test]
    fn rollouts_coalesce_and_space_separately() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(SPACING);
        assert_eq!(c.request("a", t0), start(NOW));
        assert_eq!(c.request("b", t0), start(NOW), "b does not wait for a");
        assert_eq!(c.request("a", t0), Requested::Pending);
        assert_eq!(c.request("b", t0), Requested::Pending);
        assert_eq!(c.request("b", t0), Requested::Absorbed);
        assert_eq!((c.running(), c.pending()), (2, 2));
        assert!(c.finished("b", t0).is_some());
        assert!(c.finished("b", t0).is_none());
        assert_eq!((c.running(), c.pending()), (1, 1));
    }

    #[test]
    fn a_finish_without_a_run_is_ignored() {
        let mut c = Coalescer::new(SPACING);
        assert_eq!(c.finished("never", Instant::now()), None);
        assert_eq!(c.running(), 0);
    }

    #[test]
    fn idle_rollouts_are_forgotten_once_the_spacing_has_passed() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(SPACING);
        for i in 0..1000 {
            let name = format!("r{i}");
            c.request(&name, t0);
            c.finished(&name, t0);
        }
        c.request("last", at(t0, 200));
        assert_eq!(c.slots.len(), 1, "only the busy one is remembered");
    }

    /// A flood: a request every 50 µs for 10 simulated seconds (200,000 requests), each
    /// judgment taking 1 ms. At most one judgment starts per spacing (10 s / 200 ms = 50,
    /// plus the first), and starts are never closer than the spacing.
    #[test]
    fn a_flood_of_requests_costs_at_most_one_judgment_per_interval() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(SPACING);
        let mut starts: Vec<Instant> = Vec::new();
        // When the running judgment ends (its start + 1 ms), if one runs.
        let mut ends_at: Option<Instant> = None;
        let step = Duration::from_micros(50);
        let mut now = t0;
        while now < t0 + Duration::from_secs(10) {
            if let Some(end) = ends_at.filter(|e| *e <= now) {
                ends_at = c.finished("a", end).map(|wait| {
                    starts.push(end + wait);
                    end + wait + Duration::from_millis(1)
                });
            }
            if let Requested::Start { after } = c.request("a", now) {
                starts.push(now + after);
                ends_at = Some(now + after + Duration::from_millis(1));
            }
            now += step;
        }
        assert!(starts.len() <= 51, "{} judgments", starts.len());
        assert!(
            starts.len() >= 49,
            "the flood is judged every interval: {}",
            starts.len()
        );
        for w in starts.windows(2) {
            assert!(w[1] - w[0] >= SPACING, "{:?}", w[1] - w[0]);
        }
    }

    /// Any interleaving of requests and finishes keeps the promise: after every request a
    /// judgment starts later (one starting now, or one pending), and at most one runs and
    /// one waits per rollout.
    #[test]
    fn every_request_is_followed_by_a_judgment_that_starts_after_it() {
        let t0 = Instant::now();
        let mut c = Coalescer::new(SPACING);
        // A deterministic pseudo-random walk over two rollouts.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut running = [false; 2];
        // Requests not yet covered by a judgment starting after them, per rollout.
        let mut uncovered = [0u32; 2];
        let mut now = t0;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            now += Duration::from_millis(x % 50);
            let i = (x % 2) as usize;
            let name = ["a", "b"][i];
            if x.is_multiple_of(3) && running[i] {
                if c.finished(name, now).is_some() {
                    uncovered[i] = 0; // the pending one starts now: it sees them all
                } else {
                    running[i] = false;
                    assert_eq!(uncovered[i], 0, "a request was lost");
                }
            } else {
                match c.request(name, now) {
                    Requested::Start { .. } => {
                        assert!(!running[i]);
                        running[i] = true;
                    }
                    Requested::Pending | Requested::Absorbed => {
                        assert!(running[i]);
                        uncovered[i] += 1;
                    }
                }
            }
            assert!(c.running() <= 2 && c.pending() <= 2);
        }
    }
}
