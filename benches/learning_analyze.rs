//! The cost of `rollout learning analyze` over one year of data: 100 thousand discoveries and
//! 20 thousand trade outcomes (seeded ChaCha20, loaded through the ingest path), analysed over
//! the whole year (`window: 365d`) and over the default 90-day window, on PostgreSQL and on
//! SQLite. Each time covers the pairing join, the counts and the regime in SQL, decoding the
//! pairs, the per-feature correlations, thresholds and deciles, and the weights step.
//!
//!     cargo bench --bench learning_analyze      (ROLLOUT_BENCH_PG_URL overrides the server)

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rollout::config;
use rollout::learning::{self, Discovery, Outcome, Rows};
use rollout::store::{self, PgStore, StateStore, Store};
use sqlx::{Connection, PgConnection};

const PLAN: &str = "
rollouts:
  - name: bench
    flag_prefix: BENCH_
    seed: 1
    stages:
      - canary: { percentage: 5, duration: 1d }
      - full: {}
    analysis: { window: WINDOW }
";

const FEATURES: [&str; 6] = [
    "volume_momentum",
    "squeeze",
    "catalyst",
    "sentiment",
    "options",
    "technical",
];

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// One discovery every 315 s over the year before `now`, 2,000 symbols; every fifth traded.
fn year(now: DateTime<Utc>) -> (Rows, Rows) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let (mut ds, mut os) = (Vec::new(), Vec::new());
    for g in 1..=100_000i64 {
        let at = now - chrono::Duration::seconds(315 * g);
        let symbol = format!("S{}", g % 2000);
        let features: BTreeMap<String, f64> = FEATURES
            .iter()
            .map(|f| ((*f).to_owned(), rng.random()))
            .collect();
        if g % 5 == 0 {
            let ret = features["squeeze"] * 8.0 - 4.0 + (rng.random::<f64>() - 0.5) * 10.0;
            let entry = at + chrono::Duration::hours(3);
            os.push(Outcome {
                symbol: symbol.clone(),
                entry_timestamp: entry,
                exit_timestamp: Some(entry + chrono::Duration::hours(48)),
                entry_price: 10.0,
                exit_price: Some(10.0 * (1.0 + ret / 100.0)),
                position_size_pct: Some(1.0),
                return_pct: Some(ret),
                holding_period_days: Some(2),
                max_favorable_excursion: None,
                max_adverse_excursion: None,
                exit_reason: None,
            });
        }
        ds.push(Discovery {
            symbol,
            discovery_timestamp: at,
            discovery_features: features,
            discovery_score: rng.random(),
            action_tag: "trade_ready".into(),
            market_conditions: Some(serde_json::json!({ "regime": "normal" })),
            universe_size: Some(5000),
        });
    }
    (Rows::Discovery(ds), Rows::Outcome(os))
}

async fn measure(
    label: &str,
    store: &dyn Store,
    analyze_sql: &[&str],
    pool: Option<&sqlx::PgPool>,
    now: DateTime<Utc>,
) {
    let (ds, os) = year(now);
    let fill = Instant::now();
    store.ingest_learning(&ds).await.unwrap();
    store.ingest_learning(&os).await.unwrap();
    // Planner statistics, as autovacuum would gather them after a bulk load.
    if let Some(pool) = pool {
        for sql in analyze_sql {
            sqlx::query(sql).execute(pool).await.unwrap();
        }
    }
    println!(
        "{label}: ingested 100000 discoveries and 20000 outcomes in {:.1} s",
        fill.elapsed().as_secs_f64()
    );
    for window in ["365d", "90d"] {
        let c = config::parse("bench.yaml", &PLAN.replace("WINDOW", window))
            .unwrap()
            .config;
        let r = &c.rollouts[0];
        let cfg = r.analysis.as_ref().unwrap();
        let mut times = Vec::new();
        let mut pairs = 0;
        for _ in 0..11 {
            let t = Instant::now();
            let report = learning::analyze(store, r, cfg, now).await.unwrap();
            times.push(t.elapsed());
            pairs = report.pairs;
        }
        let max = *times.iter().max().unwrap();
        println!(
            "{label:>10} {window:>6} {pairs:>7} pairs   p50 {:>7.1} ms   max {:>7.1} ms",
            median(times).as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
    }
}

#[tokio::main]
async fn main() {
    let now = Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap();
    let admin = std::env::var("ROLLOUT_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL for the benchmark");
    let name = format!("rollout_bench_learning_{}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let pg = PgStore::open(&format!("{}/{name}", admin.rsplit_once('/').unwrap().0)).unwrap();
    pg.migrate().await.unwrap();
    let pool = pg.pool().clone();
    let analyze = [
        "ANALYZE learning.discovery_decisions",
        "ANALYZE learning.trade_outcomes",
    ];
    measure("postgres", &pg, &analyze, Some(&pool), now).await;
    pool.close().await;
    drop(pg);
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let sqlite = store::open(&format!(
        "sqlite://{}",
        dir.path().join("bench.db").display()
    ))
    .unwrap();
    sqlite.migrate().await.unwrap();
    measure("sqlite", &*sqlite, &[], None, now).await;
}
