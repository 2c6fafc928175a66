//! Judgments of new observations, off the request path: a commit asks for one
//! ([`Judgments::request`], which never waits) and a task runs it, coalesced by
//! [`coalesce::Coalescer`]: per rollout at most one running and one pending, the pending
//! one starting after the running one ends, so that it sees every commit before it starts,
//! and starts spaced by [`coalesce::MIN_SPACING`], so that a flood of requests costs at most
//! one judgment per interval and rollout (the first request after a quiet spell runs at once).
//! What a judgment does (as which writer, what it logs and counts) is the caller's
//! `judge`: the daemon's judges as the leader, with its epoch, while it leads.

pub mod coalesce;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use coalesce::{Coalescer, Requested};

/// One judgment of a rollout, as the caller runs it.
pub type JudgeFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs judgments of rollouts, coalesced; cheap to clone (the clones share the runs).
#[derive(Clone)]
pub struct Judgments {
    inner: Arc<Inner>,
}

struct Inner {
    coalescer: Mutex<Coalescer>,
    judge: Box<dyn Fn(String) -> JudgeFuture + Send + Sync>,
}

impl Judgments {
    /// Judgments that run `judge(rollout)`, each on a task of its own.
    pub fn new(judge: impl Fn(String) -> JudgeFuture + Send + Sync + 'static) -> Judgments {
        Judgments::with_spacing(coalesce::MIN_SPACING, judge)
    }

    /// Judgments whose starts, per rollout, are at least `spacing` apart.
    pub fn with_spacing(
        spacing: Duration,
        judge: impl Fn(String) -> JudgeFuture + Send + Sync + 'static,
    ) -> Judgments {
        Judgments {
            inner: Arc::new(Inner {
                coalescer: Mutex::new(Coalescer::new(spacing)),
                judge: Box::new(judge),
            }),
        }
    }

    /// New observations of `rollout` are committed: judge them soon. Returns at once (it
    /// needs a tokio runtime to start the task on).
    pub fn request(&self, rollout: &str) -> Requested {
        let requested = self.inner.lock().request(rollout, Instant::now());
        if let Requested::Start { after } = requested {
            tokio::spawn(run(self.inner.clone(), rollout.to_owned(), after));
        }
        requested
    }

    /// How many rollouts have a judgment running.
    pub fn running(&self) -> usize {
        self.inner.lock().running()
    }

    /// How many rollouts have a judgment pending.
    pub fn pending(&self) -> usize {
        self.inner.lock().pending()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Coalescer> {
        // The coalescer's state is consistent after every call: a panic elsewhere while
        // the lock was held leaves nothing half done.
        self.coalescer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs the judgment of `rollout` after `wait`, then the pending one while there is one.
async fn run(inner: Arc<Inner>, rollout: String, mut wait: Duration) {
    loop {
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        // On a task of its own, so that a panicking judgment does not leave the rollout
        // marked running (and never judged again).
        if let Err(e) = tokio::spawn((inner.judge)(rollout.clone())).await {
            tracing::error!(rollout = %rollout, error = %e, "a judgment of new observations panicked");
        }
        match inner.lock().finished(&rollout, Instant::now()) {
            Some(next) => wait = next,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use tokio::sync::Semaphore;

    use super::*;

    /// Polls `check` until true, for at most 10 s.
    async fn eventually(what: &str, check: impl Fn() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !check() {
            assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// A judge that counts the judgments started and waits for a permit to finish each.
    fn gated() -> (Judgments, Arc<AtomicUsize>, Arc<Semaphore>) {
        let started = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Semaphore::new(0));
        let (s, g) = (started.clone(), gate.clone());
        let j = Judgments::new(move |_| {
            let (s, g) = (s.clone(), g.clone());
            Box::pin(async move {
                s.fetch_add(1, Ordering::SeqCst);
                g.acquire().await.expect("gate open").forget();
            })
        });
        (j, started, gate)
    }

    #[tokio::test]
    async fn requests_while_one_runs_coalesce_into_one_more_judgment() {
        let (j, started, gate) = gated();
        assert!(j.request("a").starts());
        eventually("the first judgment starts", || {
            started.load(Ordering::SeqCst) == 1
        })
        .await;
        assert_eq!(j.request("a"), Requested::Pending);
        for _ in 0..50 {
            assert_eq!(j.request("a"), Requested::Absorbed);
        }
        assert_eq!((j.running(), j.pending()), (1, 1));
        // The running one ends; the pending one starts after it, and only it.
        gate.add_permits(1);
        eventually("the pending judgment starts", || {
            started.load(Ordering::SeqCst) == 2
        })
        .await;
        assert_eq!((j.running(), j.pending()), (1, 0));
        gate.add_permits(1);
        eventually("idle", || j.running() == 0).await;
        assert_eq!(
            started.load(Ordering::SeqCst),
            2,
            "52 requests, 2 judgments"
        );
    }

    #[tokio::test]
    async fn a_panicking_judgment_does_not_stop_later_ones() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let j = Judgments::new(move |_| {
            let n = c.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                assert!(n > 0, "the first judgment fails");
            })
        });
        j.request("a");
        eventually("the failed judgment ends", || j.running() == 0).await;
        assert!(j.request("a").starts());
        eventually("the next one ran", || calls.load(Ordering::SeqCst) == 2).await;
    }
}
