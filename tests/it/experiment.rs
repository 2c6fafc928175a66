//! The controller acts on the A/B verdict: a clear win is promoted early, a clear loss is
//! rolled back, an A/A test holds at the end of its duration, and a sample-ratio mismatch is
//! a critical issue.

use chrono::{Duration, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, Normal};
use rollout::assignment::{self, Variant};
use rollout::controller::Status;
use rollout::engine::{self, Outcome};
use rollout::experiment::Observation;
use rollout::store::{Store, Writer};

use crate::on_both_stores;
use crate::support::{eventually, run, stderr, Daemon, TestDb};
use crate::walk::{plan, t0};

const EXP: &str = "
rollouts:
  - name: exp
    flag_prefix: EXP_
    seed: 3
    stages:
      - ab_test:
          percentage: 50
          duration: 14d
          min_samples: 100
          metrics: [ { name: return_pct, test: welch_t }, { name: return_pct, test: mann_whitney } ]
      - canary: { percentage: 5, duration: 1d }
      - full: {}
";

/// `n` units assigned by the rollout's own rule, with normal outcomes whose treatment mean
/// is shifted by `effect` standard deviations.
fn observations(n: usize, effect: f64, seed: u64) -> Vec<Observation> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let noise = Normal::new(0.0, 1.0).unwrap();
    (0..n)
        .map(|i| {
            let unit = format!("sym-{seed}-{i}");
            let variant = assignment::variant(3, &unit, 50.0);
            let shift = if variant == Variant::Treatment {
                effect
            } else {
                0.0
            };
            Observation {
                unit,
                variant,
                metric: "return_pct".into(),
                value: noise.sample(&mut rng) + shift,
                observed_at: Utc::now(),
                event_id: None,
            }
        })
        .collect()
}

async fn tick(store: &dyn Store, at: chrono::DateTime<Utc>) -> Option<(String, String)> {
    let c = plan(EXP);
    let out = engine::tick_all(store, &c, &Writer::person("daemon@test"), at)
        .await
        .unwrap();
    out.into_iter().find_map(|(_, o)| match o {
        Outcome::Applied(a) => Some((a.transition.action.to_string(), a.transition.reason)),
        _ => None,
    })
}

async fn clear_win_is_promoted_early(db: TestDb) {
    let store = db.store().await;
    tick(&*store, t0()).await;
    store
        .ingest("exp", &observations(600, 0.8, 1), Utc::now())
        .await
        .unwrap();
    let (action, reason) = tick(&*store, t0() + Duration::hours(1))
        .await
        .expect("a transition");
    assert_eq!(action, "advance", "{reason}");
    assert!(
        reason.contains("treatment better") && reason.contains("return_pct"),
        "{reason}"
    );
    assert_eq!(
        store.rollout_flags("exp").await.unwrap()["EXP_ROLLOUT_PERCENTAGE"],
        "5"
    );
}

async fn clear_loss_is_rolled_back(db: TestDb) {
    let store = db.store().await;
    tick(&*store, t0()).await;
    store
        .ingest("exp", &observations(600, -0.8, 2), Utc::now())
        .await
        .unwrap();
    let (action, reason) = tick(&*store, t0() + Duration::hours(1))
        .await
        .expect("a transition");
    assert_eq!(action, "rollback");
    assert!(reason.contains("significantly worse"), "{reason}");
    let s = store.state("exp").await.unwrap().unwrap();
    assert_eq!(s.status(), Status::RolledBack);
    assert_eq!(
        store.rollout_flags("exp").await.unwrap()["EXP_APPLY_PARAMETERS"],
        "false"
    );
}

async fn aa_test_holds_at_the_end(db: TestDb) {
    let store = db.store().await;
    tick(&*store, t0()).await;
    store
        .ingest("exp", &observations(600, 0.0, 3), Utc::now())
        .await
        .unwrap();
    assert_eq!(
        tick(&*store, t0() + Duration::days(7)).await,
        None,
        "no early verdict on A/A data"
    );
    let (action, reason) = tick(&*store, t0() + Duration::days(14))
        .await
        .expect("a hold");
    assert_eq!(action, "hold");
    assert!(reason.contains("inconclusive"), "{reason}");
    assert_eq!(
        store.state("exp").await.unwrap().unwrap().status(),
        Status::Blocked
    );
}

async fn sample_ratio_mismatch_rolls_back(db: TestDb) {
    let store = db.store().await;
    tick(&*store, t0()).await;
    // Half of the treatment units went missing: a broken pipeline, not a result.
    let rows: Vec<_> = observations(800, 0.0, 4)
        .into_iter()
        .enumerate()
        .filter(|(i, o)| o.variant == Variant::Control || i % 2 == 0)
        .map(|(_, o)| o)
        .collect();
    store.ingest("exp", &rows, Utc::now()).await.unwrap();
    let (action, reason) = tick(&*store, t0() + Duration::hours(1))
        .await
        .expect("a rollback");
    assert_eq!(action, "rollback");
    assert!(reason.starts_with("sample ratio mismatch"), "{reason}");
    let s = store.state("exp").await.unwrap().unwrap();
    assert_eq!(s.status(), Status::RolledBack);
    let flags = store.rollout_flags("exp").await.unwrap();
    assert_eq!(
        (
            flags["EXP_MODE"].as_str(),
            flags["EXP_APPLY_PARAMETERS"].as_str(),
            flags["EXP_AB_TEST_ENABLED"].as_str()
        ),
        ("rolled_back", "false", "false")
    );
    let last = store.history("exp").await.unwrap().pop().unwrap();
    assert!(
        last.reason.starts_with("sample ratio mismatch"),
        "{}",
        last.reason
    );
    assert_eq!(
        (last.action.as_str(), last.to_status.as_str()),
        ("rollback", "rolled_back")
    );
}

async fn redelivered_events_are_counted_once(db: TestDb) {
    let store = db.store().await;
    let mut rows = observations(50, 0.0, 5);
    for (i, r) in rows.iter_mut().enumerate() {
        r.event_id = Some(format!("evt-{i}"));
    }
    let first = store.ingest("exp", &rows, Utc::now()).await.unwrap();
    let again = store.ingest("exp", &rows, Utc::now()).await.unwrap();
    assert_eq!((first.inserted, first.duplicates), (50, 0));
    assert_eq!((again.inserted, again.duplicates), (0, 50));
    let m = store.moments("exp", "return_pct").await.unwrap();
    assert_eq!(m.control.n() + m.treatment.n(), 50);
    let units = store.unit_counts("exp").await.unwrap();
    assert_eq!(units.control + units.treatment, 50);
}

on_both_stores!(
    clear_win_is_promoted_early,
    clear_loss_is_rolled_back,
    aa_test_holds_at_the_end,
    sample_ratio_mismatch_rolls_back,
    redelivered_events_are_counted_once,
);

/// The whole path as people use it: a running daemon, observations loaded with
/// `rollout ingest`, and an early promotion on a clear win.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_promotes_after_cli_ingest() {
    let db = TestDb::sqlite();
    let cfg = db.config(&format!("tick: '* * * * * *'\n{EXP}"));
    let _d = Daemon::start(&cfg, db.dir.path().join("daemon.log"));
    let stage = || async {
        db.store()
            .await
            .state("exp")
            .await
            .ok()?
            .map(|s| s.stage_index)
    };
    eventually(
        std::time::Duration::from_secs(60),
        "the A/B stage",
        || async { (stage().await == Some(0)).then_some(()) },
    )
    .await;

    let csv = db.dir.path().join("obs.csv");
    let mut text = String::from("unit,variant,metric,value,observed_at,event_id\n");
    for (i, o) in observations(600, 0.8, 6).iter().enumerate() {
        text.push_str(&format!(
            "{},{},return_pct,{},2026-11-25T10:00:00Z,e{i}\n",
            o.unit,
            o.variant.as_str(),
            o.value
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let out = run(&cfg, &["ingest", "exp", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));

    eventually(
        std::time::Duration::from_secs(60),
        "the early promotion",
        || async { (stage().await == Some(1)).then_some(()) },
    )
    .await;
    let out = run(&cfg, &["analyze", "exp", "--json"]);
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["rollout", "stage", "metrics", "srm"] {
        assert!(a.get(key).is_some(), "analyze --json lacks {key}");
    }
    let m = &a["metrics"][0];
    for key in [
        "metric",
        "test",
        "control",
        "treatment",
        "p_value",
        "sequential_p_value",
        "effect_size",
        "lift",
        "ci_low",
        "ci_high",
        "verdict",
    ] {
        assert!(m.get(key).is_some(), "metric lacks {key}: {m}");
    }
    assert_eq!(m["verdict"], "treatment_better");
    assert!(a["srm"]["p_value"].as_f64().unwrap() > 0.001);
}

#[test]
fn ingest_reports_every_bad_row_and_writes_nothing() {
    let db = TestDb::sqlite();
    let cfg = db.config(EXP);
    let csv = db.dir.path().join("bad.csv");
    std::fs::write(&csv, "unit,variant,metric,value\nu1,control,m,1.5\nu2,ctrl,m,2\nu3,treatment,m,NaN\nu4,treatment,m,inf\nu5,control,,1\n,control,m,1\nu7,control,m\n").unwrap();
    let out = run(&cfg, &["ingest", "exp", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for line in [
        ":3: variant",
        ":4: value must be a finite",
        ":5: value must be a finite",
        ":6: metric",
        ":7: unit is missing",
        ":8: expected 4 fields",
    ] {
        assert!(err.contains(line), "missing {line:?} in:\n{err}");
    }
    assert!(err.contains("nothing was written"));
    let out = run(&cfg, &["analyze", "exp", "--json"]);
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        a["srm"]["observed"]["control"], 0,
        "the good row was not written either"
    );
}
