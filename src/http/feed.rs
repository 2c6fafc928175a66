//! The change feed behind `/v1/flags/stream`: reads committed flag changes from the
//! history in version order and broadcasts them inside the process.
//!
//! It wakes on `NOTIFY rollout_flags` (PostgreSQL), on [`Feed::poke`] after an in-process
//! commit, and on a poll of the table version (every 200 ms on SQLite, where other
//! processes such as the CLI write without notifying; every 5 s on PostgreSQL as a net).
//! Subscribers that lag re-read from the store by version; nothing is skipped. A version
//! that went down (a restored database) is broadcast as a change without a rollout, which
//! streams answer with a snapshot.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, Notify};
use tokio::task::JoinHandle;
use tracing::{debug, info};

use crate::store::{FlagChange, Store};

/// History rows read per query.
pub const PAGE: i64 = 1000;

pub struct Feed {
    tx: broadcast::Sender<Arc<FlagChange>>,
    poke: Arc<Notify>,
    tasks: Vec<JoinHandle<()>>,
}

impl Feed {
    /// Starts the feed's tasks on the current tokio runtime.
    pub fn start(store: Arc<dyn Store>, database_url: &str) -> Feed {
        let (tx, _) = broadcast::channel(1024);
        let poke = Arc::new(Notify::new());
        // On PostgreSQL, the listener's connection is made as the store's are (named, with
        // the server's keepalives).
        let listener = crate::store::DatabaseUrl::parse(database_url)
            .ok()
            .filter(|u| u.is_postgres())
            .map(|u| crate::store::pg_listener_pool(&u));
        let postgres = listener.is_some();
        let poll = if postgres {
            Duration::from_secs(5)
        } else {
            Duration::from_millis(200)
        };
        // Supervised: a task that panics is logged and started again.
        let (t, p) = (tx.clone(), poke.clone());
        let mut tasks = vec![crate::supervise::supervise("change feed", move || {
            run(store.clone(), t.clone(), p.clone(), poll)
        })];
        match listener {
            Some(Ok(pool)) => {
                let p = poke.clone();
                tasks.push(crate::supervise::supervise("flag listener", move || {
                    listen(pool.clone(), p.clone())
                }));
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "cannot listen for flag changes; the poll still finds them")
            }
            None => {}
        }
        Feed { tx, poke, tasks }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<FlagChange>> {
        self.tx.subscribe()
    }

    /// Something may have been committed: look now rather than at the next poll.
    pub fn poke(&self) {
        self.poke.notify_one();
    }

    /// [`Feed::poke`] for a task that outlives a borrow of the feed.
    pub fn poker(&self) -> impl Fn() + Send + Sync + 'static {
        let poke = self.poke.clone();
        move || poke.notify_one()
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn run(
    store: Arc<dyn Store>,
    tx: broadcast::Sender<Arc<FlagChange>>,
    poke: Arc<Notify>,
    poll: Duration,
) {
    let mut last = loop {
        match store.flags_version().await {
            Ok(v) => break v,
            Err(e) => {
                debug!(error = %e, "change feed: store not ready");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    loop {
        tokio::select! {
            _ = poke.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
        match store.flags_version().await {
            Ok(v) if v == last => continue,
            Ok(v) if v < last => {
                // A restored database: start over from its version, and tell the streams,
                // which answer with a snapshot (see `stream::pump`).
                last = v;
                let _ = tx.send(Arc::new(FlagChange {
                    version: v,
                    rollout: String::new(),
                    changed: Default::default(),
                }));
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                debug!(error = %e, "change feed: cannot read the flags version");
                continue;
            }
        }
        loop {
            match store.flag_changes_since(last, PAGE).await {
                Ok(changes) if changes.is_empty() => break,
                Ok(changes) => {
                    for c in changes {
                        last = c.version;
                        // No subscriber is fine: nobody is streaming.
                        let _ = tx.send(Arc::new(c));
                    }
                }
                Err(e) => {
                    debug!(error = %e, "change feed: cannot read the history");
                    break;
                }
            }
        }
    }
}

/// `LISTEN rollout_flags`, poking the feed on every notification and after each
/// (re)connection, so that nothing committed while disconnected is missed.
async fn listen(pool: sqlx::PgPool, poke: Arc<Notify>) {
    const FIRST: Duration = Duration::from_millis(500);
    let mut wait = FIRST;
    loop {
        match listen_once(&pool, &poke, &mut wait).await {
            Ok(()) => {}
            Err(e) => debug!(error = %e, retry_in = ?wait, "flag listener lost its connection"),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(30));
    }
}

/// Listens until the connection fails; `wait` (the reconnect backoff) starts again once a
/// connection is up.
async fn listen_once(
    pool: &sqlx::PgPool,
    poke: &Notify,
    wait: &mut Duration,
) -> Result<(), sqlx::Error> {
    let mut l = sqlx::postgres::PgListener::connect_with(pool).await?;
    l.listen("rollout_flags").await?;
    *wait = Duration::from_millis(500);
    info!("listening for flag changes");
    poke.notify_one();
    loop {
        // `None`: the connection dropped (the next call reconnects); catch up anyway.
        let _ = l.try_recv().await?;
        poke.notify_one();
    }
}
