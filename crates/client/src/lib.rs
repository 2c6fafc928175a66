//! The Rust client of the flags the controller writes: reads them from SQLite or
//! PostgreSQL directly, or from the daemon over HTTP (event stream, or polling with
//! `If-None-Match`), keeps them in memory and answers from there.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rollout_client::ClientError> {
//! use rollout_client::{Client, Options};
//! let client = Client::connect("http://127.0.0.1:8080", Options::default()
//!     .with_default("LEARNING_APPLY_PARAMETERS", "false")).await?;
//! let on = client.enabled_for("learning-intelligence", "AAPL");   // no I/O
//! let weights = client.parameters_for("learning-intelligence", "AAPL");
//! # Ok(()) }
//! ```
//!
//! Every call to the source is bounded by `timeout`. Reading flags is never cut off by a
//! circuit breaker: a failed call is retried with capped exponential backoff (1 s doubling
//! to 30 s, jittered to [½, 1]; see [`Refresh`]), and while the source is down reads serve
//! the last flags loaded, or the defaults. While an HTTP daemon refuses connections, the
//! client probes its port every second (a TCP connect, nothing sent) and reconnects as soon
//! as it accepts, resuming the stream from its version: a change committed while the daemon
//! was down (a CLI rollback) arrives within about a second of the daemon's return.
//! [`Client::stats`] shows the retry state.
//!
//! # Cargo features
//!
//! Each transport is a feature; all three are on by default. A service that reads over
//! HTTP only depends on `rollout-client = { default-features = false, features = ["http"] }`
//! and builds neither sqlx nor a database driver.
//!
//! | feature    | sources                  | pulls in                         |
//! |------------|--------------------------|----------------------------------|
//! | `http`     | `http://`, `https://`    | reqwest (rustls)                 |
//! | `postgres` | `postgres://`            | sqlx with its PostgreSQL driver  |
//! | `sqlite`   | `sqlite://`              | sqlx with SQLite (bundled C)     |
//!
//! A URL whose feature is off is refused by [`Client::connect`] with
//! [`ClientError::BadSource`] naming the feature. Without any feature the crate still
//! builds ([`Snapshot`], the assignment rule, the retry schedule, the SSE parser), but no
//! source parses.
//!
//! The assignment rule comes from `rollout-core` built without its default features: only
//! its `assignment` and `database_url` modules (rand, rand_chacha, sha2, serde, thiserror).
//! Neither the configuration parser, the controller, nor the statistics (statrs) are
//! linked, and nothing of the daemon (axum, clap, tokio-cron-scheduler).

mod refresh;
mod retry;
mod snapshot;
mod source;
pub mod sse;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{watch, Notify};

pub use retry::{random_jitter, system_clock, Clock, Jitter, ManualClock, RetryStats};
pub use rollout_core::assignment::Variant;
pub use snapshot::{rollout_prefixes, Row, Snapshot, Table};
pub use source::{Load, Source};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad source: {0}")]
    BadSource(String),
    #[error("the source did not answer within {0:?}")]
    Timeout(Duration),
    #[cfg(any(feature = "postgres", feature = "sqlite"))]
    #[error("SQL: {0}")]
    Sql(#[from] sqlx::Error),
    /// Shown with its causes (`... : Connection refused`), as `stats().last_error` is.
    #[cfg(feature = "http")]
    #[error("HTTP: {}", with_causes(.0))]
    Http(#[from] reqwest::Error),
    #[error("HTTP status {0}")]
    Status(u16),
    /// A 429 or 503 with `Retry-After`: the next attempt waits at least that long.
    #[error("HTTP status {status}, retry after {retry_after:?}")]
    Unavailable { status: u16, retry_after: Duration },
    #[error("the server has no event stream (status {0})")]
    NoStream(u16),
    #[error("unexpected response: {0}")]
    BadResponse(String),
}

/// `e: cause: cause ...`, each text once (a wrapper often repeats its cause).
#[cfg(feature = "http")]
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

impl ClientError {
    /// Nothing answered: the connection was refused or could not be made. Only then is the
    /// daemon's port probed while waiting; a daemon that answers, even with an error, is
    /// left alone until the backoff says so.
    pub fn is_unreachable(&self) -> bool {
        match self {
            #[cfg(feature = "http")]
            ClientError::Http(e) => e.is_connect(),
            _ => false,
        }
    }

    /// The server's `Retry-After`, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match *self {
            ClientError::Unavailable { retry_after, .. } => Some(retry_after),
            _ => None,
        }
    }
}

/// How the cache is kept fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Stream over HTTP, poll over SQL.
    Auto,
    Stream,
    Poll,
    /// No background refresh: call [`Client::refresh`].
    Off,
}

/// How the cache is kept fresh, and how failed calls are retried.
#[derive(Debug, Clone)]
pub struct Refresh {
    pub mode: Mode,
    /// Between polls while the source answers (SQL, or HTTP without a stream).
    pub poll_interval: Duration,
    /// After the n-th failed call in a row (a load, or opening the stream) the next waits
    /// `backoff_initial · 2^(n−1)`, capped at `backoff_max`, jittered to [½, 1] of that
    /// ([`Refresh::backoff`]); a poll waits at least `poll_interval`, and a server's
    /// `Retry-After` is a floor. A stream that ended after working is reopened after about
    /// `backoff_initial`. Nothing stops the retries: no circuit breaker.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// While an HTTP daemon refuses connections (its process is not running), check every
    /// `probe_interval` (jittered to [½, 1]) whether its port accepts a TCP connection
    /// (nothing is sent), and end the wait as soon as it does. The backoff bounds the calls
    /// a struggling daemon gets; the probe bounds how late a restarted one is noticed.
    /// `None`: no probe, the backoff alone.
    pub probe_interval: Option<Duration>,
    /// A stream silent this long is dead (the server sends a keepalive every 15 s).
    pub stream_read_timeout: Duration,
    /// How often to try the stream again after the server said it has none.
    pub stream_retry_interval: Duration,
}

impl Default for Refresh {
    fn default() -> Self {
        Refresh {
            mode: Mode::Auto,
            poll_interval: Duration::from_secs(1),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            probe_interval: Some(Duration::from_secs(1)),
            stream_read_timeout: Duration::from_secs(45),
            stream_retry_interval: Duration::from_secs(300),
        }
    }
}

#[derive(Clone)]
pub struct Options {
    /// Values for keys the table does not have; all there is before the first load.
    pub defaults: HashMap<String, String>,
    /// Bounds start-up and every call to the source.
    pub timeout: Duration,
    /// The clock of the retry state (`next_retry_in`); injectable for tests.
    pub clock: Clock,
    /// Draws in [0, 1] for the backoff's jitter; injectable for tests.
    pub jitter: Jitter,
    pub refresh: Refresh,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            defaults: HashMap::new(),
            timeout: Duration::from_millis(1500),
            clock: system_clock(),
            jitter: random_jitter(),
            refresh: Refresh::default(),
        }
    }
}

impl Options {
    pub fn with_default(mut self, key: &str, value: &str) -> Options {
        self.defaults.insert(key.to_owned(), value.to_owned());
        self
    }

    pub fn mode(mut self, mode: Mode) -> Options {
        self.refresh.mode = mode;
        self
    }
}

/// Counters and times for a health endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub kind: &'static str,
    pub version: Option<i64>,
    pub using_defaults: bool,
    /// Calls, failures in a row, when the next retry is due.
    pub retry: RetryStats,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub full_loads: u64,
    pub not_modified: u64,
    pub changes_applied: u64,
    pub stream_connects: u64,
    pub gaps: u64,
}

#[derive(Default)]
struct Counters {
    full_loads: AtomicU64,
    not_modified: AtomicU64,
    changes_applied: AtomicU64,
    stream_connects: AtomicU64,
    gaps: AtomicU64,
}

#[derive(Default)]
struct Times {
    last_success_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
}

pub(crate) struct Shared {
    source: Source,
    opts: Options,
    retry: retry::Retry,
    /// Ends the refresher's wait: a `NOTIFY`, or a successful [`Client::refresh`].
    wake: Notify,
    snapshot: ArcSwap<Snapshot>,
    version_tx: watch::Sender<Option<i64>>,
    counters: Counters,
    times: Mutex<Times>,
}

impl Shared {
    /// Installs a table the event stream delivered.
    #[cfg(feature = "http")]
    fn install(&self, table: Table) {
        let version = table.version;
        self.snapshot
            .store(Arc::new(Snapshot::new(&self.opts.defaults, Some(table))));
        self.version_tx.send_replace(Some(version));
    }

    /// Installs a table loaded when the cache held version `known`, unless the cache has
    /// moved past it meanwhile (a load that started before the stream applied a change must
    /// not take the cache back). A cache that did not move takes any version, lower ones
    /// too: the store's full state is authoritative (a restored database).
    fn install_loaded(&self, table: Table, known: Option<i64>) {
        let version = table.version;
        let fresh = Arc::new(Snapshot::new(&self.opts.defaults, Some(table)));
        let previous = self.snapshot.rcu(|current| {
            let moved = current.version() != known;
            if moved && current.version().is_some_and(|v| v > version) {
                current.clone()
            } else {
                fresh.clone()
            }
        });
        let kept = previous.version() != known && previous.version().is_some_and(|v| v > version);
        if !kept {
            self.version_tx.send_replace(Some(version));
        }
    }

    fn times(&self) -> std::sync::MutexGuard<'_, Times> {
        self.times.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns the failures in a row this success ends.
    fn succeeded(&self) -> u32 {
        self.times().last_success_at = Some(Utc::now());
        self.retry.succeeded()
    }

    fn failed(&self, e: &ClientError) {
        self.retry.failed(e);
        self.note_error(e);
    }

    /// Shows `e` in the stats without counting a failure (a stream that worked, then broke).
    fn note_error(&self, e: &ClientError) {
        let mut t = self.times();
        t.last_error = Some(e.to_string());
        t.last_error_at = Some(Utc::now());
    }

    /// One load, bounded by the timeout. `known`: the version the caller has (`None`
    /// forces a full read). `Ok(true)` when a new table was installed.
    async fn load(&self, known: Option<i64>) -> Result<bool, ClientError> {
        self.retry.attempt();
        let timeout = self.opts.timeout;
        let result = match tokio::time::timeout(timeout, self.source.load(known, timeout)).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout(timeout)),
        };
        match result {
            Ok(Load::Unchanged) => {
                self.succeeded();
                self.counters.not_modified.fetch_add(1, Ordering::Relaxed);
                Ok(false)
            }
            Ok(Load::Table(t)) => {
                self.succeeded();
                self.counters.full_loads.fetch_add(1, Ordering::Relaxed);
                self.install_loaded(t, known);
                Ok(true)
            }
            Err(e) => {
                self.failed(&e);
                Err(e)
            }
        }
    }
}

/// The client. Reads are lock-free loads of an immutable snapshot; a background task
/// (see [`Mode`]) replaces it. Dropping the client stops the task.
pub struct Client {
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Client {
    /// Connects to `source` (`sqlite://PATH`, `postgres://...`, `http(s)://HOST:PORT`) and
    /// loads the flags, waiting at most `opts.timeout`: if the source is unreachable the
    /// client starts on the defaults and keeps trying. Fails only on a malformed source.
    /// Needs a tokio runtime.
    pub async fn connect(source: &str, opts: Options) -> Result<Client, ClientError> {
        let source = Source::parse(source, opts.timeout)?;
        let mode = match (opts.refresh.mode, source.streams()) {
            (Mode::Auto, true) => Mode::Stream,
            (Mode::Auto | Mode::Stream, false) => Mode::Poll,
            (m, _) => m,
        };
        let shared = Arc::new(Shared {
            retry: retry::Retry::new(opts.clock.clone(), opts.jitter.clone()),
            wake: Notify::new(),
            snapshot: ArcSwap::from_pointee(Snapshot::new(&opts.defaults, None)),
            version_tx: watch::channel(None).0,
            counters: Counters::default(),
            times: Mutex::new(Times::default()),
            source,
            opts,
        });
        let _ = shared.load(None).await;
        let task = (mode != Mode::Off).then(|| tokio::spawn(refresh::run(shared.clone(), mode)));
        Ok(Client { shared, task })
    }

    /// The value of `key`: the table's, else the default's.
    pub fn flag(&self, key: &str) -> Option<String> {
        self.shared.snapshot.load().values.get(key).cloned()
    }

    /// Calls `f` with the value of `key` without copying it.
    pub fn with_flag<R>(&self, key: &str, f: impl FnOnce(Option<&str>) -> R) -> R {
        let snap = self.shared.snapshot.load();
        f(snap.values.get(key).map(String::as_str))
    }

    /// Every value: the defaults with the table laid over them.
    pub fn flags(&self) -> BTreeMap<String, String> {
        self.shared
            .snapshot
            .load()
            .values
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Whether the new path is on for `unit` (`docs/assignment.md`). `rollout` is a rollout
    /// name or a flag prefix such as `LEARNING_`; anything unknown or unreadable is off.
    pub fn enabled_for(&self, rollout: &str, unit: &str) -> bool {
        self.shared.snapshot.load().enabled_for(rollout, unit)
    }

    /// The weights `unit` should use, feature → weight: the learned `<prefix>WEIGHTS` when
    /// the assignment rule puts the unit on the new path (exactly when [`enabled_for`]
    /// says so), else the conservative weights, the flag `<prefix>CONSERVATIVE_WEIGHTS`.
    /// No I/O.
    ///
    /// `None` when the rollout is unknown, or when the weights the unit needs are absent or
    /// not a JSON object of finite numbers. In particular a unit off the new path gets
    /// `None` from a daemon that does not publish `CONSERVATIVE_WEIGHTS` (`WEIGHTS` is
    /// never given to it: in the A/B stage it holds the learned weights). A unit on the new
    /// path whose `WEIGHTS` is absent or unreadable gets the conservative weights. A
    /// default for `<prefix>CONSERVATIVE_WEIGHTS` ([`Options::with_default`]) is used like
    /// any other default.
    ///
    /// [`enabled_for`]: Client::enabled_for
    pub fn parameters_for(&self, rollout: &str, unit: &str) -> Option<BTreeMap<String, f64>> {
        self.shared.snapshot.load().parameters_for(rollout, unit)
    }

    /// The A/B variant of `unit` while the rollout is in its A/B stage, else `None`.
    pub fn variant(&self, rollout: &str, unit: &str) -> Option<Variant> {
        self.shared.snapshot.load().variant(rollout, unit)
    }

    /// The table version of the cache; `None` while only defaults are known.
    pub fn version(&self) -> Option<i64> {
        self.shared.snapshot.load().version()
    }

    /// Follows the cache's version (for waiting on a change).
    pub fn watch_version(&self) -> watch::Receiver<Option<i64>> {
        self.shared.version_tx.subscribe()
    }

    /// Loads now, bounded by the timeout; never refused, whatever the retry state. If the
    /// background refresher was waiting after failures, a success ends its wait.
    /// `Ok(true)`: a new version.
    pub async fn refresh(&self) -> Result<bool, ClientError> {
        let known = self.version();
        let failures_before = self.shared.retry.consecutive_failures();
        let out = self.shared.load(known).await;
        if out.is_ok() && failures_before > 0 {
            self.shared.wake.notify_one();
        }
        out
    }

    pub fn stats(&self) -> Stats {
        let s = &self.shared;
        let c = &s.counters;
        let t = s.times();
        let version = self.version();
        Stats {
            kind: s.source.kind(),
            version,
            using_defaults: version.is_none(),
            retry: s.retry.stats(),
            last_success_at: t.last_success_at,
            last_error: t.last_error.clone(),
            last_error_at: t.last_error_at,
            full_loads: c.full_loads.load(Ordering::Relaxed),
            not_modified: c.not_modified.load(Ordering::Relaxed),
            changes_applied: c.changes_applied.load(Ordering::Relaxed),
            stream_connects: c.stream_connects.load(Ordering::Relaxed),
            gaps: c.gaps.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}
