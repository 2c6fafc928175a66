//! The HTTP API bounds its clients (issue 15, "HTTP that bounds its clients"): body and idle
//! timeouts on a real daemon, caps on connections and event streams, a read pool of its
//! own, and rate-limited admin-token attempts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use rollout::http::{self, Options, Token};
use rollout::store::{Store, Writer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http::{daemon_address, http_client, Api, CONFIG, TOKEN};
use crate::on_both_stores;
use crate::support::{eventually, Daemon, TestDb};
use crate::walk::{plan, t0};

const ROLLOUT: &str = "
rollouts:
  - name: b
    flag_prefix: B_
    seed: 5
    stages:
      - canary: { percentage: 5, duration: 1d }
      - full: {}
";

/// A daemon on SQLite with `args` after `--listen 127.0.0.1:0`, and its address.
async fn daemon(db: &TestDb, args: &[&str]) -> (Daemon, SocketAddr) {
    let config = db.config(ROLLOUT);
    let log = db.dir.path().join("daemon.log");
    let mut all = vec!["--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let d = Daemon::start_with(&config, log.clone(), &all);
    let base = daemon_address(&log).await;
    let addr = base.trim_start_matches("http://").parse().unwrap();
    (d, addr)
}

/// Reads what the server sends until it closes the connection (or `within` passes: then
/// `None`).
async fn read_until_closed(s: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// A request body trickled slower than `--http-body-timeout` gets 408 and its connection
/// closed; a keep-alive connection left idle is closed after `--http-idle-timeout`, and so
/// is one that never finishes its head (`--http-header-timeout`); an event stream, which
/// is never idle, stays open past the idle timeout; the daemon answers others throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_and_idle_connections_are_cut_off() {
    let db = TestDb::sqlite();
    let (_d, addr) = daemon(
        &db,
        &[
            "--http-body-timeout",
            "1s",
            "--http-idle-timeout",
            "1s",
            "--http-header-timeout",
            "2s",
        ],
    )
    .await;

    // A body of 100 bytes, one byte every 100 ms: 10 s to send, 1 s allowed.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(
        b"POST /v1/observations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let cut = loop {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the trickled body was never cut off"
        );
        if slow.write_all(b" ").await.is_err() {
            break true;
        }
        match tokio::time::timeout(Duration::from_millis(100), slow.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        if answer.ends_with(b"}") {
            break false;
        }
    };
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408") || (cut && answer.is_empty()),
        "{answer}"
    );
    if !answer.is_empty() {
        assert!(answer.contains("did not arrive within 1s"), "{answer}");
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{answer}"
        );
    }

    // Keep-alive: one request answered, then the connection is closed once idle.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let seen = read_until_closed(&mut idle, Duration::from_secs(20))
        .await
        .expect("the idle connection is closed");
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");

    // A head never finished.
    let mut slowloris = TcpStream::connect(addr).await.unwrap();
    slowloris
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let seen = read_until_closed(&mut slowloris, Duration::from_secs(20))
        .await
        .expect("the unfinished head is cut off");
    assert!(
        seen.is_empty() || seen.starts_with("HTTP/1.1 408"),
        "{seen}"
    );

    // An event stream outlives the idle timeout (its keepalives come every 15 s).
    let c = http_client();
    let mut stream = reqwest::Client::new()
        .get(format!("http://{addr}/v1/flags/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let first = stream.chunk().await.unwrap().expect("the snapshot");
    assert!(String::from_utf8_lossy(&first).contains("snapshot"));
    let quiet = tokio::time::timeout(Duration::from_secs(3), stream.chunk()).await;
    assert!(
        quiet.is_err(),
        "the stream stays open past the idle timeout: {quiet:?}"
    );
    let ok = c
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

/// At `--http-max-streams`, the next event stream gets 503 with `Retry-After` while
/// `/healthz` and a flags read still answer at once; a freed slot is taken again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_over_the_cap_get_503() {
    let db = TestDb::sqlite();
    let (_d, addr) = daemon(&db, &["--http-max-streams", "3"]).await;
    let url = |p: &str| format!("http://{addr}{p}");
    // A client per stream: each its own connection.
    let open = || async {
        let resp = reqwest::Client::new()
            .get(url("/v1/flags/stream"))
            .send()
            .await
            .unwrap();
        resp
    };
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut s = open().await;
        assert_eq!(s.status(), StatusCode::OK);
        s.chunk().await.unwrap().expect("the snapshot");
        streams.push(s);
    }
    let full = open().await;
    assert_eq!(full.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(full.headers()["retry-after"], "2");
    let body: serde_json::Value = full.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("too many open event streams"),
        "{body}"
    );
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    for p in ["/healthz", "/v1/flags"] {
        let r = quick.get(url(p)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{p}");
    }
    drop(streams.pop());
    eventually(Duration::from_secs(20), "a freed stream slot", || async {
        let mut s = open().await;
        if s.status() != StatusCode::OK {
            return None;
        }
        s.chunk().await.ok()??;
        Some(())
    })
    .await;
}

/// At `--http-max-connections`, one more connection gets 503 with `Retry-After` and is
/// closed; once connections go, new ones are served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_get_503() {
    let db = TestDb::sqlite();
    let (_d, addr) = daemon(
        &db,
        &[
            "--http-max-connections",
            "8",
            "--http-header-timeout",
            "60s",
        ],
    )
    .await;
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let healthz = format!("http://{addr}/healthz");
    // Eight connections that have not sent their request yet: each holds a slot.
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    let refused = eventually(Duration::from_secs(20), "a refused connection", || async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .ok()?;
        read_until_closed(&mut s, Duration::from_secs(5)).await
    })
    .await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("Retry-After: 1"), "{refused}");
    assert!(refused.contains("too many connections"), "{refused}");
    drop(held);
    eventually(
        Duration::from_secs(20),
        "a freed connection slot",
        || async {
            let r = quick.get(&healthz).send().await.ok()?;
            (r.status() == StatusCode::OK).then_some(())
        },
    )
    .await;
}

/// HTTP reads have a pool of their own: with every read connection taken (as many slow
/// readers would), a rollback through the admin endpoint and a tick still complete at
/// once; the read waits for its pool, and is answered when it frees.
async fn saturated_reads_do_not_block_the_controller(db: TestDb) {
    let store: Arc<dyn Store> = Arc::from(db.store().await);
    let config = plan(CONFIG);
    let w = Writer::person("t@it");
    rollout::engine::tick_all(&*store, &config, &w, t0())
        .await
        .unwrap();
    let url = rollout::store::DatabaseUrl::parse(&db.url).unwrap();
    // A read store of 2 connections, both held.
    let (reads, held): (Arc<dyn Store>, Box<dyn std::any::Any + Send>) = if db.is_postgres() {
        let s = rollout::store::PgStore::open_url_with_pool(&url, 2).unwrap();
        let pool = s.pool().clone();
        let held = vec![pool.acquire().await.unwrap(), pool.acquire().await.unwrap()];
        (Arc::new(s), Box::new(held))
    } else {
        let s = rollout::store::SqliteStore::open_url_with_pool(&url, 2).unwrap();
        let pool = s.pool().clone();
        let held = vec![pool.acquire().await.unwrap(), pool.acquire().await.unwrap()];
        (Arc::new(s), Box::new(held))
    };
    let running = http::start(
        "127.0.0.1:0".parse().unwrap(),
        Options {
            store: store.clone(),
            database_url: db.url.clone(),
            config: Arc::new(arc_swap::ArcSwap::from_pointee(config.clone())),
            role: Arc::new(rollout::role::Role::default()),
            actor: "daemon@test".into(),
            admin_token: Token::new(TOKEN),
            ingest_token: None,
            ingest_slots: 2,
            judgments: None,
            limits: Default::default(),
            read_store: Some(reads),
        },
    )
    .await
    .unwrap();
    let base = format!("http://{}", running.address);
    let c = http_client();
    let read = tokio::spawn({
        let (c, base) = (c.clone(), base.clone());
        async move { c.get(format!("{base}/v1/flags")).send().await }
    });
    let started = Instant::now();
    let resp = c
        .post(format!("{base}/v1/rollouts/api/rollback"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"reason": "reads are saturated"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{}",
        resp.text().await.unwrap()
    );
    rollout::engine::tick_all(&*store, &config, &w, t0() + chrono::Duration::minutes(5))
        .await
        .expect("a tick completes");
    let state = store.state("api").await.unwrap().unwrap();
    assert_eq!(state.status().as_str(), "rolled_back");
    // The read was waiting for its own pool all along (which times out after 5-10 s).
    assert!(
        !read.is_finished() || started.elapsed() >= Duration::from_secs(4),
        "the read did not wait for the read pool"
    );
    drop(held);
    let flags = read.await.unwrap().unwrap();
    assert_eq!(flags.status(), StatusCode::OK);
    let flags: serde_json::Value = flags.json().await.unwrap();
    let status = flags["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "API_STATUS")
        .unwrap();
    assert_eq!(status["value"], "rolled_back", "{flags}");
    running.stop().await;
}

on_both_stores!(saturated_reads_do_not_block_the_controller);

/// Ten failed admin-token attempts from one address in a minute: the next gets 429 with
/// `Retry-After`, even with the right token; another address is not held; successful
/// requests are neither limited nor counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_admin_attempts_are_rate_limited_per_peer() {
    let db = TestDb::sqlite();
    let api = Api::start(&db, Some(TOKEN)).await;
    api.start_rollout().await;
    let c = http_client();
    let act = |token: &'static str, action: &'static str, c: reqwest::Client| {
        let url = api.url(&format!("/v1/rollouts/api/{action}"));
        async move {
            c.post(url)
                .bearer_auth(token)
                .json(&serde_json::json!({"reason": "t"}))
                .send()
                .await
                .unwrap()
        }
    };
    for i in 0..15 {
        let action = if i % 2 == 0 { "pause" } else { "resume" };
        let r = act(TOKEN, action, c.clone()).await;
        assert_eq!(r.status(), StatusCode::OK, "successful request {i}");
    }
    for i in 0..10 {
        let r = act("wrong", "pause", c.clone()).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "failed attempt {i}");
    }
    for token in ["wrong", TOKEN] {
        let r = act(token, "pause", c.clone()).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{token}");
        let wait: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("too many failed admin-token attempts"),
            "{body}"
        );
    }
    // Another address of this host is another peer.
    let other = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let r = act(TOKEN, "resume", other).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the last success above paused it"
    );
}

/// The bounds are daemon flags, documented by `rollout daemon --help` with their variables.
#[test]
fn the_bounds_are_in_the_daemon_help() {
    let out = crate::support::bin()
        .args(["daemon", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for (flag, var) in [
        ("--http-header-timeout", "ROLLOUT_HTTP_HEADER_TIMEOUT"),
        ("--http-body-timeout", "ROLLOUT_HTTP_BODY_TIMEOUT"),
        ("--http-idle-timeout", "ROLLOUT_HTTP_IDLE_TIMEOUT"),
        ("--http-max-connections", "ROLLOUT_HTTP_MAX_CONNECTIONS"),
        ("--http-max-streams", "ROLLOUT_HTTP_MAX_STREAMS"),
        ("--http-read-pool", "ROLLOUT_HTTP_READ_POOL"),
    ] {
        assert!(help.contains(flag) && help.contains(var), "{flag}: {help}");
    }
    let bad = crate::support::bin()
        .args(["daemon", "--http-body-timeout", "0s"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("--http-body-timeout 0 would cut off every client"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
