//! The cost of `analyze` as observations grow, on PostgreSQL.
//!
//! Fills a scratch database with 10 thousand to 10 million observations (SQL
//! `generate_series`, then the same per-variant sums that ingest maintains) and times the
//! analysis the daemon runs every tick: Welch t and two-proportion z read the maintained sums;
//! the Mann-Whitney rank test ranks every row in SQL.
//!
//!     cargo bench --bench analyze_scale            (ROLLOUT_BENCH_PG_URL overrides the server)
//!     ROLLOUT_BENCH_MAX=1000000 cargo bench --bench analyze_scale

use std::time::{Duration, Instant};

use rollout::config;
use rollout::experiment;
use rollout::store::{PgStore, StateStore};
use sqlx::{Connection, PgConnection};

const PLAN: &str = "
rollouts:
  - name: bench
    flag_prefix: BENCH_
    seed: 1
    stages:
      - ab_test:
          percentage: 10
          duration: 14d
          metrics: [ { name: return_pct, test: welch_t }, { name: win, test: two_proportion_z } ]
      - full: {}
";

const RANKED: &str = "
rollouts:
  - name: bench
    flag_prefix: BENCH_
    seed: 1
    stages:
      - ab_test: { percentage: 10, duration: 14d, metrics: [ { name: return_pct, test: mann_whitney } ] }
      - full: {}
";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let admin = std::env::var("ROLLOUT_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let max: u64 = std::env::var("ROLLOUT_BENCH_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL for the benchmark");
    let name = format!("rollout_bench_{}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let store = PgStore::open(&url).unwrap();
    store.migrate().await.unwrap();
    let pool = store.pool().clone();
    let plan = config::parse("bench.yaml", PLAN).unwrap().config;
    let ranked = config::parse("bench.yaml", RANKED).unwrap().config;

    println!(
        "{:>12} {:>22} {:>22}",
        "observations", "analyze (t + z), p50", "rank test, one run"
    );
    let mut have = 0u64;
    for target in [10_000u64, 100_000, 1_000_000, 10_000_000]
        .into_iter()
        .filter(|t| *t <= max)
    {
        let fill = Instant::now();
        sqlx::query(
            "INSERT INTO observations (rollout, variant, unit, metric, value, observed_at, ingested_at) \
             SELECT 'bench', CASE WHEN random() < 0.1 THEN 'treatment' ELSE 'control' END, 'u' || g, \
                    CASE WHEN g % 2 = 0 THEN 'return_pct' ELSE 'win' END, \
                    CASE WHEN g % 2 = 0 THEN random() * 10 - 5 ELSE floor(random() * 2) END, now(), now() \
             FROM generate_series($1::bigint, $2::bigint) g",
        )
        .bind(have as i64 + 1)
        .bind(target as i64)
        .execute(&pool)
        .await
        .unwrap();
        have = target;
        for sql in [
            "DELETE FROM observation_sums WHERE rollout = 'bench'",
            "INSERT INTO observation_sums SELECT rollout, metric, variant, count(*), sum(value), sum(value * value) \
             FROM observations WHERE rollout = 'bench' GROUP BY rollout, metric, variant",
            "DELETE FROM observation_unit_counts WHERE rollout = 'bench'",
            "INSERT INTO observation_unit_counts SELECT rollout, variant, count(*) FROM observations \
             WHERE rollout = 'bench' GROUP BY rollout, variant",
            "ANALYZE observations",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        let filled = fill.elapsed();
        let r = &plan.rollouts[0];
        let mut times = Vec::new();
        for _ in 0..21 {
            let t = Instant::now();
            let a = experiment::analyze(&store, r, None, chrono::Utc::now())
                .await
                .unwrap()
                .unwrap();
            times.push(t.elapsed());
            assert_eq!(
                a.metrics[0].control.n
                    + a.metrics[0].treatment.n
                    + a.metrics[1].control.n
                    + a.metrics[1].treatment.n,
                target
            );
        }
        let rank = if target <= 1_000_000 || std::env::var("ROLLOUT_BENCH_RANK_ALL").is_ok() {
            let t = Instant::now();
            experiment::analyze(&store, &ranked.rollouts[0], None, chrono::Utc::now())
                .await
                .unwrap();
            format!("{:.3} s", t.elapsed().as_secs_f64())
        } else {
            "(not run)".into()
        };
        println!(
            "{:>12} {:>19.2} ms {:>22}    (filled in {:.1} s)",
            target,
            median(times).as_secs_f64() * 1e3,
            rank,
            filled.as_secs_f64()
        );
    }
    pool.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
}
