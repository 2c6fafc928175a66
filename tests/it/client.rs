//! The Rust client against the real API and the real tables: reads over HTTP (stream) and
//! SQL (poll); last-known-good and retries with backoff when the source goes away (calls
//! counted at the server, never cut off); defaults when unreachable at start-up; a rollback
//! committed by the CLI while the real daemon is down, in the client within 5 s of the
//! daemon's return on the same port.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rollout::client::{Client, ClientError, Mode, Options};
use rollout::controller::ManualAction;
use rollout::daemon::Role;

use crate::http::Api;
use crate::on_both_stores;
use crate::proxy::Proxy;
use crate::support::{eventually, Daemon, TestDb};

const WAIT: Duration = Duration::from_secs(20);

async fn wait_version(client: &Client, version: i64) {
    eventually(WAIT, &format!("the client at version {version}"), || {
        let v = client.version();
        async move { (v >= Some(version)).then_some(()) }
    })
    .await;
}

async fn reads_over_http_and_follows_the_stream(db: TestDb) {
    let api = Api::start(&db, None).await;
    api.start_rollout().await;
    let client = Client::connect(
        &api.url(""),
        Options::default().with_default("API_EXTRA", "d"),
    )
    .await
    .unwrap();
    let table = api.store.flags().await.unwrap();
    assert_eq!(client.version(), Some(table.version), "loaded at start-up");
    assert_eq!(client.flag("API_MODE").as_deref(), Some("shadow"));
    assert_eq!(client.flag("API_EXTRA").as_deref(), Some("d"), "a default");
    assert!(!client.enabled_for("api", "AAPL"), "shadow: off");

    api.commit(ManualAction::Promote).await; // → ab_test
    let v = api.store.flags_version().await.unwrap();
    wait_version(&client, v).await;
    assert_eq!(client.flag("API_MODE").as_deref(), Some("ab_test"));
    let flags = api.store.rollout_flags("api").await.unwrap();
    let r = &api.config.rollouts[0];
    for i in 0..50 {
        let unit = format!("unit-{i}");
        let expected = rollout::status::unit_assignment(r, &flags, &unit);
        assert_eq!(client.enabled_for("api", &unit), expected.enabled, "{unit}");
        assert_eq!(client.enabled_for("API_", &unit), expected.enabled);
        assert_eq!(
            client.variant("api", &unit).map(|v| v.as_str()),
            expected.variant,
            "{unit}"
        );
    }
    api.commit(ManualAction::Rollback).await;
    let v = api.store.flags_version().await.unwrap();
    wait_version(&client, v).await;
    assert_eq!(client.flag("API_MODE").as_deref(), Some("rolled_back"));
    assert_eq!(client.variant("api", "unit-1"), None);
    let stats = client.stats();
    assert!(stats.stream_connects >= 1);
    assert!(stats.changes_applied >= 2, "{stats:?}");
}

async fn reads_sql_directly(db: TestDb) {
    let api = Api::start(&db, None).await;
    api.start_rollout().await;
    let mut opts = Options::default();
    opts.refresh.poll_interval = Duration::from_millis(50);
    let client = Client::connect(&db.url, opts).await.unwrap();
    let table = api.store.flags().await.unwrap();
    assert_eq!(client.version(), Some(table.version));
    for row in &table.flags {
        assert_eq!(client.flag(&row.key).as_deref(), Some(row.value.as_str()));
    }
    api.commit(ManualAction::Promote).await;
    let v = api.store.flags_version().await.unwrap();
    wait_version(&client, v).await;
    assert_eq!(client.flag("API_MODE").as_deref(), Some("ab_test"));
    assert!(client.stats().not_modified + client.stats().full_loads >= 2);
}

const LEARNING: &str = "
rollouts:
  - name: learner
    flag_prefix: LEARN_
    seed: 3
    stages:
      - shadow: { duration: 1h }
      - ab_test: { percentage: 50, duration: 1h }
      - full: {}
    analysis: {}
";

/// `parameters_for` against the flags the server writes: in the A/B stage the treatment
/// units (per the server's own assignment) get `WEIGHTS`, the control units
/// `CONSERVATIVE_WEIGHTS`; after a rollback everyone gets the conservative weights.
async fn parameters_for_follows_the_servers_flags(db: TestDb) {
    let api = Api::launch(&db, None, LEARNING, Arc::new(Role::default()), |r| r).await;
    api.start_rollout().await;
    api.commit(ManualAction::Promote).await; // → ab_test
    let client = Client::connect(&api.url(""), Options::default())
        .await
        .unwrap();
    let weights = |flags: &BTreeMap<String, String>, key: &str| {
        let text = flags.get(key).expect(key);
        serde_json::from_str::<BTreeMap<String, f64>>(text).unwrap()
    };
    let flags = api.store.rollout_flags("learner").await.unwrap();
    let learned = weights(&flags, "LEARN_WEIGHTS");
    let conservative = weights(&flags, "LEARN_CONSERVATIVE_WEIGHTS");
    let r = &api.config.rollouts[0];
    let mut seen = [0; 2];
    for i in 0..40 {
        let unit = format!("unit-{i}");
        let on = rollout::status::unit_assignment(r, &flags, &unit).enabled;
        let expected = if on { &learned } else { &conservative };
        assert_eq!(
            client.parameters_for("learner", &unit).as_ref(),
            Some(expected),
            "{unit}"
        );
        seen[usize::from(on)] += 1;
    }
    assert!(seen[0] > 0 && seen[1] > 0, "{seen:?}");
    assert_eq!(client.parameters_for("nobody", "unit-1"), None);

    api.commit(ManualAction::Rollback).await;
    let v = api.store.flags_version().await.unwrap();
    wait_version(&client, v).await;
    for i in 0..10 {
        let unit = format!("unit-{i}");
        assert_eq!(
            client.parameters_for("learner", &unit),
            Some(conservative.clone())
        );
    }
}

on_both_stores!(
    reads_over_http_and_follows_the_stream,
    reads_sql_directly,
    parameters_for_follows_the_servers_flags
);

/// A switch in front of the real router: while `down`, every request gets 503; all
/// requests are counted.
#[derive(Default)]
struct Switch {
    down: AtomicBool,
    requests: AtomicUsize,
}

async fn switched(sw: Arc<Switch>, req: Request, next: Next) -> Response {
    sw.requests.fetch_add(1, Ordering::SeqCst);
    if sw.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    next.run(req).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_over_http_serve_last_known_good_and_never_stop_the_calls() {
    let db = TestDb::sqlite();
    let sw = Arc::new(Switch::default());
    let layer_sw = sw.clone();
    let mut api = Api::start_with(&db, None, move |r| {
        r.layer(middleware::from_fn(move |req, next| {
            switched(layer_sw.clone(), req, next)
        }))
    })
    .await;
    api.start_rollout().await;
    let client = Client::connect(&api.url(""), Options::default().mode(Mode::Off))
        .await
        .unwrap();
    let good = client.version().expect("loaded");
    assert_eq!(sw.requests.load(Ordering::SeqCst), 1);

    sw.down.store(true, Ordering::SeqCst);
    for _ in 0..6 {
        assert!(matches!(
            client.refresh().await,
            Err(ClientError::Status(503))
        ));
        assert_eq!(
            client.flag("API_MODE").as_deref(),
            Some("shadow"),
            "last known good"
        );
    }
    assert_eq!(
        sw.requests.load(Ordering::SeqCst),
        7,
        "every call reaches the server: no breaker cuts reads off"
    );
    let retry = client.stats().retry;
    assert_eq!(retry.consecutive_failures, 6, "{retry:?}");
    assert!(!retry.unreachable, "the server answered");
    assert_eq!(
        retry.next_retry_at, None,
        "no refresher (Mode::Off): nothing scheduled"
    );
    assert_eq!(client.version(), Some(good));

    // The server recovers: the next call gets the change at once.
    sw.down.store(false, Ordering::SeqCst);
    api.commit(ManualAction::Promote).await;
    assert!(client.refresh().await.unwrap(), "a new version");
    assert_eq!(client.flag("API_MODE").as_deref(), Some("ab_test"));
    assert_eq!(client.stats().retry.consecutive_failures, 0);
    assert_eq!(client.stats().retry.attempts, 8);

    // The server is killed: connections fail, the cache keeps answering.
    api.kill().await;
    for _ in 0..3 {
        let e = client.refresh().await.unwrap_err();
        assert!(e.is_unreachable(), "{e}");
    }
    let stats = client.stats();
    assert!(stats.retry.unreachable);
    assert_eq!(client.flag("API_MODE").as_deref(), Some("ab_test"));
    assert!(stats.last_error.is_some());
}

/// A server whose event stream sends a line that never ends: the client drops the stream
/// once the line passes the cap (1 MiB) with an error, keeps serving its table and
/// reconnects (after a backoff, as from any failure), never buffering the line whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_stream_line_is_dropped_and_the_table_kept() {
    let db = TestDb::sqlite();
    let api = Api::start_with(&db, None, |r| {
        r.layer(middleware::from_fn(|req: Request, next: Next| async move {
            if req.uri().path() != "/v1/flags/stream" {
                return next.run(req).await;
            }
            let chunk = axum::body::Bytes::from(vec![b'x'; 64 * 1024]);
            let head = futures_util::stream::once(async {
                Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"data: "))
            });
            let endless = futures_util::stream::repeat_with(move || Ok(chunk.clone()));
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(axum::body::Body::from_stream(
                    futures_util::StreamExt::chain(head, endless),
                ))
                .unwrap()
        }))
    })
    .await;
    api.start_rollout().await;
    let client = Client::connect(&api.url(""), Options::default())
        .await
        .unwrap();
    let version = client.version().expect("loaded");
    let error = eventually(WAIT, "the stream dropped for its line", || {
        let e = client.stats().last_error;
        async move { e.filter(|e| e.contains("longer than 1048576 bytes")) }
    })
    .await;
    assert!(error.contains("a line"), "{error}");
    assert_eq!(client.version(), Some(version), "the table is kept");
    assert_eq!(client.flag("API_MODE").as_deref(), Some("shadow"));
    eventually(WAIT, "a reconnect", || {
        let n = client.stats().stream_connects;
        async move { (n >= 2).then_some(()) }
    })
    .await;
}

/// The background refresher against a server that answers 503: it backs off (2, 4, 8 s
/// after the second, third, fourth failure; jitter pinned) instead of calling in a loop,
/// and does not probe (the server answers). A successful refresh by hand ends its wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refresher_backs_off_while_the_server_fails() {
    let db = TestDb::sqlite();
    let sw = Arc::new(Switch::default());
    let layer_sw = sw.clone();
    let api = Api::start_with(&db, None, move |r| {
        r.layer(middleware::from_fn(move |req, next| {
            switched(layer_sw.clone(), req, next)
        }))
    })
    .await;
    api.start_rollout().await;
    sw.down.store(true, Ordering::SeqCst);
    // Jitter pinned to the top of its range: waits of exactly 1, 2, 4 … s.
    let opts = Options {
        jitter: Arc::new(|| 1.0),
        ..Options::default()
    };
    let client = Client::connect(&api.url(""), opts).await.unwrap();
    assert_eq!(client.version(), None, "down at start-up: defaults");
    let started = Instant::now();
    // The start-up load and the stream at once (failures 1 and 2), then after 2 s and
    // 4 s: the fourth failure about 6 s after start-up.
    eventually(WAIT, "four failed calls", || {
        let n = client.stats().retry.consecutive_failures;
        async move { (n >= 4).then_some(()) }
    })
    .await;
    let elapsed = started.elapsed();
    let retry = client.stats().retry;
    assert!(
        elapsed >= Duration::from_millis(5900),
        "2 s then 4 s between calls, not a loop: {elapsed:?}"
    );
    assert_eq!(sw.requests.load(Ordering::SeqCst), 4, "{retry:?}");
    assert!(!retry.unreachable && retry.probes == 0, "{retry:?}");
    let next = retry.next_retry_in.expect("a retry is scheduled");
    assert!(
        next > Duration::from_secs(7) && next <= Duration::from_secs(8),
        "the fifth call 8 s after the fourth: {next:?}"
    );
    // A successful refresh by hand ends the refresher's wait: the stream opens at once.
    sw.down.store(false, Ordering::SeqCst);
    client.refresh().await.unwrap();
    eventually(WAIT, "the stream to connect", || {
        let s = client.stats();
        async move { (s.stream_connects >= 1).then_some(()) }
    })
    .await;
    assert!(
        started.elapsed() < elapsed + Duration::from_secs(5),
        "woken, not after the 8 s wait"
    );
    api.commit(ManualAction::Promote).await;
    let v = api.store.flags_version().await.unwrap();
    wait_version(&client, v).await;
    assert_eq!(client.flag("API_MODE").as_deref(), Some("ab_test"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_going_away_serves_last_known_good() {
    let db = TestDb::sqlite();
    let api = Api::start(&db, None).await;
    api.start_rollout().await;
    let client = Client::connect(&db.url, Options::default().mode(Mode::Off))
        .await
        .unwrap();
    let good = client.version().expect("loaded");
    let path = db.dir.path().join("rollout.db");
    let away = db.dir.path().join("elsewhere.db");
    std::fs::rename(&path, &away).unwrap();
    for _ in 0..3 {
        assert!(client.refresh().await.is_err(), "the file is gone");
    }
    assert_eq!(client.stats().retry.consecutive_failures, 3);
    assert_eq!(client.version(), Some(good));
    assert_eq!(client.flag("API_MODE").as_deref(), Some("shadow"));
    std::fs::rename(&away, &path).unwrap();
    api.commit(ManualAction::Promote).await;
    assert!(client.refresh().await.unwrap(), "read again at once");
    assert_eq!(client.flag("API_MODE").as_deref(), Some("ab_test"));
    assert_eq!(client.stats().retry.consecutive_failures, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_when_unreachable_at_start_up() {
    // A port that accepts connections and never answers: the worst server.
    let blackhole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = blackhole.local_addr().unwrap();
    let mut opts = Options::default().with_default("API_MODE", "shadow");
    opts.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let client = Client::connect(&format!("http://{addr}"), opts.clone())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(client.version(), None);
    assert!(client.stats().using_defaults);
    assert_eq!(client.flag("API_MODE").as_deref(), Some("shadow"));
    assert!(!client.enabled_for("api", "AAPL"));

    // Nothing listens at all.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let client = Client::connect(&format!("http://{closed}"), opts.clone())
        .await
        .unwrap();
    assert_eq!(client.version(), None);
    assert_eq!(client.flag("API_MODE").as_deref(), Some("shadow"));

    // A database that does not exist.
    let db = TestDb::sqlite();
    let client = Client::connect(&db.url, opts).await.unwrap();
    assert_eq!(client.version(), None);
    assert!(matches!(
        Client::connect("ftp://x", Options::default()).await,
        Err(ClientError::BadSource(_))
    ));
    drop(blackhole);
}

/// Reading PostgreSQL directly, a NOTIFY wakes the poll: a change arrives long before the
/// (here one hour) poll interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL at 127.0.0.1:5432 (scripts/test runs them)"]
async fn postgres_notify_wakes_the_direct_client() {
    let db = TestDb::postgres().await;
    let api = Api::start(&db, None).await;
    api.start_rollout().await;
    let mut opts = Options::default();
    opts.refresh.poll_interval = Duration::from_secs(3600);
    let client = &Client::connect(&db.url, opts).await.unwrap();
    // The listener connects in the background; commit until one change is seen, then one more.
    let mut action = ManualAction::Pause;
    eventually(WAIT, "the listener to deliver a change", || {
        let before = client.version();
        let api = &api;
        let a = action;
        action = if a == ManualAction::Pause {
            ManualAction::Resume
        } else {
            ManualAction::Pause
        };
        async move {
            api.commit(a).await;
            let v = api.store.flags_version().await.unwrap();
            let mut versions = client.watch_version();
            let seen =
                tokio::time::timeout(Duration::from_secs(1), versions.wait_for(|x| *x >= Some(v)))
                    .await;
            (seen.is_ok() && client.version() > before).then_some(())
        }
    })
    .await;
}

/// Reading PostgreSQL directly through a proxy that cuts it off: last-known-good, every
/// call tries to connect (no breaker), and the first call after recovery reads the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL at 127.0.0.1:5432 (scripts/test runs them)"]
async fn postgres_unreachable_serves_last_known_good() {
    let db = TestDb::postgres().await;
    let api = Api::start(&db, None).await;
    api.start_rollout().await;
    let (proxy, url) = Proxy::before(&db).await;
    let mut opts = Options::default().mode(Mode::Off);
    opts.timeout = Duration::from_secs(1);
    let client = Client::connect(&url, opts).await.unwrap();
    let good = client.version().expect("loaded through the proxy");

    proxy.cut();
    let attempts = proxy.accepted.load(Ordering::SeqCst);
    for _ in 0..3 {
        assert!(client.refresh().await.is_err(), "the database is cut off");
        assert_eq!(client.flag("API_MODE").as_deref(), Some("shadow"));
    }
    assert!(
        proxy.accepted.load(Ordering::SeqCst) >= attempts + 3,
        "every call tries to connect"
    );
    assert_eq!(client.stats().retry.consecutive_failures, 3);
    assert_eq!(client.version(), Some(good));

    proxy.restore();
    api.commit(ManualAction::Promote).await;
    assert!(
        client.refresh().await.unwrap(),
        "a new version after recovery"
    );
    assert_eq!(client.stats().retry.consecutive_failures, 0);
    assert_eq!(client.flag("API_MODE").as_deref(), Some("ab_test"));
}

/// A port nothing listens on now, for a daemon that must come back on the same one.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// When `GET /healthz` first answers 200: polled every 50 ms.
async fn answering(base: &str) -> Instant {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let url = format!("{base}/healthz");
    eventually(
        Duration::from_secs(60),
        "the daemon to answer /healthz",
        || {
            let req = http.get(&url).send();
            async move {
                let ok = req.await.is_ok_and(|r| r.status().is_success());
                ok.then(Instant::now)
            }
        },
    )
    .await
}

/// The on-call issue: a rollback committed by the CLI while the daemon is down must be in
/// every HTTP client within 5 s of the daemon answering again. The daemon (the real binary)
/// is killed and stays down until both clients (one following the stream, one polling with
/// ETags) have failed five times in a row, so that their backoff has grown to 8–16 s: the
/// backoff alone would be too late; the probe of the daemon's port is what brings them back.
async fn a_rollback_made_while_the_daemon_is_down_arrives_within_5_s(db: TestDb) {
    let config = db.config(crate::http::CONFIG);
    let out = crate::support::run(&config, &["tick"]);
    assert!(out.status.success(), "{}", crate::support::stderr(&out));
    let addr = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{addr}");
    let log = db.dir.path().join("daemon.log");
    let daemon = Daemon::start_with(&config, log.clone(), &["--listen", &addr]);
    answering(&base).await;

    let stream = Client::connect(&base, Options::default()).await.unwrap();
    let poll = Client::connect(&base, Options::default().mode(Mode::Poll))
        .await
        .unwrap();
    let clients = [("stream", &stream), ("poll", &poll)];
    for (name, c) in clients {
        assert_eq!(c.flag("API_MODE").as_deref(), Some("shadow"), "{name}");
    }
    eventually(WAIT, "the stream to connect", || {
        let n = stream.stats().stream_connects;
        async move { (n >= 1).then_some(()) }
    })
    .await;

    daemon.kill9();
    eventually(Duration::from_secs(60), "five failures in a row", || {
        let n = clients.map(|(_, c)| c.stats().retry.consecutive_failures);
        async move { n.iter().all(|&n| n >= 5).then_some(()) }
    })
    .await;
    let out = crate::support::run(
        &config,
        &["rollback", "api", "--reason", "while the daemon is down"],
    );
    assert!(out.status.success(), "{}", crate::support::stderr(&out));
    for (name, c) in clients {
        let s = c.stats();
        assert_eq!(c.flag("API_MODE").as_deref(), Some("shadow"), "{name}: LKG");
        assert!(s.retry.unreachable, "{name}: {s:?}");
        assert!(
            s.retry.next_retry_in.is_some_and(|d| d > Duration::ZERO),
            "{name}: a retry is scheduled: {s:?}"
        );
    }

    let _daemon = Daemon::start_with(&config, log, &["--listen", &addr]);
    let back = answering(&base).await;
    for (name, c) in clients {
        let arrived = eventually(WAIT, &format!("the rollback in the {name} client"), || {
            let mode = c.flag("API_MODE");
            async move { (mode.as_deref() == Some("rolled_back")).then(Instant::now) }
        })
        .await;
        let late = arrived.saturating_duration_since(back);
        let s = c.stats();
        eprintln!("{name}: the rollback arrived {late:?} after /healthz answered; {s:?}");
        assert!(
            late <= Duration::from_secs(5),
            "{name}: the rollback arrived {late:?} after the daemon answered; {s:?}"
        );
        assert!(
            s.retry.probe_wakeups >= 1,
            "{name}: the probe ended the wait: {s:?}"
        );
        assert!(!c.enabled_for("api", "AAPL"), "{name}");
    }
    assert_eq!(stream.version(), poll.version());
}

on_both_stores!(a_rollback_made_while_the_daemon_is_down_arrives_within_5_s);
