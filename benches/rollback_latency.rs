//! Rollback latency: from the commit of breaching observations to the commit of the
//! rollback flags, p50 and p99, on SQLite and PostgreSQL.
//!
//! - in-process: the ingesting process judges the new data at once (`rollout ingest` does
//!   this), on both stores;
//! - cross-process (PostgreSQL): a `rollout daemon` process LISTENs for the ingest's NOTIFY
//!   and rolls back; the bench polls the state every millisecond until it sees the rollback
//!   committed, so the figure is an upper bound.
//!
//!     cargo bench --bench rollback_latency         (ROLLOUT_BENCH_PG_URL overrides the server)

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use rollout::assignment::Variant;
use rollout::config::{self, Config};
use rollout::controller::Status;
use rollout::engine::{self, Outcome};
use rollout::experiment::Observation;
use rollout::store::{self, Store, Writer};
use sqlx::{Connection, PgConnection};

const ROLLOUTS: usize = 100;

fn plan(database: &str, tick: &str) -> String {
    let mut y = format!("database: {database}\ntick: '{tick}'\nrollouts:\n");
    for i in 0..ROLLOUTS {
        y.push_str(&format!(
            "  - name: r{i}
    flag_prefix: R{i}_
    seed: {i}
    stages:
      - canary: {{ percentage: 5, duration: 1d }}
      - full: {{}}
    guardrails:
      - {{ name: drawdown, metric: return_pct, min: -2.0, window: 1h, min_samples: 20 }}
"
        ));
    }
    y
}

fn breach() -> Vec<Observation> {
    (0..50)
        .map(|i| Observation {
            unit: format!("u{i}"),
            variant: Variant::Treatment,
            metric: "return_pct".into(),
            value: -10.0,
            observed_at: Utc::now(),
            event_id: None,
            entry: None,
        })
        .collect()
}

fn percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    (at(0.5), at(0.99))
}

async fn in_process(store: &dyn Store, c: &Config) -> (f64, f64) {
    let w = Writer::person("bench");
    engine::tick_all(store, c, &w, Utc::now()).await.unwrap();
    let mut ms = Vec::new();
    for r in &c.rollouts {
        store
            .ingest(r.name.as_str(), &breach(), Utc::now())
            .await
            .unwrap();
        let committed = Instant::now();
        let out = engine::on_new_data(store, r, &w, Utc::now()).await.unwrap();
        assert!(matches!(out, Outcome::Applied(_)), "{out:?}");
        ms.push(committed.elapsed().as_secs_f64() * 1e3);
    }
    percentiles(ms)
}

/// A daemon process rolls back on NOTIFY; the store's timestamps give the latency.
async fn cross_process(store: &dyn Store, url: &str, dir: &std::path::Path) -> (f64, f64) {
    let cfg = dir.join("rollout.yaml");
    // Hourly ticks: only the NOTIFY path can be fast.
    std::fs::write(&cfg, plan(url, "0 0 * * * *")).unwrap();
    let bin = env!("CARGO_BIN_EXE_rollout");
    let mut daemon = Command::new(bin)
        .args(["--config", cfg.to_str().unwrap(), "daemon"])
        .env("ROLLOUT_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .expect("start the daemon");
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.states().await.unwrap().len() < ROLLOUTS {
        assert!(
            Instant::now() < deadline,
            "the daemon did not start the rollouts"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the listener subscribe before the first NOTIFY.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut ms = Vec::new();
    for i in 0..ROLLOUTS {
        let name = format!("r{i}");
        store.ingest(&name, &breach(), Utc::now()).await.unwrap();
        let committed = Instant::now();
        let deadline = committed + Duration::from_secs(30);
        // Polled every millisecond: the figure is an upper bound (commit → seen committed).
        loop {
            let s = store.state(&name).await.unwrap().unwrap();
            if s.status() == Status::RolledBack {
                ms.push(committed.elapsed().as_secs_f64() * 1e3);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no rollback of {name} within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
    percentiles(ms)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    println!("{ROLLOUTS} rollbacks each; milliseconds from the observations' commit to the rollback's commit");
    println!("{:<40} {:>10} {:>10}", "", "p50", "p99");

    let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let sqlite = store::open(&sqlite_url).unwrap();
    sqlite.migrate().await.unwrap();
    let c = config::parse("bench.yaml", &plan(&sqlite_url, "*/10 * * * * *"))
        .unwrap()
        .config;
    let (p50, p99) = in_process(&*sqlite, &c).await;
    println!(
        "{:<40} {:>10.2} {:>10.2}",
        "SQLite, in-process (ingest judges)", p50, p99
    );

    let admin = std::env::var("ROLLOUT_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL for the benchmark");
    let base = admin.rsplit_once('/').unwrap().0.to_owned();
    for (label, cross) in [
        ("PostgreSQL, in-process (ingest judges)", false),
        ("PostgreSQL, daemon via LISTEN/NOTIFY", true),
    ] {
        let name = format!("rollout_bench_rb_{}_{}", std::process::id(), cross as u8);
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let url = format!("{base}/{name}");
        let pg = store::open(&url).unwrap();
        pg.migrate().await.unwrap();
        let (p50, p99) = if cross {
            cross_process(&*pg, &url, dir.path()).await
        } else {
            let c = config::parse("bench.yaml", &plan(&url, "*/10 * * * * *"))
                .unwrap()
                .config;
            in_process(&*pg, &c).await
        };
        println!("{label:<40} {p50:>10.2} {p99:>10.2}");
        drop(pg);
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}
