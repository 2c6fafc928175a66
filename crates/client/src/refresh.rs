//! The background refresher: polls, or follows the daemon's event stream with resume by
//! `Last-Event-ID`, jittered reconnect backoff, and polling while the server has no stream.

#[cfg(feature = "http")]
use std::collections::BTreeMap;
#[cfg(feature = "http")]
use std::sync::atomic::Ordering;
use std::sync::Arc;
#[cfg(any(feature = "http", feature = "postgres"))]
use std::time::Duration;

#[cfg(any(feature = "http", feature = "postgres"))]
use rand::Rng;
use tokio::sync::Notify;
#[cfg(feature = "http")]
use tokio::time::Instant;
use tracing::debug;

#[cfg(feature = "http")]
use super::source::FlagsBody;
#[cfg(any(feature = "http", feature = "postgres"))]
use super::source::Source;
#[cfg(feature = "http")]
use super::sse::{Event, Parser};
#[cfg(feature = "http")]
use super::ClientError;
use super::{Mode, Shared};

pub(super) async fn run(shared: Arc<Shared>, mode: Mode) {
    match mode {
        #[cfg(feature = "http")]
        Mode::Stream if shared.source.streams() => stream(shared).await,
        Mode::Off => {}
        _ => poll(shared).await,
    }
}

async fn poll(shared: Arc<Shared>) {
    let wake = Arc::new(Notify::new());
    // On PostgreSQL a NOTIFY wakes the poll at once; the interval stays as the net.
    #[cfg(feature = "postgres")]
    #[allow(irrefutable_let_patterns)]
    let _listener = if let Source::Postgres(pool) = &shared.source {
        Some(AbortOnDrop(tokio::spawn(listen(
            pool.clone(),
            wake.clone(),
        ))))
    } else {
        None
    };
    loop {
        tokio::select! {
            _ = tokio::time::sleep(shared.opts.refresh.poll_interval) => {}
            _ = wake.notified() => {}
        }
        let known = shared.snapshot.load().version();
        if let Err(e) = shared.load(known).await {
            debug!(error = %e, "flag poll failed");
        }
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
/// with backoff (1 s to 60 s) while the database is unreachable.
#[cfg(feature = "postgres")]
async fn listen(pool: sqlx::PgPool, wake: Arc<Notify>) {
    // Its own pool: the listener holds its connection, and loads must not wait for it.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with((*pool.connect_options()).clone());
    let mut backoff = Backoff {
        next: Duration::from_secs(1),
        initial: Duration::from_secs(1),
        max: Duration::from_secs(60),
    };
    loop {
        if let Ok(mut l) = sqlx::postgres::PgListener::connect_with(&pool).await {
            if l.listen("rollout_flags").await.is_ok() {
                backoff.reset();
                // `Ok(None)`: the connection dropped; the next call reconnects.
                while l.try_recv().await.is_ok() {
                    wake.notify_one();
                }
            }
        }
        tokio::time::sleep(backoff.wait()).await;
    }
}

/// Exponential backoff with jitter in [½, 1].
#[cfg(any(feature = "http", feature = "postgres"))]
struct Backoff {
    next: Duration,
    initial: Duration,
    max: Duration,
}

#[cfg(any(feature = "http", feature = "postgres"))]
impl Backoff {
    fn wait(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d.mul_f64(rand::rng().random_range(0.5..=1.0))
    }

    fn reset(&mut self) {
        self.next = self.initial;
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
    let mut backoff = Backoff {
        next: r.backoff_initial,
        initial: r.backoff_initial,
        max: r.backoff_max,
    };
    let mut no_stream_until: Option<Instant> = None;
    loop {
        if no_stream_until.is_some_and(|t| Instant::now() < t) {
            let known = shared.snapshot.load().version();
            let _ = shared.load(known).await;
            tokio::time::sleep(r.poll_interval).await;
            continue;
        }
        if !shared.breaker.allow() {
            tokio::time::sleep(r.poll_interval).await;
            continue;
        }
        let known = shared.snapshot.load().version();
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
                let mut events = 0usize;
                let opened_at = Instant::now();
                if let Err(e) = follow(&shared, resp, r.stream_read_timeout, &mut events).await {
                    debug!(error = %e, "flag stream ended");
                }
                // Only a stream that delivered something, or stayed up a while (a resumed
                // stream with nothing new sends only keepalives), counts as a success: a
                // server that answers 200 and hangs up at once must open the breaker and
                // back off, not be reconnected to at full speed.
                if events > 0 || opened_at.elapsed() >= Duration::from_secs(5) {
                    shared.succeeded();
                    backoff.reset();
                } else {
                    shared.failed(&ClientError::BadResponse(
                        "the flag stream ended before its first event".into(),
                    ));
                }
            }
            Err(ClientError::NoStream(status)) => {
                shared.succeeded();
                debug!(status, "the server has no flag stream; polling");
                no_stream_until = Some(Instant::now() + r.stream_retry_interval);
                continue;
            }
            Err(e) => {
                shared.failed(&e);
                debug!(error = %e, "cannot open the flag stream");
            }
        }
        tokio::time::sleep(backoff.wait()).await;
    }
}

/// Reads events until the stream ends, goes silent or breaks.
#[cfg(feature = "http")]
async fn follow(
    shared: &Shared,
    mut resp: reqwest::Response,
    read_timeout: Duration,
    events: &mut usize,
) -> Result<(), ClientError> {
    let mut parser = Parser::default();
    loop {
        let chunk = match tokio::time::timeout(read_timeout, resp.chunk()).await {
            Ok(c) => c?,
            Err(_) => return Err(ClientError::Timeout(read_timeout)),
        };
        let Some(bytes) = chunk else {
            return Ok(());
        };
        for event in parser.feed(&bytes) {
            apply(shared, &event).await?;
            *events += 1;
        }
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
