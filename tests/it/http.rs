//! The HTTP API on a real socket (port 0): flags and ETags, the event stream (every change,
//! in order, resumable), admin auth and history, bad input, and the spec in `openapi.yaml`.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::Utc;
use reqwest::StatusCode;
use rollout::client::sse::{Event, Parser};
use rollout::config::Config;
use rollout::controller::ManualAction;
use rollout::daemon::Role;
use rollout::engine;
use rollout::http::{self, AppState, Options, Token};
use rollout::store::{Store, Writer};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::on_both_stores;
use crate::support::{eventually, TestDb};
use crate::walk::{plan, t0};

pub const TOKEN: &str = "s3cret-token";

pub const CONFIG: &str = "
rollouts:
  - name: api
    flag_prefix: API_
    seed: 7
    stages:
      - shadow: { duration: 1h }
      - ab_test: { percentage: 50, duration: 1h, metrics: [ { name: return_pct } ] }
      - canary: { percentage: 5, duration: 1h }
      - full: {}
";

/// `n` units inside a release of `percentage` under `seed`: the treatment of a canary.
fn units_inside(seed: u64, percentage: f64, n: usize) -> Vec<String> {
    (0..)
        .map(|i| format!("u{i}"))
        .filter(|u| rollout::assignment::in_rollout(seed, u, percentage))
        .take(n)
        .collect()
}

/// A running API server and what the test needs around it.
pub struct Api {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub config: Config,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Api {
    pub async fn start(db: &TestDb, token: Option<&str>) -> Api {
        Api::start_with(db, token, |r| r).await
    }

    /// Starts the API; `wrap` may add layers to the router (a test switch, a counter).
    pub async fn start_with(
        db: &TestDb,
        token: Option<&str>,
        wrap: impl FnOnce(axum::Router) -> axum::Router,
    ) -> Api {
        Api::launch(db, token, CONFIG, Arc::new(Role::default()), wrap).await
    }

    /// The API on the rollouts of `yaml`, as a process in `role`.
    pub async fn launch(
        db: &TestDb,
        token: Option<&str>,
        yaml: &str,
        role: Arc<Role>,
        wrap: impl FnOnce(axum::Router) -> axum::Router,
    ) -> Api {
        Api::launch_with_tokens(db, token, None, yaml, role, wrap).await
    }

    /// [`Api::launch`] with an ingest token too. The server runs with connection info, as
    /// the daemon's does (ingest without a token is for loopback peers).
    pub async fn launch_with_tokens(
        db: &TestDb,
        token: Option<&str>,
        ingest_token: Option<&str>,
        yaml: &str,
        role: Arc<Role>,
        wrap: impl FnOnce(axum::Router) -> axum::Router,
    ) -> Api {
        Api::launch_judged(db, token, ingest_token, yaml, role, None, wrap).await
    }

    /// [`Api::launch_with_tokens`] whose ingest asks `judgments` (`None`: the leader's).
    pub async fn launch_judged(
        db: &TestDb,
        token: Option<&str>,
        ingest_token: Option<&str>,
        yaml: &str,
        role: Arc<Role>,
        judgments: Option<rollout::Judgments>,
        wrap: impl FnOnce(axum::Router) -> axum::Router,
    ) -> Api {
        let config = plan(yaml);
        let store: Arc<dyn Store> = Arc::from(db.store().await);
        let state = AppState::new(Options {
            store: store.clone(),
            database_url: db.url.clone(),
            config: Arc::new(ArcSwap::from_pointee(config.clone())),
            role,
            actor: "daemon@test".into(),
            admin_token: token.and_then(Token::new),
            ingest_token: ingest_token.and_then(Token::new),
            ingest_slots: 2,
            judgments,
            limits: Default::default(),
            read_store: None,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let app =
            wrap(http::router(state.clone())).into_make_service_with_connect_info::<SocketAddr>();
        let closing = state.clone();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                    drop(closing);
                })
                .await
        });
        Api {
            addr,
            store,
            config,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the server (graceful shutdown closes idle keep-alive connections too): the
    /// port refuses connections afterwards.
    pub async fn kill(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }

    pub async fn commit(&self, action: ManualAction) {
        let r = &self.config.rollouts[0];
        engine::act(
            &*self.store,
            r,
            action,
            "test",
            &Writer::person("t@it"),
            Utc::now,
        )
        .await
        .expect("manual action");
    }

    /// The first tick: the rollout starts (flags written).
    pub async fn start_rollout(&self) {
        let w = Writer::person("t@it");
        engine::tick_all(&*self.store, &self.config, &w, t0())
            .await
            .unwrap();
    }
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn flags_with_etag_and_304(db: TestDb) {
    let api = Api::start(&db, None).await;
    api.start_rollout().await;
    let c = http_client();
    let resp = c.get(api.url("/v1/flags")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    let version = body["version"].as_i64().unwrap();
    assert!(version >= 1);
    assert_eq!(etag, format!("\"{version}\""));
    let mode = body["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "API_MODE")
        .expect("API_MODE row");
    assert_eq!(mode["value"], "shadow");
    assert_eq!(mode["rollout"], "api");
    for field in ["version", "updated_at", "updated_by", "reason"] {
        assert!(mode.get(field).is_some(), "row field {field}");
    }

    let resp = c
        .get(api.url("/v1/flags"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(resp.headers()["etag"], etag.as_str());
    assert!(resp.bytes().await.unwrap().is_empty());

    api.commit(ManualAction::Pause).await;
    let resp = c
        .get(api.url("/v1/flags"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the version moved");

    let one: Value = c
        .get(api.url("/v1/flags/API_STATUS"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["value"], "paused");
    let resp = c.get(api.url("/v1/flags/NOPE")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let err: Value = resp.json().await.unwrap();
    assert!(err["error"].as_str().unwrap().contains("NOPE"));
}

/// An open event stream, read incrementally.
pub struct Stream {
    resp: reqwest::Response,
    parser: Parser,
    pending: std::collections::VecDeque<Event>,
}

impl Stream {
    pub async fn open(api: &Api, last_id: Option<i64>) -> Stream {
        let mut req = http_client()
            .get(api.url("/v1/flags/stream"))
            .timeout(Duration::from_secs(600));
        if let Some(id) = last_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        Stream {
            resp,
            parser: Parser::default(),
            pending: Default::default(),
        }
    }

    /// The next event; fails the test after 20 s without one (keepalives do not count).
    pub async fn next(&mut self) -> Event {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(e) = self.pending.pop_front() {
                return e;
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk())
                .await
                .expect("an event within 20 s")
                .unwrap()
                .expect("the stream stays open");
            let mut events = Vec::new();
            self.parser
                .feed(&chunk, &mut events)
                .expect("lines under the cap");
            self.pending.extend(events);
        }
    }
}

async fn stream_delivers_every_change_in_order_and_resumes(db: TestDb) {
    let api = Api::start(&db, None).await;
    api.start_rollout().await;
    let mut s = Stream::open(&api, None).await;
    let snap = s.next().await;
    assert_eq!(snap.event, "snapshot");
    let body: Value = serde_json::from_str(&snap.data).unwrap();
    let v0 = body["version"].as_i64().unwrap();
    assert_eq!(snap.id, Some(v0.to_string()));

    for a in [
        ManualAction::Pause,
        ManualAction::Resume,
        ManualAction::Promote,
    ] {
        api.commit(a).await;
    }
    let mut last = v0;
    for expect_status in ["paused", "running"] {
        let e = s.next().await;
        assert_eq!(e.event, "change");
        let c: Value = serde_json::from_str(&e.data).unwrap();
        assert_eq!(
            c["version"].as_i64(),
            Some(last + 1),
            "in order, none skipped"
        );
        assert_eq!(e.id, Some((last + 1).to_string()));
        assert_eq!(c["rollout"], "api");
        assert_eq!(c["changed"]["API_STATUS"], expect_status);
        last += 1;
    }
    let e = s.next().await;
    let c: Value = serde_json::from_str(&e.data).unwrap();
    assert_eq!(c["version"].as_i64(), Some(last + 1));
    assert_eq!(c["changed"]["API_MODE"], "ab_test");
    last += 1;
    drop(s);

    // Changes while disconnected are replayed after Last-Event-ID, then live ones follow.
    api.commit(ManualAction::Pause).await;
    api.commit(ManualAction::Resume).await;
    let mut s = Stream::open(&api, Some(last)).await;
    for expect_status in ["paused", "running"] {
        let e = s.next().await;
        assert_eq!(e.event, "change", "a replay, not a snapshot");
        let c: Value = serde_json::from_str(&e.data).unwrap();
        assert_eq!(c["version"].as_i64(), Some(last + 1));
        assert_eq!(c["changed"]["API_STATUS"], expect_status);
        last += 1;
    }
    api.commit(ManualAction::Rollback).await;
    let e = s.next().await;
    let c: Value = serde_json::from_str(&e.data).unwrap();
    assert_eq!(c["version"].as_i64(), Some(last + 1));
    assert_eq!(c["changed"]["API_MODE"], "rolled_back");

    // A Last-Event-ID the server cannot replay from gets a fresh snapshot.
    let mut s = Stream::open(&api, Some(last + 1000)).await;
    let e = s.next().await;
    assert_eq!(e.event, "snapshot");
    assert_eq!(e.id, Some((last + 1).to_string()));
}

async fn admin_needs_the_token_and_is_recorded(db: TestDb) {
    let api = Api::start(&db, Some(TOKEN)).await;
    api.start_rollout().await;
    let c = http_client();
    let pause = api.url("/v1/rollouts/api/pause");
    let resp = c
        .post(&pause)
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().contains_key("www-authenticate"));
    let resp = c
        .post(&pause)
        .bearer_auth("wrong")
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        api.store
            .state("api")
            .await
            .unwrap()
            .unwrap()
            .status()
            .as_str(),
        "running"
    );

    let resp = c
        .post(&pause)
        .bearer_auth(TOKEN)
        .json(&json!({"reason": "market open", "actor": "alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["changed"], true);
    assert_eq!(body["status"]["status"], "paused");
    assert_eq!(body["flags"]["API_STATUS"], "paused");
    let last = api.store.history("api").await.unwrap().pop().unwrap();
    assert_eq!(last.action, "pause");
    assert_eq!(last.actor, "alice (http)");
    assert_eq!(last.reason, "market open");

    let rollback = api.url("/v1/rollouts/api/rollback");
    let resp = c
        .post(&rollback)
        .bearer_auth(TOKEN)
        .json(&json!({"reason": "  "}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "rollback needs a reason"
    );
    let resp = c
        .post(&rollback)
        .bearer_auth(TOKEN)
        .json(&json!({"reason": "bad fills"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let last = api.store.history("api").await.unwrap().pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor.as_str()),
        ("rollback", "admin (http)")
    );

    let resp = c
        .post(api.url("/v1/rollouts/api/resume"))
        .bearer_auth(TOKEN)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::CONFLICT,
        "resume of a rolled-back rollout"
    );
    let resp = c
        .post(api.url("/v1/rollouts/nope/pause"))
        .bearer_auth(TOKEN)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = c
        .post(api.url("/v1/rollouts/api/restart"))
        .bearer_auth(TOKEN)
        .json(&json!({"reason": "fixed", "sudo": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown field"
    );

    // No token configured at all: the admin API is off.
    let off = Api::start(&db, None).await;
    let resp = c
        .post(off.url("/v1/rollouts/api/pause"))
        .bearer_auth(TOKEN)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
}

fn row(unit: &str, variant: &str, value: Value) -> Value {
    json!({"unit": unit, "variant": variant, "metric": "return_pct", "value": value})
}

async fn bad_input_gets_its_4xx(db: TestDb) {
    let api = Api::start(&db, None).await;
    api.start_rollout().await;
    let c = http_client();
    let url = api.url("/v1/observations");
    let post_raw = |body: String| {
        c.post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let status_and_error = |resp: reqwest::Response| async move {
        let status = resp.status();
        let body: Value = resp.json().await.expect("a JSON error body");
        (status, body)
    };

    let (s, b) = status_and_error(post_raw("{not json".into()).await.unwrap()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(b["error"].is_string());
    let (s, b) = status_and_error(
        c.post(&url)
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{b}");

    // What PostgreSQL could not store is refused on both stores alike, with the row.
    let nul = json!({"rollout": "api", "observations": [
        row("ok", "control", json!(1.0)),
        {"unit": "a\u{0}b", "variant": "control", "metric": "m", "value": 1.0},
        {"unit": "c", "variant": "control", "metric": "m", "value": 1.0, "event_id": "e".repeat(300)},
    ]});
    let (s, b) = status_and_error(post_raw(nul.to_string()).await.unwrap()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(
        (b["rows"][0]["row"].as_u64(), b["rows"][1]["row"].as_u64()),
        (Some(1), Some(2)),
        "{b}"
    );

    let (s, _) = status_and_error(
        post_raw(r#"{"rollout":"api","observations":[{"unit":"a","variant":"control","metric":"m","value":NaN}]}"#.into())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "NaN is not JSON");

    let (s, b) = status_and_error(
        post_raw(json!({"rollout": "api", "observations": [row("a", "control", json!(1.0))], "extra": 1}).to_string())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "unknown field: {b}");
    assert!(b["error"].as_str().unwrap().contains("extra"));

    let (s, b) = status_and_error(
        post_raw(
            json!({"rollout": "api", "observations": [row("a", "control", json!("1"))]})
                .to_string(),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a string value: {b}");

    // Python's `datetime.utcnow().isoformat()`: no offset. Refused, naming the field and the form.
    let naive = json!({"rollout": "api", "observations": [
        row("a", "control", json!(1.0)),
        row("b", "control", json!(1.0)),
        row("c", "control", json!(1.0)),
        {"unit": "d", "variant": "control", "metric": "m", "value": 1.0,
         "observed_at": "2026-01-02T03:04:05.123456"},
    ]});
    let (s, b) = status_and_error(post_raw(naive.to_string()).await.unwrap()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["field"], "observations[3].observed_at", "{b}");
    let message = b["error"].as_str().unwrap();
    assert!(
        message.starts_with("observations[3].observed_at: ")
            && message.contains("has no offset")
            && message.contains("2026-01-02T03:04:05Z"),
        "{b}"
    );
    // Every body error names its field.
    let (s, b) = status_and_error(
        post_raw(json!({"rollout": "api", "observations": [row("a", "control", json!(1.0)), {"unit": "b", "variant": "control", "metric": "m"}]}).to_string())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["field"], "observations[1]", "a missing value: {b}");
    assert!(
        b["error"]
            .as_str()
            .unwrap()
            .contains("missing field `value`"),
        "{b}"
    );

    let (s, _) = status_and_error(
        post_raw(r#"{"rollout":"api","observations":[{"unit":"a","variant":"control","metric":"m","value":1e999}]}"#.into())
            .await
            .unwrap(),
    )
    .await;
    assert!(s.is_client_error(), "an infinite value: {s}");

    let (s, b) = status_and_error(
        post_raw(
            json!({"rollout": "api", "observations": [
                row("a", "control", json!(1.0)),
                row("b", "blue", json!(1.0)),
                row("", "treatment", json!(1.0)),
            ]})
            .to_string(),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let rows: Vec<i64> = b["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row"].as_i64().unwrap())
        .collect();
    assert_eq!(rows, vec![1, 2], "every bad row is listed: {b}");
    assert!(b["error"].as_str().unwrap().contains("blue"));

    let (s, _) = status_and_error(
        post_raw(
            json!({"rollout": "nope", "observations": [row("a", "control", json!(1.0))]})
                .to_string(),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "unknown rollout");

    let many: Vec<Value> = (0..=rollout::http::MAX_ROWS)
        .map(|i| row(&format!("u{i}"), "control", json!(1.0)))
        .collect();
    let (s, _) = status_and_error(
        post_raw(json!({"rollout": "api", "observations": many}).to_string())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "too many rows");

    let huge = format!(
        r#"{{"rollout":"api","observations":[{{"unit":"{}","variant":"control","metric":"m","value":1}}]}}"#,
        "x".repeat(rollout::http::MAX_BODY + 1)
    );
    let (s, _) = status_and_error(post_raw(huge).await.unwrap()).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "oversize body");

    // Nothing above was written; a good request is, and is acknowledged with the report.
    let (s, b) = status_and_error(
        post_raw(
            json!({"rollout": "api", "observations": [
                row("a", "control", json!(1.5)),
                {"unit": "b", "metric": "return_pct", "value": 2.0,
                 "observed_at": "2026-01-05T09:00:00Z", "event_id": "e-1"},
            ]})
            .to_string(),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["inserted"], 2);

    let resp = c.get(api.url("/v1/nothing-here")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = c.delete(api.url("/v1/flags")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let (s, b) = status_and_error(c.get(api.url("/v1/flags/%FF")).send().await.unwrap()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a key that is not UTF-8: {b}");
}

async fn rollouts_assign_health_and_metrics(db: TestDb) {
    let api = Api::start(&db, None).await;
    api.start_rollout().await;
    let c = http_client();
    let list: Value = c
        .get(api.url("/v1/rollouts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["name"], "api");
    assert_eq!(list[0]["status"], "running");
    // The status tells the truth: liveness, time left, guardrails (as `status --json`).
    for field in [
        "leader",
        "last_tick_at",
        "tick_interval_secs",
        "overdue",
        "time_left_secs",
        "units",
        "planned_units",
        "guardrail_summary",
        "held_since",
    ] {
        assert!(
            list[0].get(field).is_some(),
            "GET /v1/rollouts lacks {field}: {list}"
        );
    }
    assert_eq!(list[0]["overdue"], true, "nobody ticks here: {list}");
    let one: Value = c
        .get(api.url("/v1/rollouts/api"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["stage_kind"], "shadow");
    // The latest judgment's analysis (none yet: the A/B stage was never judged).
    assert!(one.get("analysis").is_some_and(Value::is_null), "{one}");
    assert!(one["guardrails"].is_array());
    assert!(one.get("guardrail_summary").is_some(), "{one}");
    let resp = c.get(api.url("/v1/rollouts/nope")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    let a: Value = c
        .get(api.url("/v1/assign?rollout=api&unit=AAPL"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let flags = api.store.rollout_flags("api").await.unwrap();
    let expected = rollout::status::unit_assignment(&api.config.rollouts[0], &flags, "AAPL");
    assert_eq!(a, serde_json::to_value(&expected).unwrap());
    let resp = c
        .get(api.url("/v1/assign?rollout=api"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = c
        .get(api.url("/v1/assign?rollout=nope&unit=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    assert_eq!(
        c.get(api.url("/healthz")).send().await.unwrap().status(),
        StatusCode::OK
    );
    // A standby while nobody leads: nothing evaluates the rollouts, so not ready.
    let resp = c.get(api.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let unready: Value = resp.json().await.unwrap();
    assert_eq!(unready["role"], "standby");
    assert!(
        unready["error"]
            .as_str()
            .unwrap()
            .contains("no daemon holds the leadership lease"),
        "{unready}"
    );
    // Another daemon takes the lease: this standby is ready.
    api.store
        .claim_lease(
            "daemon@elsewhere:1",
            Utc::now(),
            Duration::from_secs(60),
            true,
        )
        .await
        .unwrap();
    let ready: Value = c
        .get(api.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["role"], "standby");
    let text = c
        .get(api.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("rollout_flags_version"), "{text}");
}

/// A leading daemon answers an ingest once the rows are committed, then judges them: a
/// breaching batch is acknowledged (the judgment scheduled), and the stream shows the
/// rollback flags soon after.
async fn ingest_as_leader_answers_then_rolls_back(db: TestDb) {
    let yaml = "
rollouts:
  - name: gr
    flag_prefix: GR_
    seed: 3
    stages:
      - canary: { percentage: 5, duration: 1d }
      - full: {}
    guardrails:
      - { name: drawdown, metric: return_pct, aggregate: mean, min: -2.0, window: 1h, min_samples: 20 }
";
    let store = db.store().await;
    let role = Arc::new(Role::default());
    role.set(Some(
        store.new_epoch("daemon@test", Utc::now()).await.unwrap(),
    ));
    let api = Api::launch(&db, None, yaml, role, |r| r).await;
    let w = Writer::person("t@it");
    engine::tick_all(&*api.store, &api.config, &w, Utc::now())
        .await
        .unwrap();
    let mut s = Stream::open(&api, None).await;
    assert_eq!(s.next().await.event, "snapshot");
    // Treatment units of the 5 % canary, as the rule places them.
    let bad: Vec<Value> = units_inside(3, 5.0, 30)
        .into_iter()
        .map(|u| json!({"unit": u, "variant": "treatment", "metric": "return_pct", "value": -10.0}))
        .collect();
    let resp = http_client()
        .post(api.url("/v1/observations"))
        .json(&json!({"rollout": "gr", "observations": bad}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["inserted"], 30);
    assert_eq!(body["judgment"], "scheduled", "{body}");
    assert!(body.get("rolled_back").is_none(), "not judged yet: {body}");
    let e = s.next().await;
    let c: Value = serde_json::from_str(&e.data).unwrap();
    assert_eq!(c["changed"]["GR_MODE"], "rolled_back");
    let last = api.store.history("gr").await.unwrap().pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor.as_str()),
        ("rollback", "daemon@test")
    );
}

on_both_stores!(
    ingest_as_leader_answers_then_rolls_back,
    flags_with_etag_and_304,
    stream_delivers_every_change_in_order_and_resumes,
    admin_needs_the_token_and_is_recorded,
    bad_input_gets_its_4xx,
    rollouts_assign_health_and_metrics,
);

pub const INGEST_TOKEN: &str = "ingest-secret";

fn one_discovery() -> Value {
    json!({"symbol": "AMC", "discovery_timestamp": "2026-01-05T14:30:00Z",
        "discovery_features": {"squeeze": 0.6}, "discovery_score": 0.7, "action_tag": "trade_ready"})
}

/// With `ROLLOUT_INGEST_TOKEN` set, ingest needs it, from this host too; the admin token
/// is not it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_needs_its_token_when_one_is_set() {
    let db = TestDb::sqlite();
    let role = Arc::new(Role::default());
    let api =
        Api::launch_with_tokens(&db, Some(TOKEN), Some(INGEST_TOKEN), CONFIG, role, |r| r).await;
    api.start_rollout().await;
    let c = http_client();
    let observations = json!({"rollout": "api", "observations": [row("a", "control", json!(1.0))]});
    for (path, body) in [
        ("/v1/observations", observations),
        ("/learning/collect/discovery-data", one_discovery()),
    ] {
        let resp = c.post(api.url(path)).json(&body).send().await.unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::UNAUTHORIZED,
            "{path} without a token"
        );
        assert!(resp.headers().contains_key("www-authenticate"));
        let e: Value = resp.json().await.unwrap();
        assert!(
            e["error"]
                .as_str()
                .unwrap()
                .contains("ROLLOUT_INGEST_TOKEN"),
            "{e}"
        );
        let resp = c
            .post(api.url(path))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::UNAUTHORIZED,
            "{path}: the admin token is another secret"
        );
        let resp = c
            .post(api.url(path))
            .bearer_auth(INGEST_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "{path} with the ingest token"
        );
        let ok: Value = resp.json().await.unwrap();
        assert_eq!(ok["inserted"], 1, "{path}: {ok}");
    }
    // Reading needs no token.
    let resp = c.get(api.url("/v1/flags")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

/// Without an ingest token, ingest is open to this host only: a loopback peer gets in, any
/// other peer gets 403 saying how to open it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_without_a_token_is_for_this_host_only() {
    let db = TestDb::sqlite();
    let api = Api::start(&db, None).await;
    api.start_rollout().await;
    let c = http_client();
    let body = json!({"rollout": "api", "observations": [row("a", "control", json!(1.0))]});
    let resp = c
        .post(api.url("/v1/observations"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "loopback needs no token");
    let resp = c
        .post(api.url("/learning/collect/discovery-data"))
        .json(&one_discovery())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // The same server as seen from another host: the peer address is replaced.
    let far: SocketAddr = "10.1.2.3:40000".parse().unwrap();
    let db = TestDb::sqlite();
    let api = Api::start_with(&db, None, move |r| {
        r.layer(axum::middleware::map_request(
            move |mut req: axum::extract::Request| async move {
                req.extensions_mut().insert(axum::extract::ConnectInfo(far));
                req
            },
        ))
    })
    .await;
    api.start_rollout().await;
    for (path, body) in [
        ("/v1/observations", body.clone()),
        ("/learning/collect/discovery-data", one_discovery()),
    ] {
        let resp = c.post(api.url(path)).json(&body).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{path}");
        let e: Value = resp.json().await.unwrap();
        assert!(
            e["error"]
                .as_str()
                .unwrap()
                .contains("set ROLLOUT_INGEST_TOKEN"),
            "{e}"
        );
    }
    let resp = c.get(api.url("/v1/flags")).send().await.unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "reading is open to every host"
    );
}

/// Every (method, path, status) the tests above rely on.
const STATUSES_USED: &[(&str, &str, u16)] = &[
    ("get", "/v1/flags", 200),
    ("get", "/v1/flags", 304),
    ("get", "/v1/flags/{key}", 200),
    ("get", "/v1/flags/{key}", 400),
    ("get", "/v1/flags/{key}", 404),
    ("get", "/v1/flags/stream", 200),
    ("get", "/v1/flags/stream", 503),
    ("post", "/v1/rollouts/{name}/pause", 429),
    ("post", "/v1/observations", 408),
    ("get", "/learning/intelligence/market-insights", 200),
    ("get", "/learning/intelligence/market-insights", 404),
    ("post", "/v1/rollouts/{name}/pause", 200),
    ("post", "/v1/rollouts/{name}/pause", 401),
    ("post", "/v1/rollouts/{name}/pause", 404),
    ("post", "/v1/rollouts/{name}/pause", 503),
    ("post", "/v1/rollouts/{name}/rollback", 200),
    ("post", "/v1/rollouts/{name}/rollback", 422),
    ("post", "/v1/rollouts/{name}/resume", 409),
    ("post", "/v1/rollouts/{name}/restart", 422),
    ("post", "/v1/observations", 200),
    ("post", "/v1/observations", 400),
    ("post", "/v1/observations", 401),
    ("post", "/v1/observations", 403),
    ("post", "/v1/observations", 415),
    ("post", "/v1/observations", 404),
    ("post", "/v1/observations", 413),
    ("post", "/v1/observations", 422),
    ("get", "/v1/rollouts", 200),
    ("get", "/v1/rollouts/{name}", 200),
    ("get", "/v1/rollouts/{name}", 404),
    ("get", "/v1/assign", 200),
    ("get", "/v1/assign", 400),
    ("get", "/v1/assign", 404),
    ("post", "/learning/collect/discovery-data", 200),
    ("post", "/learning/collect/discovery-data", 401),
    ("post", "/learning/collect/discovery-data", 403),
    ("post", "/learning/collect/discovery-data", 422),
    ("post", "/learning/collect/trade-outcome", 422),
    ("get", "/healthz", 200),
    ("get", "/readyz", 200),
    ("get", "/readyz", 503),
    ("get", "/metrics", 200),
];

#[test]
fn openapi_matches_the_router() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("openapi.yaml at the repo root");
    let spec: serde_yaml::Value = serde_yaml::from_str(&text).expect("valid YAML");
    let paths = spec["paths"].as_mapping().expect("paths");
    let mut in_spec = BTreeSet::new();
    for (path, item) in paths {
        let path = path.as_str().unwrap();
        for (method, _) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if ["get", "post", "put", "patch", "delete", "head", "options"].contains(&method) {
                in_spec.insert((method.to_owned(), path.to_owned()));
            }
        }
    }
    let in_router: BTreeSet<(String, String)> = http::routes()
        .into_iter()
        .map(|(m, p, _)| (m.to_owned(), p.to_owned()))
        .collect();
    assert_eq!(
        in_router.difference(&in_spec).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "routes missing from openapi.yaml"
    );
    assert_eq!(
        in_spec.difference(&in_router).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "openapi.yaml paths the router does not serve"
    );
    for (method, path, status) in STATUSES_USED {
        let responses = &paths[*path][*method]["responses"];
        assert!(
            !responses[status.to_string().as_str()].is_null(),
            "{method} {path}: status {status} is not in openapi.yaml"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_open_streams() {
    let db = TestDb::sqlite();
    let config = plan(CONFIG);
    let store: Arc<dyn Store> = Arc::from(db.store().await);
    let state = AppState::new(Options {
        store,
        database_url: db.url.clone(),
        config: Arc::new(ArcSwap::from_pointee(config)),
        role: Arc::new(Role::default()),
        actor: "daemon@test".into(),
        admin_token: None,
        ingest_token: None,
        ingest_slots: 1,
        judgments: None,
        limits: Default::default(),
        read_store: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let mut resp = http_client()
        .get(format!("http://{addr}/v1/flags/stream"))
        .send()
        .await
        .unwrap();
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("snapshot"));
    stop.send(()).unwrap();
    // The open stream ends (rather than holding the graceful shutdown up), then the server.
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(_chunk) = resp.chunk().await.unwrap_or(None) {}
    })
    .await;
    assert!(end.is_ok(), "the stream ended at shutdown");
    eventually(Duration::from_secs(10), "the server to stop", || {
        let finished = server.is_finished();
        async move { finished.then_some(()) }
    })
    .await;
}

/// The real daemon with `--listen 127.0.0.1:0`: it logs the bound address, leads, serves
/// the flags, takes admin actions, and streams a CLI write made by another process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_serves_the_api_on_port_0() {
    let db = TestDb::sqlite();
    let config = db.config(CONFIG);
    let log = db.dir.path().join("daemon.log");
    let file = std::fs::File::create(&log).unwrap();
    let child = crate::support::bin()
        .arg("--config")
        .arg(&config)
        .args(["daemon", "--listen", "127.0.0.1:0"])
        .env("ROLLOUT_LOG", "info")
        .env("ROLLOUT_ADMIN_TOKEN", TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _child = Kill(child);
    let base = daemon_address(&log).await;
    assert!(
        !TOKEN.is_empty() && !std::fs::read_to_string(&log).unwrap().contains(TOKEN),
        "the token is never logged"
    );
    let c = http_client();
    wait_until_leading(&c, &base).await;
    let resp = c
        .get(format!("{base}/v1/flags/stream"))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    let mut s = Stream {
        resp,
        parser: Parser::default(),
        pending: Default::default(),
    };
    let snap = s.next().await;
    assert_eq!(snap.event, "snapshot");
    let resp = c
        .post(format!("{base}/v1/rollouts/api/pause"))
        .bearer_auth(TOKEN)
        .json(&json!({"reason": "over http"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let e = s.next().await;
    let c1: Value = serde_json::from_str(&e.data).unwrap();
    assert_eq!(c1["changed"]["API_STATUS"], "paused");
    // Another process writes (the CLI); the daemon's poll of the version picks it up.
    let out = crate::support::run(&config, &["resume", "api", "--reason", "from the cli"]);
    assert!(out.status.success(), "{}", crate::support::stderr(&out));
    let e = s.next().await;
    let c2: Value = serde_json::from_str(&e.data).unwrap();
    assert_eq!(c2["changed"]["API_STATUS"], "running");
    assert_eq!(
        c2["version"].as_i64(),
        c1["version"].as_i64().map(|v| v + 1)
    );
    let metrics = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("rollout_ticks_total"), "{metrics}");
    assert!(metrics.contains("rollout_transitions_total"), "{metrics}");
}

const WAIT_LONG: Duration = Duration::from_secs(60);

/// The base URL a daemon started with `--listen 127.0.0.1:0` logs.
pub async fn daemon_address(log: &std::path::Path) -> String {
    eventually(WAIT_LONG, "the daemon to log its HTTP address", || {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        async move {
            let at = text.find("HTTP API listening on ")?;
            let rest = &text[at + "HTTP API listening on ".len()..];
            Some(rest.split_whitespace().next()?.to_owned())
        }
    })
    .await
}

/// Waits until the daemon at `base` leads and has written the first flags.
async fn wait_until_leading(c: &reqwest::Client, base: &str) {
    eventually(
        WAIT_LONG,
        "the daemon to lead and start the rollout",
        || {
            let c = c.clone();
            let base = base.to_owned();
            async move {
                let ready: Value = c
                    .get(format!("{base}/readyz"))
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                let flags: Value = c
                    .get(format!("{base}/v1/flags"))
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                (ready["role"] == "leader" && flags["version"].as_i64()? >= 1).then_some(())
            }
        },
    )
    .await;
}

/// A rollback caused by an HTTP ingest (its judgment, after the answer) is in the daemon's log, at WARN, with the rollout,
/// the reason and the actor; the log has no colour codes when it is not a terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_logs_a_rollback_that_an_http_ingest_caused() {
    let db = TestDb::sqlite();
    let config = db.config(
        "
rollouts:
  - name: gr
    flag_prefix: GR_
    seed: 3
    stages:
      - canary: { percentage: 5, duration: 1d }
      - full: {}
    guardrails:
      - { name: drawdown, metric: return_pct, aggregate: mean, min: -2.0, window: 1h, min_samples: 20 }
",
    );
    let log = db.dir.path().join("daemon.log");
    let file = std::fs::File::create(&log).unwrap();
    let child = crate::support::bin()
        .arg("--config")
        .arg(&config)
        .args(["daemon", "--listen", "127.0.0.1:0"])
        .env_remove("ROLLOUT_LOG")
        .env_remove("ROLLOUT_INGEST_TOKEN")
        .env_remove("ROLLOUT_INGEST_TOKEN_FILE")
        .stdout(std::process::Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _child = Kill(child);
    let base = daemon_address(&log).await;
    let c = http_client();
    wait_until_leading(&c, &base).await;
    let bad: Vec<Value> = units_inside(3, 5.0, 30)
        .into_iter()
        .map(|u| json!({"unit": u, "variant": "treatment", "metric": "return_pct", "value": -10.0}))
        .collect();
    let resp = c
        .post(format!("{base}/v1/observations"))
        .json(&json!({"rollout": "gr", "observations": bad}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "loopback ingest needs no token"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["judgment"], "scheduled", "{body}");
    let line = eventually(WAIT_LONG, "the rollback in the daemon's log", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        async move {
            text.lines()
                .find(|l| l.contains("gr rolled back"))
                .map(str::to_owned)
        }
    })
    .await;
    let text = std::fs::read_to_string(&log).unwrap();
    for want in [
        " WARN ",
        "judge{rollout=gr}",
        "rollout::transition",
        "rollout=\"gr\"",
        "action=\"rollback\"",
        "drawdown",
        "actor=\"daemon@",
    ] {
        assert!(
            line.contains(want),
            "{want:?} missing from {line:?}\n{text}"
        );
    }
    assert!(
        !text.contains('\u{1b}'),
        "no colour codes in a file:\n{text}"
    );
    assert!(
        text.contains(
            "ingest (/v1/observations, /learning/collect/*) is accepted from this host only"
        ),
        "the daemon says ingest is open to loopback only:\n{text}"
    );
    assert!(
        !text.contains("tokio_cron_scheduler"),
        "scheduler chatter stays below INFO:\n{text}"
    );
}

/// A restored database (its flags version went back): an open stream does not apply later
/// changes on top of the old state, it sends a fresh snapshot of the restored table.
///
/// The restore is simulated by rewinding the version counter alone (the history is
/// append-only, so it cannot be rewound too), and nothing is committed until the snapshot
/// arrived: a commit in between would stack new history rows on the old ones, which a real
/// restore (history restored with the table) never does.
async fn a_restored_database_gets_a_snapshot(db: TestDb) {
    let api = Api::start(&db, None).await;
    api.start_rollout().await;
    api.commit(ManualAction::Pause).await;
    let mut s = Stream::open(&api, None).await;
    let snap = s.next().await;
    assert_eq!(snap.event, "snapshot", "{snap:?}");
    // A change the stream receives has been read by the feed: the feed is at its version.
    api.commit(ManualAction::Resume).await;
    let change = s.next().await;
    let before: i64 = change.id.unwrap().parse().unwrap();
    assert!(before >= 3, "{before}");
    crate::walk::sqlx_exec(&db, "UPDATE rollout_flags_version SET version = 1").await;
    // The feed notices at its next poll of the version (no commit pokes it).
    let next = s.next().await;
    assert_eq!(next.event, "snapshot", "{next:?}");
    let body: Value = serde_json::from_str(&next.data).unwrap();
    assert_eq!(body["version"], 1);
    let status = body["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "API_STATUS")
        .unwrap()["value"]
        .clone();
    assert_eq!(status, "running");
}

on_both_stores!(a_restored_database_gets_a_snapshot);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_without_a_store_is_503_with_retry_after() {
    // Nothing listens on port 1: every query fails as unavailable.
    let store: Arc<dyn Store> =
        Arc::from(rollout::store::open("postgres://postgres@127.0.0.1:1/none").unwrap());
    let running = http::start(
        "127.0.0.1:0".parse().unwrap(),
        Options {
            store,
            database_url: "postgres://postgres@127.0.0.1:1/none".into(),
            config: Arc::new(ArcSwap::from_pointee(plan(CONFIG))),
            role: Arc::new(Role::default()),
            actor: "test".into(),
            admin_token: None,
            ingest_token: None,
            ingest_slots: 1,
            judgments: None,
            limits: Default::default(),
            read_store: None,
        },
    )
    .await
    .unwrap();
    let resp = http_client()
        .get(format!("http://{}/v1/flags/stream", running.address))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()["retry-after"], "5");
    running.stop().await;
}

/// A store error reaches the client in words with an id, never as driver text or the
/// database URL: `GET /v1/flags` and an admin action while the database is unreachable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_errors_say_what_failed_with_an_id_and_no_driver_text() {
    let url = "postgres://rollout:hunter2@127.0.0.1:1/none";
    let store: Arc<dyn Store> = Arc::from(rollout::store::open(url).unwrap());
    let running = http::start(
        "127.0.0.1:0".parse().unwrap(),
        Options {
            store,
            database_url: url.into(),
            config: Arc::new(ArcSwap::from_pointee(plan(CONFIG))),
            role: Arc::new(Role::default()),
            actor: "test".into(),
            admin_token: Token::new(TOKEN),
            ingest_token: None,
            ingest_slots: 1,
            judgments: None,
            limits: Default::default(),
            read_store: None,
        },
    )
    .await
    .unwrap();
    let base = format!("http://{}", running.address);
    let c = http_client();
    for req in [
        c.get(format!("{base}/v1/flags")),
        c.post(format!("{base}/v1/rollouts/api/pause"))
            .bearer_auth(TOKEN)
            .json(&json!({ "reason": "test" })),
    ] {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = resp.text().await.unwrap();
        assert!(body.contains("error id "), "{body}");
        for leak in [
            "hunter2",
            "127.0.0.1:1",
            "refused",
            "os error",
            "sqlx",
            "pool",
        ] {
            assert!(!body.contains(leak), "{leak:?} in {body}");
        }
    }
    running.stop().await;
}
