//! `POST /v1/observations` throughput on PostgreSQL next to a raw `COPY` of the same rows.
//!
//! The API path validates every row, inserts it with its event id (idempotent re-delivery),
//! maintains the per-variant sums and unit counts in the same transaction, and answers only
//! after the commit; `COPY` only appends rows. The ratio is the price of those guarantees.
//!
//!     cargo bench --bench ingest_throughput     (ROLLOUT_BENCH_PG_URL overrides the server)

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use rollout::config;
use rollout::daemon::Role;
use rollout::http;
use rollout::store::{self, Store};
use serde_json::json;
use sqlx::{Connection, PgConnection};

const BATCH: usize = 10_000;
const BATCHES: usize = 20;

const YAML: &str = "
rollouts:
  - name: ingest
    flag_prefix: ING_
    seed: 1
    stages:
      - canary: { percentage: 25, duration: 1d }
      - full: {}
";

fn rows(batch: usize) -> Vec<(String, &'static str, f64, String)> {
    (0..BATCH)
        .map(|i| {
            let n = batch * BATCH + i;
            let variant = if n.is_multiple_of(4) {
                "treatment"
            } else {
                "control"
            };
            (
                format!("u{n}"),
                variant,
                (n % 97) as f64 / 10.0,
                format!("e{n}"),
            )
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let admin = std::env::var("ROLLOUT_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL for the benchmark");
    let name = format!("rollout_bench_ingest_{}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let store: Arc<dyn Store> = Arc::from(store::open(&url).unwrap());
    store.migrate().await.unwrap();
    let cfg = config::parse("bench.yaml", YAML).unwrap().config;
    let running = http::start(
        "127.0.0.1:0".parse().unwrap(),
        http::Options {
            store: store.clone(),
            database_url: url.clone(),
            config: Arc::new(ArcSwap::from_pointee(cfg)),
            role: Arc::new(Role::default()),
            actor: "bench".into(),
            admin_token: None,
            ingest_token: None,
            ingest_slots: 4,
            judgments: None,
            limits: Default::default(),
            read_store: None,
        },
    )
    .await
    .unwrap();
    let endpoint = format!("http://{}/v1/observations", running.address);
    let client = reqwest::Client::new();

    let bodies: Vec<String> = (0..BATCHES)
        .map(|b| {
            let observations: Vec<_> = rows(b)
                .into_iter()
                .map(|(unit, variant, value, event_id)| {
                    json!({"unit": unit, "variant": variant, "metric": "return_pct", "value": value, "event_id": event_id})
                })
                .collect();
            json!({"rollout": "ingest", "observations": observations}).to_string()
        })
        .collect();
    let started = Instant::now();
    for body in bodies {
        let resp = client
            .post(&endpoint)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "{}",
            resp.text().await.unwrap_or_default()
        );
    }
    let api = (BATCH * BATCHES) as f64 / started.elapsed().as_secs_f64();

    // The same rows again, as CSV through COPY, into the same table.
    let mut raw = PgConnection::connect(&url).await.unwrap();
    let csv: Vec<String> = (BATCHES..2 * BATCHES)
        .map(|b| {
            rows(b)
                .into_iter()
                .map(|(unit, variant, value, event_id)| {
                    format!("ingest,{variant},{unit},return_pct,{value},2026-01-01T00:00:00Z,{event_id},2026-01-01T00:00:00Z\n")
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    for chunk in csv {
        let mut copy = raw
            .copy_in_raw(
                "COPY observations (rollout, variant, unit, metric, value, observed_at, event_id, ingested_at) \
                 FROM STDIN (FORMAT csv)",
            )
            .await
            .unwrap();
        copy.send(chunk.as_bytes()).await.unwrap();
        copy.finish().await.unwrap();
    }
    let copy = (BATCH * BATCHES) as f64 / started.elapsed().as_secs_f64();

    println!("{} rows in batches of {BATCH}, PostgreSQL", BATCH * BATCHES);
    println!(
        "{:<44} {:>12.0} rows/s",
        "POST /v1/observations (validated, summed, committed)", api
    );
    println!("{:<44} {:>12.0} rows/s", "raw COPY of the same rows", copy);
    println!("{:<44} {:>12.2}", "ratio (API / COPY)", api / copy);

    running.stop().await;
    drop(raw);
    drop(store);
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
}
