//! The dashboard's learning and webhook panels over HTTP, on both stores: paginated, newest
//! first, from stored rows, with webhook credentials hidden.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use chrono::Duration;
use reqwest::StatusCode;
use rollout::controller::ManualAction;
use rollout::daemon::Role;
use rollout::engine;
use rollout::store::Writer;
use serde_json::Value;

use crate::http::{http_client, Api};
use crate::on_both_stores;
use crate::support::TestDb;
use crate::walk::t0;

const LEARNING: &str = "
rollouts:
  - name: learner
    flag_prefix: LEARN_
    seed: 3
    stages:
      - shadow: { duration: 1h }
      - canary: { percentage: 5, duration: 1h }
      - full: {}
    analysis: {}
  - name: plain
    flag_prefix: PLAIN_
    seed: 4
    stages:
      - canary: { percentage: 5, duration: 1h }
      - full: {}
";

async fn get(api: &Api, path: &str) -> (StatusCode, Value) {
    let r = http_client().get(api.url(path)).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn writer() -> Writer {
    Writer::person("t@it")
}

/// Each learning run's computation and each write of the weights flag, newest first, by
/// page, against the conservative weights.
async fn the_learning_panel_pages_runs_and_publications(db: TestDb) {
    let api = Api::launch(&db, None, LEARNING, Arc::new(Role::default()), |r| r).await;
    api.start_rollout().await;
    let r = api.config.rollout("learner").unwrap().clone();
    for h in 1..=3 {
        rollout::learning::run(&*api.store, &r, &writer(), t0() + Duration::hours(h))
            .await
            .unwrap();
    }
    let (s, p) = get(&api, "/v1/rollouts/learner/learning?limit=2").await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["learns"], true);
    assert_eq!(p["flag"], "LEARN_WEIGHTS");
    assert_eq!(p["conservative"]["volume_momentum"], 0.25, "{p}");
    let runs = p["computations"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let at = |v: &Value| v["computed_at"].as_str().unwrap().to_owned();
    assert!(at(&runs[0]) > at(&runs[1]), "newest first: {p}");
    for run in runs {
        assert!(run["final_weights"].is_object(), "{run}");
        assert!(run["fallback"].is_boolean() && run["reason"].is_string());
        assert!(run["inputs"]["features"].is_object(), "the analysis: {run}");
    }
    let next = p["computations_next_before"].as_i64().expect("a full page");
    let (_, older) = get(
        &api,
        &format!("/v1/rollouts/learner/learning?limit=2&computation_before={next}"),
    )
    .await;
    assert_eq!(older["computations"].as_array().unwrap().len(), 1);
    assert!(older["computations_next_before"].is_null());
    // The flag as written: at the start (the conservative weights).
    let writes = p["publications"].as_array().unwrap();
    assert!(!writes.is_empty(), "{p}");
    let first = writes.last().unwrap();
    assert_eq!(first["action"], "start", "{p}");
    assert_eq!(first["weights"], p["conservative"]);
    assert_eq!(p["published"], p["conservative"], "shadow: conservative");

    // A rollout that does not learn says so; an unknown one is 404; bad pages are 400.
    let (s, plain) = get(&api, "/v1/rollouts/plain/learning").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(plain["learns"], false);
    assert!(plain["computations"].as_array().unwrap().is_empty());
    let (s, _) = get(&api, "/v1/rollouts/nope/learning").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    for bad in [
        "/v1/rollouts/learner/learning?limit=0",
        "/v1/rollouts/learner/learning?computation_before=0",
        "/v1/rollouts/learner/learning?page=2",
    ] {
        let (s, body) = get(&api, bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

/// A receiver that refuses its first `down_for` requests.
async fn receiver(down_for: usize) -> (SocketAddr, Arc<AtomicUsize>) {
    let down = Arc::new(AtomicUsize::new(down_for));
    let app = Router::new()
        .route(
            "/hook",
            post(|State(d): State<Arc<AtomicUsize>>| async move {
                if d.load(Ordering::SeqCst) > 0 {
                    d.fetch_sub(1, Ordering::SeqCst);
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                axum::http::StatusCode::OK
            }),
        )
        .with_state(down.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, down)
}

/// Every delivery of the rollout, newest first, by page: its event, its URL without the
/// credentials, its status, attempts, last error and next attempt.
async fn the_webhook_panel_shows_deliveries_without_credentials(db: TestDb) {
    let (addr, _down) = receiver(1).await;
    let yaml = format!(
        "
rollouts:
  - name: hooked
    flag_prefix: HOOK_
    seed: 1
    notify: [ 'http://bot:s3cret@{addr}/hook?token=t0psecret' ]
    stages:
      - canary: {{ percentage: 5, duration: 1h }}
      - full: {{}}
"
    );
    let api = Api::launch(&db, None, &yaml, Arc::new(Role::default()), |r| r).await;
    api.start_rollout().await;
    let r = api.config.rollout("hooked").unwrap().clone();
    for (i, a) in [ManualAction::Pause, ManualAction::Resume]
        .into_iter()
        .enumerate()
    {
        let at = t0() + Duration::minutes(i as i64 + 1);
        engine::act(&*api.store, &r, a, "on-call", &writer(), || at)
            .await
            .unwrap();
    }
    // The first attempt fails (the receiver is down): that delivery retries.
    let http = reqwest::Client::new();
    rollout::webhooks::deliver_due(&*api.store, &http, &api.config, t0() + Duration::minutes(5))
        .await
        .unwrap();
    let (s, p) = get(&api, "/v1/rollouts/hooked/webhooks?limit=2").await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let text = p.to_string();
    assert!(
        !text.contains("s3cret") && !text.contains("t0psecret"),
        "credentials are hidden: {p}"
    );
    let rows = p["deliveries"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["event"], "resume", "newest first: {p}");
    assert_eq!(rows[1]["event"], "pause");
    assert_eq!(
        rows[0]["url"],
        format!("http://***@{addr}/hook?token=***"),
        "{p}"
    );
    assert_eq!(rows[0]["status"], "pending");
    let next = p["next_before"].as_i64().expect("a full page");
    let (_, older) = get(
        &api,
        &format!("/v1/rollouts/hooked/webhooks?limit=2&before={next}"),
    )
    .await;
    let start = &older["deliveries"][0];
    assert_eq!(start["event"], "start", "{older}");
    assert_eq!(start["status"], "retrying");
    assert_eq!(start["attempts"], 1);
    assert!(start["last_error"].as_str().is_some_and(|e| !e.is_empty()));
    assert!(start["next_attempt_at"].is_string());
    assert!(older["next_before"].is_null());
    // Delivered later: no next attempt.
    for m in [10, 30, 60, 120] {
        rollout::webhooks::deliver_due(
            &*api.store,
            &http,
            &api.config,
            t0() + Duration::minutes(m),
        )
        .await
        .unwrap();
    }
    let (_, all) = get(&api, "/v1/rollouts/hooked/webhooks").await;
    let start = all["deliveries"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(start["status"], "delivered", "{all}");
    assert!(start["next_attempt_at"].is_null() && start["delivered_at"].is_string());

    let (s, _) = get(&api, "/v1/rollouts/nope/webhooks").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = get(&api, "/v1/rollouts/hooked/webhooks?limit=5000").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

on_both_stores!(
    the_learning_panel_pages_runs_and_publications,
    the_webhook_panel_shows_deliveries_without_credentials,
);
