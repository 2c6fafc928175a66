//! A fault-injection hook for the process-level tests, inert unless its variable is set:
//! `ROLLOUT_TEST_HOLD_COMMIT=ACTION` holds every commit of a transition `ACTION` (e.g.
//! `advance`) open for a minute before it commits, with its locks taken, so that a test can
//! freeze (SIGSTOP) a leader inside its write transaction. It logs the moment it starts to
//! hold, which the test waits for.

use std::sync::OnceLock;
use std::time::Duration;

/// How long a held commit stays open (the server's idle-in-transaction timeout ends it
/// sooner).
const HOLD: Duration = Duration::from_secs(60);

/// Holds the commit of `rollout`'s `action` open when the hook asks for it.
pub(crate) async fn hold_commit(rollout: &str, action: &str) {
    static ACTION: OnceLock<Option<String>> = OnceLock::new();
    let wanted = ACTION.get_or_init(|| std::env::var("ROLLOUT_TEST_HOLD_COMMIT").ok());
    if wanted.as_deref() == Some(action) {
        tracing::warn!(%rollout, %action, "test hook: holding the commit transaction open");
        tokio::time::sleep(HOLD).await;
    }
}
