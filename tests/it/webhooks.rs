//! Webhooks: every transition reaches the receiver exactly once and in order, also when the
//! receiver is down for a while; the events wait in the store meanwhile.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::Duration;
use rollout::controller::ManualAction;
use rollout::engine;
use rollout::store::Writer;
use rollout_core::deliveries::DeliveryStatus;

use crate::on_both_stores;
use crate::support::{eventually, Daemon, TestDb};
use crate::walk::{plan, t0};

#[derive(Default)]
struct Receiver {
    /// Requests to refuse with 503 before accepting any: an outage.
    down_for: AtomicUsize,
    /// (Idempotency-Key, body) of each accepted delivery.
    got: Mutex<Vec<(String, serde_json::Value)>>,
    refused: AtomicUsize,
}

async fn hook(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: String) -> StatusCode {
    if r.down_for.load(Ordering::SeqCst) > 0 {
        r.down_for.fetch_sub(1, Ordering::SeqCst);
        r.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let json = serde_json::from_str(&body).expect("a JSON body");
    r.got.lock().unwrap().push((key, json));
    StatusCode::OK
}

async fn receiver(down_for: usize) -> (SocketAddr, Arc<Receiver>) {
    let state = Arc::new(Receiver {
        down_for: AtomicUsize::new(down_for),
        ..Default::default()
    });
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, state)
}

async fn every_event_once_in_order_across_an_outage(db: TestDb) {
    let (addr, rx) = receiver(3).await;
    let c = plan(&format!(
        "
rollouts:
  - name: hooked
    flag_prefix: HOOK_
    seed: 1
    notify: [ 'http://{addr}/hook' ]
    stages:
      - shadow: {{ duration: 1h }}
      - canary: {{ percentage: 5, duration: 1h }}
      - full: {{}}
"
    ));
    let store = db.store().await;
    let r = &c.rollouts[0];
    let w = Writer::person("oncall@test");
    engine::tick_all(&*store, &c, &w, t0()).await.unwrap();
    engine::tick_all(&*store, &c, &w, t0() + Duration::hours(1))
        .await
        .unwrap();
    for (i, action) in [
        ManualAction::Pause,
        ManualAction::Resume,
        ManualAction::Rollback,
    ]
    .into_iter()
    .enumerate()
    {
        let at = t0() + Duration::hours(1) + Duration::minutes(i as i64 + 1);
        engine::act(&*store, r, action, "on-call", &w, || at)
            .await
            .unwrap();
    }
    let history = store.history("hooked").await.unwrap();
    assert_eq!(history.len(), 5);
    let http = reqwest::Client::new();
    let mut now = t0() + Duration::hours(2);
    for _ in 0..30 {
        // Two senders at once, as when two daemons both believe they lead: the claim
        // hands each row to one of them.
        let (a, b) = tokio::join!(
            rollout::webhooks::deliver_due(&*store, &http, &c, now),
            rollout::webhooks::deliver_due(&*store, &http, &c, now)
        );
        a.unwrap();
        b.unwrap();
        if rx.got.lock().unwrap().len() == history.len() {
            break;
        }
        now += Duration::minutes(10);
    }
    assert_eq!(rx.refused.load(Ordering::SeqCst), 3, "the outage was seen");
    let got = rx.got.lock().unwrap().clone();
    let ids: Vec<i64> = got
        .iter()
        .map(|(_, b)| b["event_id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        history.iter().map(|e| e.id).collect::<Vec<_>>(),
        "each event once, in order"
    );
    let keys: Vec<String> = got.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys, ids.iter().map(i64::to_string).collect::<Vec<_>>());
    let actions: Vec<&str> = got
        .iter()
        .map(|(_, b)| b["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["start", "advance", "pause", "resume", "rollback"]);
    assert_eq!(got[4].1["reason"], "on-call");
    assert_eq!(got[4].1["flags"]["HOOK_APPLY_PARAMETERS"], "false");
    // Nothing is left to send.
    let later = now + Duration::days(1);
    assert!(store.claim_webhooks(later, later).await.unwrap().is_empty());
}

on_both_stores!(every_event_once_in_order_across_an_outage);

/// A webhook whose URL left the rollout's `notify` is not retried for ever: the next
/// delivery pass abandons every undelivered row of that rollout and URL, with the reason in
/// `last_error` and the time in `abandoned_at`, and never claims them again.
async fn a_webhook_whose_url_left_notify_is_abandoned(db: TestDb) {
    let yaml = "
rollouts:
  - name: hooked
    flag_prefix: HOOK_
    seed: 1
    notify: [ 'http://127.0.0.1:9/gone' ]
    stages:
      - shadow: { duration: 1h }
      - full: {}
";
    let with = plan(yaml);
    let without = plan(&yaml.replace("    notify: [ 'http://127.0.0.1:9/gone' ]\n", ""));
    let store = db.store().await;
    let w = Writer::person("oncall@test");
    engine::tick_all(&*store, &with, &w, t0()).await.unwrap();
    engine::act(&*store, &with.rollouts[0], ManualAction::Pause, "x", &w, t0)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let now = t0() + Duration::minutes(1);
    let sent = rollout::webhooks::deliver_due(&*store, &http, &without, now)
        .await
        .unwrap();
    assert_eq!(sent, 0);
    let rows: Vec<(Option<String>, bool, i64)> = {
        const SQL: &str =
            "SELECT last_error, abandoned_at IS NOT NULL, attempts FROM rollout_outbox ORDER BY id";
        if db.is_postgres() {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query_as(SQL).fetch_all(&mut c).await.unwrap()
        } else {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query_as(SQL).fetch_all(&mut c).await.unwrap()
        }
    };
    assert_eq!(rows.len(), 2, "start and pause");
    for (error, abandoned, attempts) in rows {
        assert!(abandoned);
        assert_eq!(attempts, 0, "never sent");
        assert_eq!(
            error.as_deref(),
            Some(
                "abandoned: http://127.0.0.1:9/gone is no longer in the `notify` of rollout hooked"
            )
        );
    }
    let later = now + Duration::days(1);
    assert!(store.claim_webhooks(later, later).await.unwrap().is_empty());
    // The dashboard's panel says so: abandoned, when, and nothing more to try.
    let shown = store.deliveries("hooked", None, 10).await.unwrap();
    assert_eq!(shown.len(), 2);
    for d in shown {
        assert_eq!(d.status, DeliveryStatus::Abandoned, "{d:?}");
        assert_eq!((d.abandoned_at, d.next_attempt_at), (Some(now), None));
    }
}

on_both_stores!(a_webhook_whose_url_left_notify_is_abandoned);

/// The daemon's log never shows a receiver's secrets: a failed delivery names its URL
/// without the user info, the query values or a token-like path segment, also inside the
/// error text (which quotes the URL).
#[tokio::test]
async fn the_daemon_log_hides_webhook_credentials() {
    let db = TestDb::sqlite();
    let cfg = db.config(
        "
tick: '* * * * * *'
rollouts:
  - name: hooked
    flag_prefix: HOOK_
    seed: 1
    notify: [ 'http://ops:s3cret@127.0.0.1:9/hook/T0KEN0123456789abcdef?token=t0psecret' ]
    stages:
      - shadow: { duration: 1h }
      - full: {}
",
    );
    let d = Daemon::start(&cfg, db.dir.path().join("daemon.log"));
    let log = eventually(
        std::time::Duration::from_secs(60),
        "a failed delivery in the log",
        || async {
            let log = d.log_text();
            log.contains("webhook failed").then_some(log)
        },
    )
    .await;
    for secret in ["s3cret", "t0psecret", "T0KEN0123456789abcdef"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    assert!(
        log.contains("http://***@127.0.0.1:9/hook/***?token=***"),
        "the receiver is still named:\n{log}"
    );
}
