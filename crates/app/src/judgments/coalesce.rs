//! The coalescing rule of judgments, without I/O: per rollout at most one judgment running
//! and one pending. A request while one runs marks it pending; the pending one starts when
//! the running one ends, so it sees every commit made before it starts; a request while one
//! is pending is absorbed by it.

use std::collections::HashMap;

/// What a request for a judgment does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// Nothing ran for this rollout: the caller starts a judgment now.
    Start,
    /// One runs: another is pending, to start when it ends.
    Pending,
    /// One runs and one is pending already: the pending one will see this commit too.
    Absorbed,
}

/// The judgments of every rollout: running, and whether another is pending.
#[derive(Debug, Default)]
pub struct Coalescer {
    /// Rollouts with a running judgment → whether another is pending.
    busy: HashMap<String, bool>,
}

impl Coalescer {
    /// A commit of `rollout` asks for a judgment.
    pub fn request(&mut self, rollout: &str) -> Requested {
        match self.busy.get_mut(rollout) {
            None => {
                self.busy.insert(rollout.to_owned(), false);
                Requested::Start
            }
            Some(pending @ false) => {
                *pending = true;
                Requested::Pending
            }
            Some(true) => Requested::Absorbed,
        }
    }

    /// The running judgment of `rollout` ended. True when the pending one starts now (the
    /// caller runs it, and calls this again when it ends); false when the rollout is idle.
    pub fn finished(&mut self, rollout: &str) -> bool {
        match self.busy.get_mut(rollout) {
            Some(pending @ true) => {
                *pending = false;
                true
            }
            Some(false) => {
                self.busy.remove(rollout);
                false
            }
            None => false,
        }
    }

    /// How many rollouts have a judgment running.
    pub fn running(&self) -> usize {
        self.busy.len()
    }

    /// How many rollouts have a judgment pending.
    pub fn pending(&self) -> usize {
        self.busy.values().filter(|p| **p).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_request_starts_a_judgment() {
        let mut c = Coalescer::default();
        assert_eq!(c.request("a"), Requested::Start);
        assert_eq!((c.running(), c.pending()), (1, 0));
        assert!(!c.finished("a"), "nothing pending: idle");
        assert_eq!(c.running(), 0);
        assert_eq!(c.request("a"), Requested::Start, "idle again: starts again");
    }

    #[test]
    fn requests_while_one_runs_make_one_pending_and_the_rest_are_absorbed() {
        let mut c = Coalescer::default();
        assert_eq!(c.request("a"), Requested::Start);
        assert_eq!(c.request("a"), Requested::Pending);
        for _ in 0..100 {
            assert_eq!(c.request("a"), Requested::Absorbed);
        }
        assert_eq!((c.running(), c.pending()), (1, 1));
        // The running one ends: the pending one starts, and nothing is pending after it.
        assert!(c.finished("a"));
        assert_eq!((c.running(), c.pending()), (1, 0));
        assert!(!c.finished("a"));
        assert_eq!(c.running(), 0);
    }

    #[test]
    fn a_request_during_the_pending_run_makes_another_pending() {
        // The pending judgment has started; a commit after its start is not seen by it, so
        // it must be judged again.
        let mut c = Coalescer::default();
        c.request("a");
        c.request("a");
        assert!(c.finished("a"), "the pending one starts");
        assert_eq!(c.request("a"), Requested::Pending);
        assert!(c.finished("a"));
        assert!(!c.finished("a"));
    }

    #[test]
    fn rollouts_coalesce_separately() {
        let mut c = Coalescer::default();
        assert_eq!(c.request("a"), Requested::Start);
        assert_eq!(c.request("b"), Requested::Start);
        assert_eq!(c.request("a"), Requested::Pending);
        assert_eq!(c.request("b"), Requested::Pending);
        assert_eq!(c.request("b"), Requested::Absorbed);
        assert_eq!((c.running(), c.pending()), (2, 2));
        assert!(c.finished("b"));
        assert!(!c.finished("b"));
        assert_eq!((c.running(), c.pending()), (1, 1));
    }

    #[test]
    fn a_finish_without_a_run_is_ignored() {
        let mut c = Coalescer::default();
        assert!(!c.finished("never"));
        assert_eq!(c.running(), 0);
    }

    /// Any interleaving of requests and finishes keeps the promise: after every request a
    /// judgment starts later (one starting now, or one pending), and at most one runs and
    /// one waits per rollout.
    #[test]
    fn every_request_is_followed_by_a_judgment_that_starts_after_it() {
        let mut c = Coalescer::default();
        // A deterministic pseudo-random walk over two rollouts.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut running = [false; 2];
        // Requests not yet covered by a judgment starting after them, per rollout.
        let mut uncovered = [0u32; 2];
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x % 2) as usize;
            let name = ["a", "b"][i];
            if x.is_multiple_of(3) && running[i] {
                if c.finished(name) {
                    uncovered[i] = 0; // the pending one starts now: it sees them all
                } else {
                    running[i] = false;
                    assert_eq!(uncovered[i], 0, "a request was lost");
                }
            } else {
                match c.request(name) {
                    Requested::Start => {
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
