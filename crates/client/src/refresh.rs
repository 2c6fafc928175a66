//! The background refresher: polls, or follows the daemon's event stream with resume by
//! `Last-Event-ID`, polling while the server has no stream. Failed calls are retried with
//! the backoff of [`Refresh`](super::Refresh) (see `retry.rs`); while an HTTP daemon refuses
//! connections its port is probed, so that a restarted daemon is noticed within about
//! `probe_interval`, whatever the backoff has grown to.

#[cfg(feature = "http")]
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "http")]
use tokio::time::Instant;
use tracing::{debug, info, warn};

#[cfg(feature = "http")]
use super::source::FlagsBody;
#[cfg(any(feature = "http", feature = "postgres"))]
use super::source::Source;
#[cfg(feature = "http")]
use super::sse::{Event, Parser};
#[cfg(feature = "http")]
use super::ClientError;
use super::{Mode, Shared};

/// A stream open this long without failing counts as working even if it has delivered
/// nothing yet (a resumed stream with nothing new sends only keepalives, every 15 s).
#[cfg(feature = "http")]
const STREAM_WORKS_AFTER: Duration = Duration::from_secs(5);

/// Failures in a row after which the outage is logged at WARN (once per outage).
const WARN_AFTER: u32 = 3;

pub(super) async fn run(shared: Arc<Shared>, mode: Mode) {
    match mode {
        #[cfg(feature = "http")]
        Mode::Stream if shared.source.streams() => stream(shared).await,
        Mode::Off => {}
        _ => poll(shared).await,
    }
}

/// Waits `wait`, or less: a wake-up (a `NOTIFY`, a successful `Client::refresh`) ends it,
/// and while the last failure was an unreachable HTTP daemon, so does a probe that finds
/// its port accepting connections again.
async fn wait(shared: &Shared, wait: Duration) {
    shared.retry.waiting(wait);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            break;
        }
        let remaining = deadline - now;
        let probe = probe_step(shared, remaining);
        tokio::select! {
            _ = tokio::time::sleep(probe.unwrap_or(remaining)) => {}
            _ = shared.wake.notified() => break,
        }
        if probe.is_some() && tokio::time::Instant::now() < deadline && port_open(shared).await {
            shared.retry.probe_wakeups.fetch_add(1, Ordering::Relaxed);
            debug!("the daemon's port accepts connections again");
            break;
        }
    }
    shared.retry.done_waiting();
}

/// How long until the next probe, if the daemon's port is to be probed during this wait.
fn probe_step(shared: &Shared, remaining: Duration) -> Option<Duration> {
    let interval = shared.opts.refresh.probe_interval?;
    if !shared.source.streams() || !shared.retry.unreachable() {
        return None;
    }
    let step = interval.mul_f64(0.5 + 0.5 * shared.retry.draw().clamp(0.0, 1.0));
    (step < remaining).then_some(step)
}

#[cfg(feature = "http")]
async fn port_open(shared: &Shared) -> bool {
    #[allow(irrefutable_let_patterns)]
    let Source::Http(http) = &shared.source
    else {
        return false;
    };
    shared.retry.probes.fetch_add(1, Ordering::Relaxed);
    http.probe(shared.opts.timeout.min(Duration::from_secs(1)))
        .await
}

#[cfg(not(feature = "http"))]
async fn port_open(_: &Shared) -> bool {
    false
}

/// Logs the start and the end of an outage once each, not every retry.
fn log_failure(shared: &Shared, what: &str, e: &dyn std::fmt::Display) {
    let failures = shared.retry.consecutive_failures();
    if failures == WARN_AFTER {
        warn!(
            source = shared.source.kind(),
            error = %e,
            "{what} failed {failures} times in a row; serving the last flags loaded and \
             retrying with backoff"
        );
    } else {
        debug!(error = %e, failures, "{what} failed");
    }
}

fn log_success(shared: &Shared, failures_before: u32) {
    if failures_before >= WARN_AFTER {
        info!(
            source = shared.source.kind(),
            failures = failures_before,
            "the flag source answers again"
        );
    }
}

async fn poll(shared: Arc<Shared>) {
    // On PostgreSQL a NOTIFY wakes the poll at once; the interval stays as the net.
    #[cfg(feature = "postgres")]
    #[allow(irrefutable_let_patterns)]
    let _listener = if let Source::Postgres(pool) = &shared.source {
        Some(AbortOnDrop(tokio::spawn(listen(
            pool.clone(),
            shared.clone(),
        ))))
    } else {
        None
    };
    let r = shared.opts.refresh.clone();
    loop {
        wait(&shared, shared.retry.next_wait(&r, r.poll_interval)).await;
        poll_once(&shared).await;
    }
}

async fn poll_once(shared: &Shared) {
    let known = shared.snapshot.load().version();
    let before = shared.retry.consecutive_failures();
    match shared.load(known).await {
        Ok(_) => log_success(shared, before),
        Err(e) => log_failure(shared, "reading the flags", &e),
    }
}

#[cfg(feature = "postgres")]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

#[cfg(feature = "postgres")]
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `LISTEN rollout_flags` on its own connection, waking the poll on every change; retried
/// with backoff (1 s to 60 s, jittered) while the database is unreachable.
#[cfg(feature = "postgres")]
async fn listen(pool: sqlx::PgPool, shared: Arc<Shared>) {
    // Its own pool: the listener holds its connection, and loads must not wait for it.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with((*pool.connect_options()).clone());
    let schedule = super::Refresh {
        backoff_initial: Duration::from_secs(1),
        backoff_max: Duration::from_secs(60),
        ..super::Refresh::default()
    };
    let mut failures = 0u32;
    loop {
        if let Ok(mut l) = sqlx::postgres::PgListener::connect_with(&pool).await {
            if l.listen("rollout_flags").await.is_ok() {
                failures = 0;
                // `Ok(None)`: the connection dropped; the next call reconnects.
                while l.try_recv().await.is_ok() {
                    shared.wake.notify_one();
                }
            }
        }
        failures = failures.saturating_add(1);
        tokio::time::sleep(schedule.backoff(failures, shared.retry.draw())).await;
    }
}

#[cfg(feature = "http")]
async fn stream(shared: Arc<Shared>) {
    #[allow(irrefutable_let_patterns)]
    let Source::Http(http) = &shared.source
    else {
        return;
    };
    let r = shared.opts.refresh.clone();
    let mut no_stream_until: Option<Instant> = None;
    loop {
        if no_stream_until.is_some_and(|t| Instant::now() < t) {
            poll_once(&shared).await;
            wait(&shared, shared.retry.next_wait(&r, r.poll_interval)).await;
            continue;
        }
        let known = shared.snapshot.load().version();
        shared.retry.attempt();
        let opened = match tokio::time::timeout(shared.opts.timeout, http.open_stream(known)).await
        {
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout(shared.opts.timeout)),
        };
        match opened {
            Ok(resp) => {
                shared
                    .counters
                    .stream_connects
                    .fetch_add(1, Ordering::Relaxed);
                let mut working = false;
                let ended = follow(&shared, resp, r.stream_read_timeout, &mut working).await;
                if working {
                    // The stream worked, then ended (the daemon stopped, a read timed out):
                    // not a failure, but worth showing.
                    if let Err(e) = ended {
                        debug!(error = %e, "flag stream ended");
                        shared.note_error(&e);
                    }
                } else {
                    // A server that answers 200 and hangs up at once is backed off from
                    // like any failure, not reconnected to at full speed.
                    let e = ended.err().unwrap_or_else(|| {
                        ClientError::BadResponse(
                            "the flag stream ended before its first event".into(),
                        )
                    });
                    shared.failed(&e);
                    log_failure(&shared, "the flag stream", &e);
                }
            }
            Err(ClientError::NoStream(status)) => {
                log_success(&shared, shared.succeeded());
                debug!(status, "the server has no flag stream; polling");
                no_stream_until = Some(Instant::now() + r.stream_retry_interval);
                continue;
            }
            Err(e) => {
                shared.failed(&e);
                log_failure(&shared, "opening the flag stream", &e);
            }
        }
        // After a stream that worked: about `backoff_initial`; after failures: the backoff.
        let after_session = r.backoff(0, shared.retry.draw());
        wait(&shared, shared.retry.next_wait(&r, after_session)).await;
    }
}

/// Reads events until the stream ends, goes silent or breaks. `working` turns true, and
/// the call counts as a success, at the first event or once the stream has stayed open
/// for [`STREAM_WORKS_AFTER`]: the backlog a reconnect brings (a replay from
/// `Last-Event-ID`, or a snapshot) is applied as it arrives.
#[cfg(feature = "http")]
async fn follow(
    shared: &Shared,
    mut resp: reqwest::Response,
    read_timeout: Duration,
    working: &mut bool,
) -> Result<(), ClientError> {
    let mut parser = Parser::default();
    let works_at = Instant::now() + STREAM_WORKS_AFTER;
    let mut last_read = Instant::now();
    loop {
        let silent_until = last_read + read_timeout;
        let until = if *working {
            silent_until
        } else {
            silent_until.min(works_at)
        };
        // `chunk()` only polls the body: cancelling it at the deadline loses nothing.
        let chunk = match tokio::time::timeout_at(until, resp.chunk()).await {
            Ok(c) => c?,
            Err(_) if !*working && Instant::now() >= works_at => {
                *working = true;
                log_success(shared, shared.succeeded());
                continue;
            }
            Err(_) => return Err(ClientError::Timeout(read_timeout)),
        };
        let Some(bytes) = chunk else {
            return Ok(());
        };
        last_read = Instant::now();
        let mut events = Vec::new();
        let fed = parser.feed(&bytes, &mut events);
        for event in events {
            apply(shared, &event).await?;
            if !*working {
                *working = true;
                log_success(shared, shared.succeeded());
            }
        }
        // A line over the cap: drop the stream; the caller reconnects (the table kept).
        fed.map_err(|e| ClientError::BadResponse(e.to_string()))?;
    }
}

#[cfg(feature = "http")]
#[derive(serde::Deserialize)]
struct ChangeBody {
    version: i64,
    rollout: String,
    changed: BTreeMap<String, Option<String>>,
}

#[cfg(feature = "http")]
async fn apply(shared: &Shared, event: &Event) -> Result<(), ClientError> {
    let bad =
        |e: serde_json::Error| ClientError::BadResponse(format!("{} event: {e}", event.event));
    match event.event.as_str() {
        // The server's full state is authoritative, even at a lower version.
        "snapshot" => {
            let body: FlagsBody = serde_json::from_str(&event.data).map_err(bad)?;
            shared.counters.full_loads.fetch_add(1, Ordering::Relaxed);
            shared.install(body.into_table());
        }
        "change" => {
            let c: ChangeBody = serde_json::from_str(&event.data).map_err(bad)?;
            let snap = shared.snapshot.load();
            match snap.table.as_ref() {
                Some(t) if c.version <= t.version => {}
                Some(t) if c.version == t.version + 1 => {
                    let mut next = t.clone();
                    next.apply(c.version, &c.rollout, &c.changed);
                    shared
                        .counters
                        .changes_applied
                        .fetch_add(1, Ordering::Relaxed);
                    shared.install(next);
                }
                // A gap (or nothing loaded yet): never apply on top of it; read it all.
                _ => {
                    shared.counters.gaps.fetch_add(1, Ordering::Relaxed);
                    shared.load(None).await?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}
