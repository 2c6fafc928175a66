//! Propagation: from a committed flag change to the Rust client's cache, p50 and p99.
//!
//! - via SSE: the client follows the API's event stream. On SQLite the commit pokes the
//!   feed (as the daemon's own commits do); on PostgreSQL the feed learns of it only by
//!   LISTEN/NOTIFY.
//! - via LISTEN (PostgreSQL): the client reads the database directly; a NOTIFY wakes its poll.
//!
//!     cargo bench --bench propagation      (ROLLOUT_BENCH_PG_URL overrides the server)

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use chrono::Utc;
use rollout::client::{Client, Options};
use rollout::config::{self, Config};
use rollout::controller::ManualAction;
use rollout::daemon::Role;
use rollout::engine;
use rollout::http::{self, AppState};
use rollout::store::{self, Store, Writer};
use sqlx::{Connection, PgConnection};

const ROUNDS: usize = 200;

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

async fn run(label: &str, url: &str, poke: bool) {
    let store: Arc<dyn Store> = Arc::from(store::open(url).expect("store"));
    store.migrate().await.expect("migrate");
    let config = config::parse("bench.yaml", YAML).expect("config").config;
    engine::tick_all(&*store, &config, &Writer::person("bench"), Utc::now())
        .await
        .expect("tick");
    let state = AppState::new(http::Options {
        store: store.clone(),
        database_url: url.to_owned(),
        config: Arc::new(ArcSwap::from_pointee(config.clone())),
        role: Arc::new(Role::default()),
        actor: "bench".into(),
        admin_token: None,
        ingest_token: None,
        ingest_slots: 1,
    });
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
