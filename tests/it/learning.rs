//! The learning module against real stores: pairing and correlations against SciPy, the
//! insufficient-data fallback, adaptive weights on synthetic data with a known answer, and
//! the WEIGHTS flag through shadow, canary and rollback.
//!
//! Reference data: `pip install numpy scipy && python3 scripts/reference_learning.py`
//! writes `tests/data/learning/` (SciPy's `pearsonr` and `spearmanr`); these tests do not
//! need SciPy.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, StudentT};
use rollout::config::{Config, Rollout};
use rollout::controller::{ManualAction, Status};
use rollout::engine::{self, Outcome as TickOutcome};
use rollout::learning::{self, Discovery, FeatureStatus, Kind, Outcome, Rows, Weights};
use rollout::store::{Store, Writer};

use crate::on_both_stores;
use crate::support::{run, stderr, stdout, TestDb};
use crate::walk::{plan, t0};

const TOL: f64 = 1e-9;

const PLAN: &str = "
rollouts:
  - name: learning-intelligence
    flag_prefix: LEARNING_
    seed: 42
    stages:
      - shadow: { duration: 7d }
      - canary: { percentage: 5, duration: 24h }
      - full: {}
    analysis:
      regimes:
        high_volatility: { squeeze: 0.8, technical: 0.8, volume_momentum: 1.2 }
";

const FEATURES: [&str; 6] = [
    "volume_momentum",
    "squeeze",
    "catalyst",
    "sentiment",
    "options",
    "technical",
];

fn close(what: &str, got: f64, want: f64) {
    let scale = want.abs().max(1e-300);
    assert!(
        (got - want).abs() / scale <= TOL || (got - want).abs() <= 1e-15,
        "{what}: got {got:e}, SciPy says {want:e}"
    );
}

fn data(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/learning")
        .join(name)
}

fn json(name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(data(name)).unwrap()).unwrap()
}

fn rollout_of(c: &Config) -> &Rollout {
    &c.rollouts[0]
}

/// Correlations and p-values against `scipy.stats.pearsonr` / `spearmanr` (ties included).
#[test]
fn correlations_match_scipy() {
    let reference = json("correlations.json");
    let datasets = reference["datasets"].as_object().unwrap();
    assert!(datasets.len() >= 5);
    for (name, d) in datasets {
        let v = |k: &str| -> Vec<f64> {
            d[k].as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        };
        let (x, y) = (v("x"), v("y"));
        let p = rollout::stats::pearson(&x, &y).unwrap();
        let s = rollout::stats::spearman(&x, &y).unwrap();
        let f = |k: &str| d[k].as_f64().unwrap();
        close(&format!("{name} pearson"), p.r, f("pearson"));
        close(&format!("{name} pearson p"), p.p_value, f("pearson_p"));
        close(&format!("{name} spearman"), s.r, f("spearman"));
        close(&format!("{name} spearman p"), s.p_value, f("spearman_p"));
    }
}

async fn ingest_file(store: &dyn Store, kind: Kind, file: &str) -> u64 {
    let path = data(file);
    let rows = learning::parse_jsonl(kind, file, &std::fs::read(&path).unwrap()).unwrap();
    store.ingest_learning(&rows).await.unwrap().inserted
}

/// The SQL pairing counts each closed trade once, with the latest discovery of its symbol at
/// or before its entry within the match window; re-reported symbols and decoys with extreme
/// returns or features must not pair (scripts/reference_learning.py describes the data).
async fn pairing_and_correlations_match_scipy(db: TestDb) {
    let store = db.store().await;
    let reference = json("pipeline.json");
    let rows = |k: &str| reference[k].as_u64().unwrap();
    assert_eq!(
        ingest_file(&*store, Kind::Discovery, "discoveries.jsonl").await,
        rows("discoveries")
    );
    assert_eq!(
        ingest_file(&*store, Kind::Outcome, "outcomes.jsonl").await,
        rows("outcomes")
    );
    // Re-delivery is skipped, not counted twice.
    let again = learning::parse_jsonl(
        Kind::Outcome,
        "o",
        &std::fs::read(data("outcomes.jsonl")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        store.ingest_learning(&again).await.unwrap().duplicates,
        rows("outcomes")
    );

    let now: DateTime<Utc> = reference["now"].as_str().unwrap().parse().unwrap();
    let c = plan(PLAN);
    let r = rollout_of(&c);
    let report = learning::analyze(&*store, r, r.analysis.as_ref().unwrap(), now)
        .await
        .unwrap();
    assert_eq!(report.pairs as u64, reference["pairs"].as_u64().unwrap());
    assert_eq!(report.window_days, 90.0);
    for f in FEATURES {
        let a = &report.features[f];
        let want = &reference["features"][f];
        let w = |k: &str| want[k].as_f64().unwrap();
        assert_eq!(a.status, FeatureStatus::Ok, "{f}");
        close(&format!("{f} pearson"), a.pearson.unwrap(), w("pearson"));
        close(
            &format!("{f} pearson p"),
            a.pearson_p.unwrap(),
            w("pearson_p"),
        );
        close(&format!("{f} spearman"), a.spearman.unwrap(), w("spearman"));
        close(
            &format!("{f} spearman p"),
            a.spearman_p.unwrap(),
            w("spearman_p"),
        );
    }
    assert_eq!(
        report.success.n,
        reference["success_n"].as_u64().unwrap(),
        "closed outcomes in the window"
    );
    assert_eq!(
        report.success.successes,
        reference["success_positive"].as_u64().unwrap()
    );
    // A match window shorter than every trade's delay after its discovery pairs nothing.
    let none = store
        .learning_pairs(
            now - Duration::days(90),
            now,
            std::time::Duration::from_secs(3600),
        )
        .await
        .unwrap();
    assert!(none.is_empty(), "{} pairs", none.len());
}

/// `n` discoveries per day over `days` from `start`, each followed by a trade of its symbol a
/// few hours later, closed two days after entry. The return depends on `volume_momentum` and
/// `squeeze` only, plus heavy-tailed t(3) noise; from day `regime_from`, the market
/// conditions say `high_volatility`.
pub fn synthetic(
    seed: u64,
    start: DateTime<Utc>,
    days: i64,
    n: usize,
    regime_from: i64,
) -> (Vec<Discovery>, Vec<Outcome>) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let noise = StudentT::new(3.0).unwrap();
    let (mut ds, mut os) = (Vec::new(), Vec::new());
    for day in 0..days {
        for i in 0..n {
            let symbol = format!("D{day}N{i}");
            let at = start + Duration::days(day) + Duration::minutes(i as i64);
            let features: BTreeMap<String, f64> = FEATURES
                .iter()
                .map(|f| ((*f).to_owned(), rng.random::<f64>()))
                .collect();
            let ret = 4.0 * features["volume_momentum"]
                + 4.0 * features["squeeze"]
                + 1.5 * noise.sample(&mut rng)
                - 4.0;
            let regime = if day >= regime_from {
                "high_volatility"
            } else {
                "normal"
            };
            ds.push(Discovery {
                symbol: symbol.clone(),
                discovery_timestamp: at,
                discovery_features: features,
                discovery_score: 0.5,
                action_tag: "trade_ready".into(),
                market_conditions: Some(serde_json::json!({ "regime": regime })),
                universe_size: Some(5000),
            });
            let entry = at + Duration::hours(3);
            os.push(Outcome {
                symbol,
                entry_timestamp: entry,
                exit_timestamp: Some(entry + Duration::days(2)),
                entry_price: 10.0,
                exit_price: Some(10.0 * (1.0 + ret / 100.0)),
                position_size_pct: Some(1.0),
                return_pct: Some(ret),
                holding_period_days: Some(2),
                max_favorable_excursion: None,
                max_adverse_excursion: None,
                exit_reason: Some("target".into()),
            });
        }
    }
    (ds, os)
}

async fn load_synthetic(store: &dyn Store, days: i64, n: usize, regime_from: i64) {
    let (ds, os) = synthetic(7, t0(), days, n, regime_from);
    store.ingest_learning(&Rows::Discovery(ds)).await.unwrap();
    store.ingest_learning(&Rows::Outcome(os)).await.unwrap();
}

fn ratio(w: &Weights, a: &str, b: &str) -> f64 {
    w.get(a).unwrap() / w.get(b).unwrap()
}

/// After N simulated days the two features that drive returns gain weight, the others keep
/// their conservative proportions (they only shrink by normalisation), no day moves a weight
/// by more than 0.05, the weights always sum to exactly 1, and the regime multipliers apply.
async fn weights_learn_the_two_real_features(db: TestDb) {
    let store = db.store().await;
    let (days, regime_from) = (60, 45);
    load_synthetic(&*store, days, 30, regime_from).await;
    let c = plan(PLAN);
    let r = rollout_of(&c);
    let cfg = r.analysis.as_ref().unwrap();
    let writer = Writer::person("tester@it");
    let mut previous = cfg.conservative_weights.clone();
    let mut before_regime = None;
    let mut fallbacks = 0;
    for day in 1..=days {
        let now = t0() + Duration::days(day) + Duration::hours(6);
        let out = learning::run(&*store, r, &writer, now).await.unwrap();
        let w = &out.report.weights;
        let total: i64 = w.next.micros().values().sum();
        assert_eq!(total, 1_000_000, "day {day}: weights sum to 1");
        if w.fallback {
            fallbacks += 1;
            assert!(out.report.pairs < cfg.min_pairs, "day {day}: {}", w.reason);
        } else {
            for f in FEATURES {
                let moved = (w.next.get(f).unwrap() - previous.get(f).unwrap()).abs();
                assert!(moved <= 0.05 + 1e-12, "day {day}: {f} moved {moved}");
            }
        }
        let stored = store
            .latest_weights(r.name.as_str())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.final_weights, w.next);
        assert_eq!(stored.computed_at, now);
        previous = w.next.clone();
        if day == regime_from - 1 {
            // The regime's first discoveries come on day `regime_from`.
            assert_eq!(w.regime.as_deref(), Some("normal"));
            before_regime = Some(w.next.clone());
        }
    }
    assert!(fallbacks <= 3, "{fallbacks} fallback days");
    let before = before_regime.unwrap();
    let conservative = &cfg.conservative_weights;
    // The real features rose; the noise features did not move against each other.
    assert!(before.get("volume_momentum").unwrap() > 0.26, "{before:?}");
    assert!(before.get("squeeze").unwrap() > 0.21, "{before:?}");
    for (a, b) in [
        ("catalyst", "sentiment"),
        ("options", "technical"),
        ("catalyst", "options"),
    ] {
        let (got, want) = (ratio(&before, a, b), ratio(conservative, a, b));
        assert!((got - want).abs() < 1e-4, "{a}/{b}: {got} vs {want}");
        assert!(before.get(a).unwrap() <= conservative.get(a).unwrap());
    }
    // In high volatility, technical (x0.8) loses share against catalyst (x1).
    let last = store
        .latest_weights(r.name.as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.regime.as_deref(), Some("high_volatility"));
    let want = ratio(conservative, "technical", "catalyst") * 0.8;
    let got = ratio(&last.final_weights, "technical", "catalyst");
    assert!(
        (got - want).abs() < 1e-3,
        "technical/catalyst {got}, want {want}"
    );
}

/// Nine pairs: `insufficient_data` for every feature, no correlation, and the conservative
/// weights marked as a fallback.
async fn nine_pairs_fall_back(db: TestDb) {
    let store = db.store().await;
    let (ds, os) = synthetic(3, t0(), 1, 9, 99);
    store.ingest_learning(&Rows::Discovery(ds)).await.unwrap();
    store.ingest_learning(&Rows::Outcome(os)).await.unwrap();
    let c = plan(PLAN);
    let r = rollout_of(&c);
    let cfg = r.analysis.as_ref().unwrap();
    let report = learning::analyze(&*store, r, cfg, t0() + Duration::days(5))
        .await
        .unwrap();
    assert_eq!(report.pairs, 9);
    for f in FEATURES {
        let a = &report.features[f];
        assert_eq!(a.status, FeatureStatus::InsufficientData, "{f}");
        assert_eq!((a.n, a.pearson, a.spearman_p), (9, None, None));
    }
    assert!(report.patterns.is_none());
    assert!(report.weights.fallback);
    assert!(
        report.weights.reason.contains("9 pairs"),
        "{}",
        report.weights.reason
    );
    assert_eq!(report.weights.next, cfg.conservative_weights);
    assert_eq!(report.weights.suggested, cfg.conservative_weights);
}

async fn weights_flag(store: &dyn Store) -> String {
    store.rollout_flags("learning-intelligence").await.unwrap()["LEARNING_WEIGHTS"].clone()
}

/// Shadow computes and stores weights but publishes the conservative ones; a canary stage
/// publishes the learned weights (a `publish` transition with its history row); a rollback
/// puts the conservative weights back, and a restart forgets the learned ones.
async fn weights_flag_follows_the_stage(db: TestDb) {
    let store = db.store().await;
    load_synthetic(&*store, 30, 30, 99).await;
    let c = plan(PLAN);
    let r = rollout_of(&c);
    let conservative = r.analysis.as_ref().unwrap().conservative_weights.to_json();
    let epoch = store.new_epoch("daemon@test", t0()).await.unwrap();
    let daemon = Writer {
        actor: "daemon@test".into(),
        epoch: Some(epoch),
    };
    let now = t0() + Duration::days(30);
    engine::tick_all(&*store, &c, &daemon, now).await.unwrap();
    assert_eq!(weights_flag(&*store).await, conservative);

    // Three daily runs in shadow: the learned (unpublished) weights move.
    for day in 0..2 {
        learning::run(&*store, r, &daemon, now + Duration::days(day))
            .await
            .unwrap();
    }
    let now = now + Duration::days(2);
    let shadow = learning::run(&*store, r, &daemon, now).await.unwrap();
    assert_eq!(shadow.publication, "withheld", "{}", shadow.detail);
    let live = &r.analysis.as_ref().unwrap().conservative_weights;
    let drift = |w: &Weights| {
        w.map()
            .iter()
            .map(|(f, v)| (v - live.get(f).unwrap()).abs())
            .fold(0.0, f64::max)
    };
    assert!(
        drift(&shadow.report.weights.next) > 0.01,
        "{:?}",
        shadow.report.weights.next
    );
    assert!(!shadow.report.weights.fallback);
    assert_ne!(shadow.report.weights.next.to_json(), conservative);
    assert!(store
        .latest_weights(r.name.as_str())
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        weights_flag(&*store).await,
        conservative,
        "shadow publishes nothing"
    );

    let person = Writer::person("tester@it");
    let at = now + Duration::hours(1);
    engine::act(&*store, r, ManualAction::Promote, "", &person, || at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        weights_flag(&*store).await,
        conservative,
        "nothing published yet"
    );
    let canary = learning::run(&*store, r, &daemon, at).await.unwrap();
    assert_eq!(canary.publication, "published", "{}", canary.detail);
    let learned = canary.report.weights.next.to_json();
    assert_ne!(learned, conservative);
    // Learning went on in shadow, but the flag moves from what was live (the conservative
    // weights), by at most max_daily_change within 24 h (a rolling window).
    assert!(
        drift(&canary.report.weights.next) <= 0.05 + 1e-12,
        "{:?}",
        canary.report.weights.next
    );
    assert_eq!(weights_flag(&*store).await, learned);
    let state = store.state(r.name.as_str()).await.unwrap().unwrap();
    assert_eq!(state.weights_json().as_deref(), Some(learned.as_str()));
    let last = store.history(r.name.as_str()).await.unwrap().pop().unwrap();
    assert_eq!(last.action, "publish");
    assert_eq!(
        last.flags.get("LEARNING_WEIGHTS"),
        Some(&Some(learned.clone()))
    );
    // The flags equal what the state requires: the next tick has nothing to repair, and
    // a second run at the same moment changes nothing.
    let ticked = engine::tick_all(&*store, &c, &daemon, at).await.unwrap();
    assert!(
        matches!(ticked[0].1, TickOutcome::Unchanged { .. }),
        "{ticked:?}"
    );
    let again = learning::run(&*store, r, &daemon, at).await.unwrap();
    assert_eq!(again.publication, "unchanged");
    // A manual run half an hour later cannot add a second cap within the same 24 h.
    let manual = learning::run(&*store, r, &person, at + Duration::minutes(30))
        .await
        .unwrap();
    assert!(
        drift(&manual.report.weights.next) <= 0.05 + 1e-12,
        "{:?}",
        manual.report.weights.next
    );

    engine::act(
        &*store,
        r,
        ManualAction::Rollback,
        "drawdown",
        &person,
        || at,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(weights_flag(&*store).await, conservative, "rollback");
    let rolled = learning::run(&*store, r, &daemon, at + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(rolled.publication, "withheld");
    assert_eq!(weights_flag(&*store).await, conservative);

    engine::act(&*store, r, ManualAction::Restart, "", &person, || at)
        .await
        .unwrap()
        .unwrap();
    let state = store.state(r.name.as_str()).await.unwrap().unwrap();
    assert_eq!((state.status(), state.weights), (Status::Running, None));
    assert_eq!(weights_flag(&*store).await, conservative);
}

/// A deposed leader's publication is fenced: nothing is written.
async fn publication_is_fenced(db: TestDb) {
    let store = db.store().await;
    load_synthetic(&*store, 20, 30, 99).await;
    let c = plan(PLAN);
    let r = rollout_of(&c);
    let now = t0() + Duration::days(20);
    let person = Writer::person("tester@it");
    engine::act(&*store, r, ManualAction::Promote, "", &person, || now)
        .await
        .unwrap();
    engine::act(&*store, r, ManualAction::Promote, "", &person, || now)
        .await
        .unwrap();
    let old = store.new_epoch("daemon@a", now).await.unwrap();
    store.new_epoch("daemon@b", now).await.unwrap();
    let stale = Writer {
        actor: "daemon@a".into(),
        epoch: Some(old),
    };
    let err = learning::run(&*store, r, &stale, now).await.unwrap_err();
    assert!(err.to_string().contains("no longer the leader"), "{err}");
    let state = store.state(r.name.as_str()).await.unwrap().unwrap();
    assert_eq!(state.weights, None);
    assert!(
        store
            .latest_weights(r.name.as_str())
            .await
            .unwrap()
            .is_none(),
        "a deposed leader's computation is not stored either"
    );
}

on_both_stores!(
    pairing_and_correlations_match_scipy,
    weights_learn_the_two_real_features,
    nine_pairs_fall_back,
    weights_flag_follows_the_stage,
    publication_is_fenced,
);

/// The CLI: all-or-nothing ingest with line numbers, `analyze --json`'s contract, `run` and
/// `weights`.
async fn cli_ingest_analyze_run_weights(db: TestDb) {
    let cfg = db.config(PLAN);
    let bad = db.dir.path().join("bad.jsonl");
    let good_line = r#"{"symbol":"AMC","discovery_timestamp":"2026-01-05T09:00:00Z","discovery_features":{"squeeze":0.5},"discovery_score":0.5,"action_tag":"trade_ready"}"#;
    std::fs::write(
        &bad,
        format!("{good_line}\n{{\"symbol\":\"AMC\"}}\n{good_line}\n{{\"symbol\":\"TOOLONGSYMBOL\",\"discovery_timestamp\":\"2026-01-05T09:00:00Z\",\"discovery_features\":{{}},\"discovery_score\":0.5,\"action_tag\":\"x\"}}\n"),
    )
    .unwrap();
    let out = run(
        &cfg,
        &["learning", "ingest", "discovery", bad.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("bad.jsonl:2: missing field"), "{err}");
    assert!(err.contains("bad.jsonl:4: symbol"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");

    let d = data("discoveries.jsonl");
    let o = data("outcomes.jsonl");
    let out = run(
        &cfg,
        &["learning", "ingest", "discovery", d.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let reference = json("pipeline.json");
    let rows = |k: &str| reference[k].as_u64().unwrap();
    assert!(
        stdout(&out).contains(&format!(
            "ingested {} discovery row(s)",
            rows("discoveries")
        )),
        "{}",
        stdout(&out)
    );
    let out = run(
        &cfg,
        &[
            "learning",
            "ingest",
            "outcome",
            o.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["inserted"], rows("outcomes"));

    // The wall clock is far past the reference data: the contract holds with no pairs too.
    let out = run(&cfg, &["learning", "analyze", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    for key in [
        "window_days",
        "pairs",
        "success_rate",
        "features",
        "weights",
    ] {
        assert!(v.get(key).is_some(), "{key} missing: {v}");
    }
    for key in [
        "status",
        "n",
        "pearson",
        "pearson_p",
        "spearman",
        "spearman_p",
        "optimal_threshold",
    ] {
        assert!(v["features"]["squeeze"].get(key).is_some(), "{key}: {v}");
    }
    for key in ["current", "suggested", "fallback", "reason"] {
        assert!(v["weights"].get(key).is_some(), "weights.{key}: {v}");
    }

    let out = run(&cfg, &["tick"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&cfg, &["learning", "run", "learning-intelligence"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("withheld"), "{}", stdout(&out));
    let out = run(&cfg, &["learning", "weights", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["published"], v["conservative"], "{v}");
    assert!(v["current"].is_object(), "{v}");

    let out = run(&cfg, &["learning", "analyze", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

on_both_stores!(cli_ingest_analyze_run_weights);

/// The daemon runs the analysis on its own schedule, as the leader, and publishes in a stage
/// that applies parameters.
async fn daemon_runs_the_analysis_on_its_schedule(db: TestDb) {
    let store = db.store().await;
    let (ds, os) = synthetic(11, Utc::now() - Duration::days(31), 30, 30, 99);
    store.ingest_learning(&Rows::Discovery(ds)).await.unwrap();
    store.ingest_learning(&Rows::Outcome(os)).await.unwrap();
    let cfg = db.config(
        "
tick: '* * * * * *'
rollouts:
  - name: learning-intelligence
    flag_prefix: LEARNING_
    seed: 42
    stages:
      - canary: { percentage: 5, duration: 7d }
      - full: {}
    analysis: { schedule: '* * * * * *' }
",
    );
    let daemon = crate::support::Daemon::start(&cfg, db.dir.path().join("daemon.log"));
    let published = crate::support::eventually(
        std::time::Duration::from_secs(60),
        "published weights",
        || async {
            let s = store.state("learning-intelligence").await.ok()??;
            s.weights_json()
        },
    )
    .await;
    assert_eq!(weights_flag(&*store).await, published);
    let record = store
        .latest_weights("learning-intelligence")
        .await
        .unwrap()
        .unwrap();
    assert!(!record.fallback, "{}", record.reason);
    let last = store.history("learning-intelligence").await.unwrap();
    let publish = last.iter().find(|e| e.action == "publish").unwrap();
    assert!(publish.actor.starts_with("daemon@"), "{}", publish.actor);
    drop(daemon);
}

on_both_stores!(daemon_runs_the_analysis_on_its_schedule);

/// `analysis:` errors point into the file, like every other config error.
#[test]
fn analysis_config_errors_point_at_the_field() {
    let src = "rollouts:
  - name: learning-intelligence
    flag_prefix: LEARNING_
    seed: 42
    stages:
      - canary: { percentage: 5, duration: 1d, flags: { LEARNING_WEIGHTS: '{}' } }
      - full: {}
    analysis:
      max_daily_change: 0
      features: [squeeze, squeeze]
      conservative_weights: { squeeze: 1 }
      regimes: { calm: { catalyst: 2 } }
";
    let errors = rollout::config::parse("rollout.yaml", src)
        .unwrap_err()
        .to_string();
    for want in [
        "rollout.yaml:6:57: LEARNING_WEIGHTS is written by the stage itself and cannot be set in `flags` (rollouts[0].stages[0].canary.flags.LEARNING_WEIGHTS)",
        "rollout.yaml:9:7: max_daily_change must be in (0, 1], got 0 (rollouts[0].analysis.max_daily_change)",
        "rollout.yaml:10:27: feature squeeze is listed twice (rollouts[0].analysis.features[1])",
        "rollout.yaml:12:26: catalyst is not one of the features (rollouts[0].analysis.regimes.calm.catalyst)",
    ] {
        assert!(errors.contains(want), "{want}\nnot in:\n{errors}");
    }
    let unknown = rollout::config::parse(
        "rollout.yaml",
        &src.replace("max_daily_change: 0", "max_daily_chnage: 0"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        unknown.contains("unknown field `max_daily_chnage`")
            && unknown.contains("(rollouts[0].analysis"),
        "{unknown}"
    );
    // WEIGHTS is the stage's own flag: a stage may not set it.
    let stage_flag = rollout::config::parse(
        "rollout.yaml",
        "rollouts:
  - name: r
    flag_prefix: R_
    seed: 1
    stages:
      - canary: { percentage: 5, duration: 1d, flags: { R_WEIGHTS: '{}' } }
      - full: {}
",
    )
    .unwrap_err()
    .to_string();
    assert!(
        stage_flag.contains("R_WEIGHTS is written by the stage itself"),
        "{stage_flag}"
    );
}

/// The README's JSONL examples load: one line per kind, in the order discovery, thesis, outcome.
#[test]
fn readme_jsonl_examples_parse() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme
        .split("```jsonl\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a jsonl block in the README");
    let lines: Vec<&str> = block.lines().collect();
    assert_eq!(lines.len(), 3, "{block}");
    for (line, kind) in lines
        .iter()
        .zip([Kind::Discovery, Kind::Thesis, Kind::Outcome])
    {
        learning::parse_object(kind, line.as_bytes()).unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
}
