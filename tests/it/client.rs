//! The Rust client against the real API and the real tables: reads over HTTP (stream) and
//! SQL (poll); last-known-good and the circuit breaker when the source goes away (calls
//! counted at the server, time injected); defaults when unreachable at start-up.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rollout::client::{BreakerState, Client, ClientError, ManualClock, Mode, Options};
use rollout::controller::ManualAction;

use crate::http::Api;
use crate::on_both_stores;
use crate::support::{eventually, TestDb};

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

on_both_stores!(reads_over_http_and_follows_the_stream, reads_sql_directly);

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
async fn breaker_over_http_serves_last_known_good() {
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
    let clock = ManualClock::default();
    let opts = Options {
        clock: clock.clock(),
        ..Options::default().mode(Mode::Off)
    };
    let client = Client::connect(&api.url(""), opts).await.unwrap();
    let good = client.version().expect("loaded");
    assert_eq!(sw.requests.load(Ordering::SeqCst), 1);

    sw.down.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        assert!(client.refresh().await.is_err());
        assert_eq!(
            client.flag("API_MODE").as_deref(),
            Some("shadow"),
            "last known good"
        );
    }
    assert_eq!(
        sw.requests.load(Ordering::SeqCst),
        4,
        "three failed calls reached the server"
    );
    assert_eq!(client.breaker_state(), BreakerState::Open);
    for _ in 0..5 {
        assert!(matches!(
            client.refresh().await,
            Err(ClientError::BreakerOpen)
        ));
    }
    assert_eq!(
        sw.requests.load(Ordering::SeqCst),
        4,
        "an open breaker calls nobody"
    );
    assert_eq!(client.version(), Some(good));

    // The server recovers; after reset_timeout one trial goes through and closes it.
    sw.down.store(false, Ordering::SeqCst);
    api.commit(ManualAction::Promote).await;
    clock.advance(Duration::from_secs(299));
    assert!(matches!(
        client.refresh().await,
        Err(ClientError::BreakerOpen)
    ));
    clock.advance(Duration::from_secs(1));
    assert!(client.refresh().await.unwrap(), "a new version");
    assert_eq!(sw.requests.load(Ordering::SeqCst), 5);
    assert_eq!(client.breaker_state(), BreakerState::Closed);
    assert_eq!(client.flag("API_MODE").as_deref(), Some("ab_test"));

    // The server is killed: connections fail, the cache keeps answering.
    api.kill().await;
    for _ in 0..3 {
        assert!(client.refresh().await.is_err());
    }
    assert_eq!(client.breaker_state(), BreakerState::Open);
    assert_eq!(client.flag("API_MODE").as_deref(), Some("ab_test"));
    assert!(client.stats().last_error.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_over_sqlite_when_the_file_goes_away() {
    let db = TestDb::sqlite();
    let api = Api::start(&db, None).await;
    api.start_rollout().await;
    let clock = ManualClock::default();
    let opts = Options {
        clock: clock.clock(),
        ..Options::default().mode(Mode::Off)
    };
    let client = Client::connect(&db.url, opts).await.unwrap();
    let good = client.version().expect("loaded");
    let path = db.dir.path().join("rollout.db");
    let away = db.dir.path().join("elsewhere.db");
    std::fs::rename(&path, &away).unwrap();
    for _ in 0..3 {
        assert!(client.refresh().await.is_err(), "the file is gone");
    }
    assert_eq!(client.breaker_state(), BreakerState::Open);
    assert_eq!(client.version(), Some(good));
    assert_eq!(client.flag("API_MODE").as_deref(), Some("shadow"));
    std::fs::rename(&away, &path).unwrap();
    assert!(matches!(
        client.refresh().await,
        Err(ClientError::BreakerOpen)
    ));
    clock.advance(Duration::from_secs(300));
    client.refresh().await.unwrap();
    assert_eq!(client.breaker_state(), BreakerState::Closed);
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

/// A TCP proxy in front of PostgreSQL that can cut the database off: while down, it
/// closes every forwarded connection and refuses new ones (after accepting them, which
/// is how it counts connection attempts).
struct Proxy {
    addr: std::net::SocketAddr,
    down: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    conns: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let down = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let conns = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (d, a, c) = (down.clone(), accepted.clone(), conns.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                if d.load(Ordering::SeqCst) {
                    continue; // dropped: the connection closes at once
                }
                let target = target.clone();
                c.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                }));
            }
        });
        Proxy {
            addr,
            down,
            accepted,
            conns,
            task,
        }
    }

    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

/// Reading PostgreSQL directly through a proxy that cuts it off: last-known-good, the
/// breaker opens after 3 failures and then makes no connection attempt, and closes after
/// recovery once the (injected) clock passes the reset timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL at 127.0.0.1:5432 (scripts/test runs them)"]
async fn breaker_over_postgres_when_the_database_is_unreachable() {
    let db = TestDb::postgres().await;
    let api = Api::start(&db, None).await;
    api.start_rollout().await;
    let (head, rest) = db.url.split_once('@').expect("user@host in the URL");
    let (hostport, path) = rest.split_once('/').expect("a database in the URL");
    let proxy = Proxy::start(hostport.to_owned()).await;
    let url = format!("{head}@{}/{path}", proxy.addr);
    let clock = ManualClock::default();
    let mut opts = Options {
        clock: clock.clock(),
        ..Options::default().mode(Mode::Off)
    };
    opts.timeout = Duration::from_secs(1);
    let client = Client::connect(&url, opts).await.unwrap();
    let good = client.version().expect("loaded through the proxy");

    proxy.cut();
    for _ in 0..3 {
        assert!(client.refresh().await.is_err(), "the database is cut off");
        assert_eq!(client.flag("API_MODE").as_deref(), Some("shadow"));
    }
    assert_eq!(client.breaker_state(), BreakerState::Open);
    let attempts = proxy.accepted.load(Ordering::SeqCst);
    for _ in 0..3 {
        assert!(matches!(
            client.refresh().await,
            Err(ClientError::BreakerOpen)
        ));
    }
    assert_eq!(
        proxy.accepted.load(Ordering::SeqCst),
        attempts,
        "an open breaker makes no connection attempt"
    );
    assert_eq!(client.version(), Some(good));

    proxy.restore();
    api.commit(ManualAction::Promote).await;
    clock.advance(Duration::from_secs(300));
    assert!(
        client.refresh().await.unwrap(),
        "a new version after recovery"
    );
    assert_eq!(client.breaker_state(), BreakerState::Closed);
    assert_eq!(client.flag("API_MODE").as_deref(), Some("ab_test"));
}
