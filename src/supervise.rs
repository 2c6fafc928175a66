//! Supervision of the process's long-running background tasks (the webhook sender, the
//! observation listener, the change feed): a task that panics or ends is logged and started
//! again, so that one bug does not silently stop webhooks or wake-ups for the rest of the
//! process's life.

use std::future::Future;
use std::time::Duration;

use tokio::task::{AbortHandle, JoinHandle};
use tracing::{error, warn};

/// The pause before a task is started again.
pub const RESTART_DELAY: Duration = Duration::from_secs(1);

/// Runs `make()` on a task of its own, and again (after [`RESTART_DELAY`]) whenever it
/// panics or ends. Aborting the returned handle stops the task for good.
pub fn supervise<F, Fut>(name: &'static str, make: F) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    supervise_with(name, RESTART_DELAY, make)
}

/// [`supervise`] with the pause before a restart given.
pub fn supervise_with<F, Fut>(name: &'static str, delay: Duration, make: F) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let task = tokio::spawn(make());
            // Dropped when this supervisor is aborted: the task goes with it.
            let _guard = AbortOnDrop(task.abort_handle());
            match task.await {
                Ok(()) => warn!(task = name, "a background task ended; starting it again"),
                Err(e) if e.is_panic() => {
                    error!(task = name, error = %e, "a background task panicked; starting it again")
                }
                Err(_) => return,
            }
            tokio::time::sleep(delay).await;
        }
    })
}

struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn a_task_that_panics_or_ends_is_started_again() {
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let handle = supervise_with("test", Duration::from_millis(1), move || {
            let n = r.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0 => panic!("the first run panics"),
                    1 => {}                                  // the second ends
                    _ => std::future::pending::<()>().await, // the third runs on
                }
            }
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while runs.load(Ordering::SeqCst) < 3 {
            assert!(tokio::time::Instant::now() < deadline, "not restarted");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        handle.abort();
        let _ = handle.await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            3,
            "running, not restarted again"
        );
    }

    #[tokio::test]
    async fn aborting_the_supervisor_stops_the_task() {
        let dropped = Arc::new(AtomicUsize::new(0));
        struct Flag(Arc<AtomicUsize>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let d = dropped.clone();
        let started = Arc::new(tokio::sync::Notify::new());
        let s = started.clone();
        let handle = supervise("test", move || {
            let flag = Flag(d.clone());
            let s = s.clone();
            async move {
                let _flag = flag;
                s.notify_one();
                std::future::pending::<()>().await
            }
        });
        started.notified().await;
        handle.abort();
        let _ = handle.await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while dropped.load(Ordering::SeqCst) == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the task still runs"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
