//! The cost of `rollout learning analyze` over one year of data on PostgreSQL: 100 thousand
//! discoveries and 20 thousand trade outcomes (filled with SQL `generate_series`), analysed
//! over the whole year (`window: 365d`) and over the default 90-day window. Each time covers
//! the pairing join, the counts and the regime in SQL, decoding the pairs, the per-feature
//! correlations, thresholds and deciles, and the weights step.
//!
//!     cargo bench --bench learning_analyze      (ROLLOUT_BENCH_PG_URL overrides the server)

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use rollout::config;
use rollout::learning;
use rollout::store::{PgStore, Store};
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

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
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
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let store = PgStore::open(&url).unwrap();
    store.migrate().await.unwrap();
    let pool = store.pool().clone();
    let now = Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap();

    let fill = Instant::now();
    // One discovery every 315 s over 365 days, 2,000 symbols; every fifth one traded.
    sqlx::query(
        "INSERT INTO learning.discovery_decisions (symbol, discovery_timestamp, discovery_features, \
         discovery_score, action_tag, market_conditions, universe_size) \
         SELECT 'S' || (g % 2000), $1 - g * INTERVAL '315 seconds', \
                jsonb_build_object('volume_momentum', random(), 'squeeze', random(), 'catalyst', random(), \
                                   'sentiment', random(), 'options', random(), 'technical', random()), \
                random(), 'trade_ready', jsonb_build_object('regime', 'normal'), 5000 \
         FROM generate_series(1, 100000) g",
    )
    .bind(now)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO learning.trade_outcomes (symbol, entry_timestamp, exit_timestamp, entry_price, \
         exit_price, return_pct, holding_period_days) \
         SELECT symbol, discovery_timestamp + INTERVAL '3 hours', discovery_timestamp + INTERVAL '51 hours', \
                10, 10, (discovery_features->>'squeeze')::float8 * 8 - 4 + (random() - 0.5) * 10, 2 \
         FROM learning.discovery_decisions WHERE id % 5 = 0",
    )
    .execute(&pool)
    .await
    .unwrap();
    for t in ["discovery_decisions", "trade_outcomes"] {
        sqlx::query(&format!("ANALYZE learning.{t}"))
            .execute(&pool)
            .await
            .unwrap();
    }
    println!(
        "filled 100000 discoveries and 20000 outcomes in {:.1} s",
        fill.elapsed().as_secs_f64()
    );

    println!(
        "{:>8} {:>8} {:>14} {:>14}",
        "window", "pairs", "analyze p50", "analyze max"
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
            let report = learning::analyze(&store, r, cfg, now).await.unwrap();
            times.push(t.elapsed());
            pairs = report.pairs;
        }
        let max = *times.iter().max().unwrap();
        println!(
            "{window:>8} {pairs:>8} {:>11.1} ms {:>11.1} ms",
            median(times).as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
    }
    pool.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
}
