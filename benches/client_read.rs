//! The cost of a cached read of the Rust client: `flag()`, `with_flag()` and
//! `enabled_for()` (which hashes and draws per call), in ns per call. No I/O is measured:
//! the client is loaded once from a SQLite file, with background refresh off.
//!
//!     cargo bench --bench client_read

use std::hint::black_box;
use std::time::Instant;

use chrono::Utc;
use rollout::client::{Client, Mode, Options};
use rollout::config;
use rollout::engine;
use rollout::store::{self, Writer};

const YAML: &str = "
rollouts:
  - name: li
    flag_prefix: LEARNING_
    seed: 42
    stages:
      - canary: { percentage: 25, duration: 1d }
      - full: {}
";

fn per_call(n: u64, mut f: impl FnMut(u64)) -> f64 {
    let start = Instant::now();
    for i in 0..n {
        f(i);
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    rt.block_on(async {
        let store = store::open(&url).expect("store");
        store.migrate().await.expect("migrate");
        let config = config::parse("bench.yaml", YAML).expect("config").config;
        engine::tick_all(&*store, &config, &Writer::person("bench"), Utc::now())
            .await
            .expect("tick");
        let client = Client::connect(&url, Options::default().mode(Mode::Off))
            .await
            .expect("client");
        assert!(client.version().is_some(), "loaded");
        let units: Vec<String> = (0..1024).map(|i| format!("unit-{i}")).collect();
        for round in 0..3 {
            let flag = per_call(5_000_000, |_| {
                black_box(client.flag(black_box("LEARNING_MODE")));
            });
            let with = per_call(5_000_000, |_| {
                black_box(client.with_flag(black_box("LEARNING_MODE"), |v| v == Some("rollout")));
            });
            let enabled = per_call(200_000, |i| {
                black_box(client.enabled_for("li", &units[(i % 1024) as usize]));
            });
            println!(
                "round {round}: flag() {flag:.1} ns, with_flag() {with:.1} ns, enabled_for() {enabled:.0} ns"
            );
        }
    });
}
