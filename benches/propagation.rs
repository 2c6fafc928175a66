//! Propagation: from a committed flag change to the Rust client's cache, p50 and p99.
//!
//! - via SSE: the client follows the API's event stream. On SQLite the commit pokes the
//!   feed (as the daemon's own commits do); on PostgreSQL the feed learns of it only by
//!   LISTEN/NOTIFY.
//! - via LISTEN (PostgreSQL): the client reads the database directly; a NOTIFY wakes its poll.
//! - after an outage: the API is stopped, a change is committed while it is down (as a CLI
//!   rollback would be), and it starts again on the same port once the clients have failed
//!   four times in a row (their backoff waits 4–8 s by then). Measured from the moment
//!   `/healthz` answers again to the change in the cache, for the default client (which
//!   probes the daemon's port every second while it refuses connections) and for one with
//!   the probe off (the backoff alone).
//!
//!     cargo bench --bench propagation      (ROLLOUT_BENCH_PG_URL overrides the server)

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use chrono::Utc;
use rollout::client::{Client, Mode, Options};
use rollout::config::{self, Config};
use rollout::controller::ManualAction;
use rollout::daemon::Role;
use rollout::engine;
use rollout::http::{self, AppState};
use rollout::store::{self, Store, Writer};
use sqlx::{Connection, PgConnection};

const ROUNDS: usize = 200;
/// Outages (each lasts several seconds).
const OUTAGES: usize = 10;

const YAML: &str = "
rollouts:
  - name: p
    flag_prefix: P_
    seed: 1
    stages:
      - canary: { percentage: 25, duration: 1d }
      - full: {}
";

fn percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    (at(0.5), at(0.99))
}

/// Commits `ROUNDS` changes, each measured until `client` shows it.
async fn measure(
    label: &str,
    store: &dyn Store,
    config: &Config,
    client: &Client,
    poke: impl Fn(),
) {
    let w = Writer::person("bench");
    let mut versions = client.watch_version();
    let r = &config.rollouts[0];
    let mut samples = Vec::with_capacity(ROUNDS);
    for i in 0..ROUNDS {
        let action = if i % 2 == 0 {
            ManualAction::Pause
        } else {
            ManualAction::Resume
        };
        let start = Instant::now();
        let applied = engine::act(store, r, action, "bench", &w, Utc::now)
            .await
            .expect("act")
            .expect("a change");
        poke();
        let target = applied.committed.flags_version;
        tokio::time::timeout(
            Duration::from_secs(10),
            versions.wait_for(|v| *v >= Some(target)),
        )
        .await
        .expect("propagated within 10 s")
        .expect("client alive");
        samples.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let (p50, p99) = percentiles(samples);
    println!("{label}: p50 {p50:.2} ms, p99 {p99:.2} ms ({ROUNDS} changes)");
}

fn app_state(store: &Arc<dyn Store>, url: &str, config: &Config) -> AppState {
    AppState::new(http::Options {
        store: store.clone(),
        database_url: url.to_owned(),
        config: Arc::new(ArcSwap::from_pointee(config.clone())),
        role: Arc::new(Role::default()),
        actor: "bench".into(),
        admin_token: None,
        ingest_token: None,
        ingest_slots: 1,
        judgments: None,
        limits: Default::default(),
        read_store: None,
    })
}

/// A server on `addr` until the sender is used or dropped.
async fn serve(
    addr: std::net::SocketAddr,
    state: AppState,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    (stop, server)
}

/// `OUTAGES` times: stop the API, wait until both clients have failed four times in a row,
/// commit a change, start the API again on the same port, and time from `/healthz`
/// answering to the change in each client's cache.
async fn outages(
    label: &str,
    url: &str,
    store: &Arc<dyn Store>,
    config: &Config,
    addr: std::net::SocketAddr,
) {
    let base = format!("http://{addr}");
    let probing = Client::connect(&base, Options::default())
        .await
        .expect("client");
    let mut opts = Options::default();
    opts.refresh.probe_interval = None;
    let backoff_only = Client::connect(&base, opts).await.expect("client");
    let polling = Client::connect(&base, Options::default().mode(Mode::Poll))
        .await
        .expect("client");
    let clients = [
        ("stream, probe", &probing),
        ("stream, backoff only", &backoff_only),
        ("poll, probe", &polling),
    ];
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .expect("reqwest");
    let w = Writer::person("bench");
    let r = &config.rollouts[0];
    let mut samples = vec![Vec::with_capacity(OUTAGES); clients.len()];
    let (mut stop, mut server) = serve(addr, app_state(store, url, config)).await;
    for i in 0..OUTAGES {
        let _ = stop.send(());
        let _ = server.await;
        for (name, c) in clients {
            let deadline = Instant::now() + Duration::from_secs(60);
            while c.stats().retry.consecutive_failures < 4 {
                assert!(Instant::now() < deadline, "{name}: no failures");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let action = if i % 2 == 0 {
            ManualAction::Pause
        } else {
            ManualAction::Resume
        };
        let applied = engine::act(&**store, r, action, "bench", &w, Utc::now)
            .await
            .expect("act")
            .expect("a change");
        let target = applied.committed.flags_version;
        (stop, server) = serve(addr, app_state(store, url, config)).await;
        let up = loop {
            if http
                .get(format!("{base}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        // Each client's own arrival time: wait for all of them at once.
        let arrivals = futures_util::future::join_all(clients.map(|(name, c)| {
            let mut versions = c.watch_version();
            async move {
                tokio::time::timeout(
                    Duration::from_secs(60),
                    versions.wait_for(|v| *v >= Some(target)),
                )
                .await
                .unwrap_or_else(|_| panic!("{name}: propagated within 60 s"))
                .expect("client alive");
                Instant::now()
            }
        }))
        .await;
        for (k, at) in arrivals.into_iter().enumerate() {
            samples[k].push(at.saturating_duration_since(up).as_secs_f64());
        }
    }
    let _ = stop.send(());
    let _ = server.await;
    for ((name, _), v) in clients.iter().zip(samples) {
        let max = v.iter().copied().fold(0.0, f64::max);
        let (p50, _) = percentiles(v);
        println!(
            "{label}: change committed while the API was down -> {name}: p50 {p50:.2} s, max {max:.2} s after /healthz answered ({OUTAGES} outages)"
        );
    }
}

async fn run(label: &str, url: &str, poke: bool) {
    let store: Arc<dyn Store> = Arc::from(store::open(url).expect("store"));
    store.migrate().await.expect("migrate");
    let config = config::parse("bench.yaml", YAML).expect("config").config;
    engine::tick_all(&*store, &config, &Writer::person("bench"), Utc::now())
        .await
        .expect("tick");
    let state = app_state(&store, url, &config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(listener, state.clone(), async move {
        let _ = stopped.await;
    }));
    let client = Client::connect(&format!("http://{addr}"), Options::default())
        .await
        .expect("client");
    measure(
        &format!("{label}: commit -> client cache via SSE"),
        &*store,
        &config,
        &client,
        || {
            if poke {
                state.feed().poke();
            }
        },
    )
    .await;
    if url.starts_with("postgres") {
        let mut opts = Options::default();
        opts.refresh.poll_interval = Duration::from_secs(5);
        let direct = Client::connect(url, opts).await.expect("client");
        measure(
            &format!("{label}: commit -> client cache via LISTEN (direct SQL)"),
            &*store,
            &config,
            &direct,
            || {},
        )
        .await;
    }
    let _ = stop.send(());
    let _ = server.await;
    drop(client);
    outages(label, url, &store, &config, addr).await;
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
        run("sqlite", &sqlite, true).await;
        let admin = std::env::var("ROLLOUT_BENCH_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let Ok(mut conn) = PgConnection::connect(&admin).await else {
            println!("postgres: skipped, {admin} is unreachable");
            return;
        };
        let name = format!("rollout_bench_prop_{}", std::process::id());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        run("postgres", &format!("{base}/{name}"), false).await;
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    });
}
