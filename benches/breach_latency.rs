//! Breach → rollback latency under sustained ingest, on the three paths a breaching batch
//! can take, against the store at a database URL:
//!
//! - `http`: `POST /v1/observations` to the leading daemon, which answers and then judges;
//!   from the answer (the commit is just before it) to the rollback visible in `rollout_flags`;
//! - `cli+daemon`: `rollout ingest` while the daemon leads (it leaves the judgment to the
//!   daemon, which notices the rows: `NOTIFY` on PostgreSQL, its 100 ms poll on SQLite);
//!   from the CLI's "ingested" line (printed after the commit) to the rollback visible;
//! - `cli alone`: `rollout ingest` with no daemon (it judges after its commit); from the
//!   CLI's spawn to the rollback visible, so process start-up is included: an upper bound.
//!
//! Meanwhile a background writer ingests 100-row batches into another rollout at a steady
//! rate (over HTTP while the daemon runs, straight into the store without it), so each
//! judgment competes with commits and with the judgments they cause. Each trial breaches a
//! rollout of its own (30 treatment rows at -10 against a mean floor of -2); the daemon ticks
//! hourly, so only the new-data paths can be fast. The flags are polled every millisecond.
//!
//!     cargo bench --bench breach_latency -- [URL] [--trials N] [--rate ROWS_PER_S]
//!     scripts/bench-breach [URL]          (no URL: a fresh SQLite file and PostgreSQL database)
//!
//! With a URL, the rollouts are added to that store (named after this process, so that runs
//! do not meet). Prints one summary line per store.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rollout::assignment::Variant;
use rollout::experiment::Observation;
use rollout::store::{self, Store};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};

const BATCH: usize = 100;

struct Args {
    urls: Vec<String>,
    trials: usize,
    rate: u64,
}

fn args() -> Args {
    let mut a = Args {
        urls: Vec::new(),
        trials: 50,
        rate: 2000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--trials" => a.trials = it.next().and_then(|v| v.parse().ok()).expect("--trials N"),
            "--rate" => a.rate = it.next().and_then(|v| v.parse().ok()).expect("--rate N"),
            "--bench" => {}
            url if url.starts_with("sqlite:") || url.starts_with("postgres") => {
                a.urls.push(url.to_owned())
            }
            other => panic!("unknown argument {other:?}"),
        }
    }
    a
}

/// The rollouts of one run: `tag` keeps runs against the same store apart.
struct Plan {
    tag: String,
    trials: usize,
}

impl Plan {
    fn name(&self, path: usize, i: usize) -> String {
        format!("b{}p{path}t{i}", self.tag)
    }

    fn prefix(&self, path: usize, i: usize) -> String {
        format!("B{}P{path}T{i}_", self.tag)
    }

    fn background(&self) -> String {
        format!("b{}bg", self.tag)
    }

    fn yaml(&self, url: &str) -> String {
        let mut y = format!("database: {url}\ntick: '0 0 * * * *'\nrollouts:\n");
        let mut add = |name: String, prefix: String| {
            y.push_str(&format!(
                "  - name: {name}
    flag_prefix: {prefix}
    seed: 3
    stages:
      - canary: {{ percentage: 5, duration: 1d }}
      - full: {{}}
    guardrails:
      - {{ name: drawdown, metric: return_pct, aggregate: mean, min: -2.0, window: 1h, min_samples: 20 }}
"
            ));
        };
        add(self.background(), format!("B{}BG_", self.tag));
        for path in 0..3 {
            for i in 0..self.trials {
                add(self.name(path, i), self.prefix(path, i));
            }
        }
        y
    }
}

/// 30 treatment units of the 5 % canary under seed 3.
fn breaching_units() -> Vec<String> {
    (0..)
        .map(|i| format!("u{i}"))
        .filter(|u| rollout::assignment::in_rollout(3, u, 5.0))
        .take(30)
        .collect()
}

fn breach_csv() -> String {
    let mut csv = String::from("unit,variant,metric,value\n");
    for u in breaching_units() {
        csv.push_str(&format!("{u},treatment,return_pct,-10.0\n"));
    }
    csv
}

fn percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    (at(0.5), at(0.99))
}

/// Polls the rollout's `MODE` flag every millisecond until it reads `rolled_back`.
async fn wait_rolled_back(store: &dyn Store, name: &str, prefix: &str) {
    let key = format!("{prefix}MODE");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(flags) = store.rollout_flags(name).await {
            if flags.get(&key).map(String::as_str) == Some("rolled_back") {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{name}: no rollback within 60 s");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Ingests `BATCH`-row batches of harmless values into the background rollout at `rate`
/// rows per second until `stop`, over HTTP at `base` or straight into `store`.
fn background(
    store: Arc<dyn Store>,
    base: Option<String>,
    rollout: String,
    rate: u64,
    stop: Arc<AtomicBool>,
    rows: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        let every = Duration::from_secs_f64(BATCH as f64 / rate.max(1) as f64);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            let units: Vec<String> = (0..BATCH).map(|i| format!("bg{}", n + i as u64)).collect();
            n += BATCH as u64;
            let ok = match &base {
                Some(base) => {
                    let obs: Vec<Value> = units
                        .iter()
                        .map(|u| json!({"unit": u, "metric": "return_pct", "value": 0.0}))
                        .collect();
                    http.post(format!("{base}/v1/observations"))
                        .json(&json!({"rollout": rollout, "observations": obs}))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                }
                None => {
                    let now = Utc::now();
                    let obs: Vec<Observation> = units
                        .into_iter()
                        .map(|unit| Observation {
                            variant: if rollout::assignment::in_rollout(3, &unit, 5.0) {
                                Variant::Treatment
                            } else {
                                Variant::Control
                            },
                            unit,
                            metric: "return_pct".into(),
                            value: 0.0,
                            observed_at: now,
                            event_id: None,
                            entry: None,
                        })
                        .collect();
                    store.ingest(&rollout, &obs, now).await.is_ok()
                }
            };
            if ok {
                rows.fetch_add(BATCH as u64, Ordering::Relaxed);
            }
        }
    })
}

struct Daemon {
    child: Child,
    base: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SIGTERM: the daemon gives its lease back, so that the CLI judges at once after.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

async fn start_daemon(cfg: &std::path::Path, log: &std::path::Path) -> Daemon {
    let file = std::fs::File::create(log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_rollout"))
        .arg("--config")
        .arg(cfg)
        .args(["daemon", "--listen", "127.0.0.1:0"])
        .env(
            "ROLLOUT_LOG",
            std::env::var("ROLLOUT_BENCH_LOG")
                .unwrap_or_else(|_| "info,tokio_cron_scheduler=warn,sqlx=warn".into()),
        )
        .env_remove("ROLLOUT_INGEST_TOKEN")
        .env_remove("ROLLOUT_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("start the daemon");
    let deadline = Instant::now() + Duration::from_secs(60);
    let base = loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(at) = text.find("HTTP API listening on ") {
            let rest = &text[at + "HTTP API listening on ".len()..];
            break rest.split_whitespace().next().unwrap().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not start:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    Daemon { child, base }
}

/// Runs `rollout ingest NAME FILE`; returns when it printed its "ingested" line (after the
/// commit), and the child to reap.
fn cli_ingest(cfg: &std::path::Path, name: &str, csv: &std::path::Path) -> (Instant, Child) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollout"))
        .arg("--config")
        .arg(cfg)
        .args(["ingest", name])
        .arg(csv)
        .env("ROLLOUT_ACTOR", "bench")
        .env_remove("ROLLOUT_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("rollout ingest");
    let out = child.stdout.take().unwrap();
    for line in BufReader::new(out).lines().map_while(Result::ok) {
        if line.contains(": ingested ") {
            return (Instant::now(), child);
        }
    }
    let status = child.wait();
    panic!("rollout ingest {name} printed no ingested line ({status:?})");
}

async fn run(url: &str, a: &Args, dir: &std::path::Path) -> String {
    let plan = Plan {
        tag: std::process::id().to_string(),
        trials: a.trials,
    };
    let store: Arc<dyn Store> = Arc::from(store::open(url).expect("open the store"));
    store.migrate().await.expect("migrate");
    let cfg = dir.join("breach.yaml");
    std::fs::write(&cfg, plan.yaml(url)).unwrap();
    let csv = dir.join("breach.csv");
    std::fs::write(&csv, breach_csv()).unwrap();
    let units = breaching_units();
    let rows = Arc::new(AtomicU64::new(0));
    let mut ms: [Vec<f64>; 3] = Default::default();

    let daemon = start_daemon(&cfg, &dir.join("daemon.log")).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let ours = format!("b{}", plan.tag);
    let started_all = || async {
        let states = store.states().await.unwrap_or_default();
        states
            .iter()
            .filter(|s| s.rollout.starts_with(&ours))
            .count()
    };
    while started_all().await < 1 + 3 * a.trials {
        assert!(
            Instant::now() < deadline,
            "the daemon did not start the rollouts"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let bg = background(
        store.clone(),
        Some(daemon.base.clone()),
        plan.background(),
        a.rate,
        stop.clone(),
        rows.clone(),
    );
    let http = reqwest::Client::new();
    for i in 0..a.trials {
        let obs: Vec<Value> = units
            .iter()
            .map(|u| json!({"unit": u, "variant": "treatment", "metric": "return_pct", "value": -10.0}))
            .collect();
        let resp = http
            .post(format!("{}/v1/observations", daemon.base))
            .json(&json!({"rollout": plan.name(0, i), "observations": obs}))
            .send()
            .await
            .unwrap();
        let committed = Instant::now();
        assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
        wait_rolled_back(&*store, &plan.name(0, i), &plan.prefix(0, i)).await;
        ms[0].push(committed.elapsed().as_secs_f64() * 1e3);
    }
    for i in 0..a.trials {
        let (name, prefix) = (plan.name(1, i), plan.prefix(1, i));
        let (cfg, csv) = (cfg.clone(), csv.clone());
        let (committed, mut child) =
            tokio::task::spawn_blocking(move || cli_ingest(&cfg, &name, &csv))
                .await
                .unwrap();
        wait_rolled_back(&*store, &plan.name(1, i), &prefix).await;
        ms[1].push(committed.elapsed().as_secs_f64() * 1e3);
        let _ = child.wait();
    }
    stop.store(true, Ordering::Relaxed);
    let _ = bg.await;
    drop(daemon);

    stop.store(false, Ordering::Relaxed);
    let bg = background(
        store.clone(),
        None,
        plan.background(),
        a.rate,
        stop.clone(),
        rows.clone(),
    );
    for i in 0..a.trials {
        let spawned = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_rollout"))
            .arg("--config")
            .arg(&cfg)
            .args(["ingest", &plan.name(2, i)])
            .arg(&csv)
            .env("ROLLOUT_ACTOR", "bench")
            .env_remove("ROLLOUT_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_rolled_back(&*store, &plan.name(2, i), &plan.prefix(2, i)).await;
        ms[2].push(spawned.elapsed().as_secs_f64() * 1e3);
        let _ = child.wait();
    }
    stop.store(true, Ordering::Relaxed);
    let _ = bg.await;
    let rate = rows.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    let backend = if url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    let [h, d, c] = ms.map(percentiles);
    format!(
        "breach->rollback {backend} trials={} background={rate:.0} rows/s ms p50/p99: \
         http {:.1}/{:.1} | cli+daemon {:.1}/{:.1} | cli alone (from spawn) {:.1}/{:.1}",
        a.trials, h.0, h.1, d.0, d.1, c.0, c.1
    )
}

#[tokio::main]
async fn main() {
    let a = args();
    // ROLLOUT_BENCH_DIR keeps the config, the CSV and the daemon's log (`daemon.log`).
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("ROLLOUT_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir).unwrap();
    if !a.urls.is_empty() {
        for url in &a.urls {
            println!("{}", run(url, &a, &dir).await);
        }
        return;
    }
    let sqlite = format!("sqlite://{}", tmp.path().join("bench.db").display());
    println!("{}", run(&sqlite, &a, &dir).await);
    let admin = std::env::var("ROLLOUT_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL for the benchmark");
    let name = format!("rollout_bench_breach_{}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').unwrap().0.to_owned();
    println!("{}", run(&format!("{base}/{name}"), &a, &dir).await);
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
}
