//! `GET /v1/flags/stream`: Server-Sent Events. A `snapshot` first (or, with
//! `Last-Event-ID: N`, a replay of every change after N), then one `change` per committed
//! change, in order; `id` is the table version. `: keepalive` every 15 s. At most
//! `--http-max-streams` are open at once; one more is answered 503 with `Retry-After`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc};
use tracing::debug;

use super::feed::PAGE;
use super::AppState;
use crate::error::AppError;
use crate::store::FlagChange;

pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// A replay longer than this is replaced by a snapshot.
const MAX_REPLAY: usize = 10_000;

/// Seconds a stream refused for the cap is told to wait.
const FULL_RETRY_AFTER: u64 = 2;

pub async fn stream(State(s): State<AppState>, headers: HeaderMap) -> Response {
    // Held by the response body: released when the client goes (or the server stops).
    let Ok(permit) = s.streams.clone().try_acquire_owned() else {
        let mut e = super::ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "too many open event streams (at most {}); retry later",
                s.limits.max_streams
            ),
        );
        e.retry_after = Some(FULL_RETRY_AFTER);
        return e.into_response();
    };
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    // Subscribe before reading the store, so that nothing committed in between is lost.
    let rx = s.feed.subscribe();
    // The first read happens before the answer: a store that is down gets 503 with
    // Retry-After, not a 200 that ends at once (which clients would reconnect to at once).
    let (first, sent) = match first_events(&s, last_id).await {
        Ok(x) => x,
        Err(e) => {
            let mut err = super::ApiError::from(e);
            err.retry_after = Some(5);
            return err.into_response();
        }
    };
    let (tx, out) = mpsc::channel::<Event>(64.max(first.len() + 1));
    for e in first {
        // The channel has room for all of them.
        let _ = tx.try_send(e);
    }
    tokio::spawn(async move {
        if let Err(e) = pump(&s, sent, rx, &tx).await {
            debug!(error = %e, "event stream ended by a store error; the client resumes");
        }
    });
    let events = futures_util::stream::unfold((out, permit), |(mut out, permit)| async move {
        out.recv()
            .await
            .map(|e| (Ok::<_, Infallible>(e), (out, permit)))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEPALIVE).text("keepalive"))
        .into_response()
}

/// The events a new stream starts with, and the version they bring the client to: the
/// replay of every change after `Last-Event-ID`, or a snapshot.
async fn first_events(s: &AppState, last_id: Option<i64>) -> Result<(Vec<Event>, i64), AppError> {
    if let Some(n) = last_id {
        if let Some(changes) = replay(s, n).await? {
            let sent = changes.last().map_or(n, |c| c.version);
            return Ok((changes.iter().map(change).collect(), sent));
        }
    }
    let table = s.reads.flags().await?;
    Ok((vec![snapshot_event(&table)], table.version))
}

/// Feeds one client, from version `sent` on, until it goes away, the server shuts down or
/// the store fails.
async fn pump(
    s: &AppState,
    mut sent: i64,
    mut rx: broadcast::Receiver<Arc<FlagChange>>,
    tx: &mpsc::Sender<Event>,
) -> Result<(), AppError> {
    let mut closing = s.closing.subscribe();
    if *closing.borrow_and_update() {
        return Ok(());
    }
    loop {
        let next = tokio::select! {
            _ = tx.closed() => return Ok(()),
            _ = closing.changed() => return Ok(()),
            r = rx.recv() => r,
        };
        let pending = match next {
            // The feed saw the version go down: only a snapshot is right.
            Ok(c) if c.rollout.is_empty() => {
                sent = snapshot(s, tx).await?;
                continue;
            }
            Ok(c) if c.version <= sent => {
                // Usually a change the client has already; but if the store's version went
                // below what was sent (a restored database), only a snapshot is right.
                if s.reads.flags_version().await? < sent {
                    sent = snapshot(s, tx).await?;
                }
                continue;
            }
            Ok(c) if c.version == sent + 1 => vec![(*c).clone()],
            // A gap or a lag: read what was missed from the store, by version.
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => match replay(s, sent).await? {
                Some(changes) => changes,
                None => {
                    sent = snapshot(s, tx).await?;
                    continue;
                }
            },
            Err(broadcast::error::RecvError::Closed) => return Ok(()),
        };
        for c in &pending {
            if c.version <= sent {
                continue;
            }
            if !send(tx, change(c)).await {
                return Ok(());
            }
            sent = c.version;
        }
    }
}

/// Every change after version `n`, contiguous, or `None` if the history cannot show them
/// all (too many, a gap, or `n` ahead of the store): then a snapshot is due.
async fn replay(s: &AppState, n: i64) -> Result<Option<Vec<FlagChange>>, AppError> {
    let current = s.reads.flags_version().await?;
    if n > current || n < 0 {
        return Ok(None);
    }
    let mut out: Vec<FlagChange> = Vec::new();
    let mut at = n;
    while at < current {
        let page = s.reads.flag_changes_since(at, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for c in page {
            if c.version != at + 1 {
                return Ok(None);
            }
            at = c.version;
            out.push(c);
        }
        if out.len() > MAX_REPLAY {
            return Ok(None);
        }
    }
    Ok((at >= current).then_some(out))
}

async fn snapshot(s: &AppState, tx: &mpsc::Sender<Event>) -> Result<i64, AppError> {
    let table = s.reads.flags().await?;
    send(tx, snapshot_event(&table)).await;
    Ok(table.version)
}

fn snapshot_event(table: &crate::store::FlagTable) -> Event {
    Event::default()
        .event("snapshot")
        .id(table.version.to_string())
        .data(json(table))
}

fn change(c: &FlagChange) -> Event {
    Event::default()
        .event("change")
        .id(c.version.to_string())
        .data(json(c))
}

fn json<T: Serialize>(value: &T) -> String {
    // Serialising plain strings, numbers and maps cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "{}".into())
}

async fn send(tx: &mpsc::Sender<Event>, event: Event) -> bool {
    tx.send(event).await.is_ok()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::controller::ManualAction;
    use crate::http::Options;
    use crate::role::Role;
    use crate::store::Writer;

    /// The next event; a stream that stalls fails the test instead of hanging it.
    async fn next(out: &mut mpsc::Receiver<Event>) -> Event {
        tokio::time::timeout(std::time::Duration::from_secs(30), out.recv())
            .await
            .expect("the stream stalled")
            .expect("the stream ended")
    }

    /// The `id` line of an event, read from its debug form (axum keeps the wire bytes).
    fn id(e: &Event) -> Option<i64> {
        let text = format!("{e:?}");
        let at = text.find("id: ")? + 4;
        let digits: String = text[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    }

    #[tokio::test]
    async fn a_lagging_subscriber_rereads_the_store_and_skips_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store: Arc<dyn crate::store::Store> = Arc::from(crate::store::open(&url).unwrap());
        store.migrate().await.unwrap();
        let yaml = "rollouts:\n  - name: r\n    flag_prefix: R_\n    seed: 1\n    stages:\n      - canary: { percentage: 5, duration: 1d }\n      - full: {}\n";
        let config = crate::config::parse("t.yaml", yaml).unwrap().config;
        let w = Writer::person("t");
        crate::engine::tick_all(&*store, &config, &w, Utc::now())
            .await
            .unwrap();
        let s = AppState::new(Options {
            store: store.clone(),
            database_url: url,
            config: Arc::new(arc_swap::ArcSwap::from_pointee(config.clone())),
            role: Arc::new(Role::default()),
            actor: "test".into(),
            admin_token: None,
            ingest_token: None,
            ingest_slots: 1,
            judgments: None,
            limits: Default::default(),
            read_store: None,
        });
        // A broadcast of two slots, fed by hand: five changes make the subscriber lag.
        let (btx, brx) = broadcast::channel(2);
        let (tx, mut out) = mpsc::channel(100);
        let pumped = s.clone();
        let (first, sent) = first_events(&s, None).await.unwrap();
        for e in first {
            tx.send(e).await.unwrap();
        }
        let task = tokio::spawn(async move { pump(&pumped, sent, brx, &tx).await });
        let snapshot = next(&mut out).await;
        assert_eq!(id(&snapshot), Some(1));
        let r = &config.rollouts[0];
        for i in 0..5 {
            let a = if i % 2 == 0 {
                ManualAction::Pause
            } else {
                ManualAction::Resume
            };
            crate::engine::act(&*store, r, a, "t", &w, Utc::now)
                .await
                .unwrap();
        }
        let changes = store.flag_changes_since(1, 100).await.unwrap();
        assert_eq!(changes.len(), 5);
        for c in changes {
            btx.send(Arc::new(c)).unwrap();
        }
        let mut got = Vec::new();
        while got.len() < 5 {
            got.push(id(&next(&mut out).await).unwrap());
        }
        assert_eq!(got, vec![2, 3, 4, 5, 6], "every change once, in order");
        drop(out);
        drop(btx);
        task.await.unwrap().unwrap();
    }
}
