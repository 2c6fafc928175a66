//! The unit is the unit of analysis, and ingest keeps the data clean: several observations
//! of a unit make one value, maintained as rows arrive (a unit's value changes in place);
//! each row lands in the stage entry in force when it was observed, in the variant the
//! assignment rule gives its unit; rows the rollout cannot use are refused with the reason
//! and nothing is written.

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rollout::assignment::{self, Variant};
use rollout::config::{Config, PerUnit};
use rollout::controller::ManualAction;
use rollout::engine;
use rollout::experiment::{place_rows, IngestReport, ObservationInput, StageEntry};
use rollout::stats::Moments;
use rollout::store::{Store, Writer};
use rollout::{Clock, Service};
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::on_both_stores;
use crate::support::{run, stderr, stdout, TestDb};
use crate::walk::{plan, t0};

const UNITS: &str = "
rollouts:
  - name: u
    flag_prefix: U_
    seed: 11
    stages:
      - shadow: { duration: 1d }
      - ab_test:
          percentage: 50
          duration: 14d
          metrics: [ { name: pnl, test: welch_t } ]
      - full: {}
    guardrails:
      - { name: latency, metric: latency_ms, aggregate: mean, max: 1000, window: 1h }
";

fn input(unit: &str, metric: &str, value: f64, at: DateTime<Utc>) -> ObservationInput {
    ObservationInput {
        line: 0,
        unit: unit.into(),
        variant: None,
        metric: metric.into(),
        value,
        observed_at: at,
        event_id: None,
    }
}

async fn ingest(
    store: &dyn Store,
    c: &Config,
    rows: Vec<ObservationInput>,
    now: DateTime<Utc>,
) -> IngestReport {
    let placed = place_rows(store, c.rollout("u").unwrap(), "test", rows, now)
        .await
        .unwrap();
    store.ingest("u", &placed, now).await.unwrap()
}

async fn tick(store: &dyn Store, c: &Config, at: DateTime<Utc>) {
    engine::tick_all(store, c, &Writer::person("t@it"), at)
        .await
        .unwrap();
}

struct At(DateTime<Utc>);
impl Clock for At {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

fn service(store: &Arc<dyn Store>, c: &Config, at: DateTime<Utc>) -> Service {
    Service::new(
        store.clone(),
        Arc::new(arc_swap::ArcSwap::from_pointee(c.clone())),
        Arc::new(At(at)),
    )
}

async fn current_entry(store: &dyn Store) -> StageEntry {
    let s = store.state("u").await.unwrap().unwrap();
    StageEntry {
        stage: s.stage_index,
        entered_at: s.stage_entered_at,
    }
}

/// Several observations per unit make one value per unit (their mean, or their sum); the
/// maintained moments equal a batch computation over the unit values after every batch,
/// including batches that change the value of units seen before.
async fn several_observations_per_unit_make_one_value(db: TestDb) {
    let store = db.store().await;
    let c = plan(UNITS);
    tick(&*store, &c, t0()).await;
    tick(&*store, &c, t0() + Duration::days(1)).await; // into the A/B stage
    let entry = current_entry(&*store).await;
    assert_eq!(entry.stage, 1);

    let mut rng = ChaCha20Rng::seed_from_u64(5);
    // unit → its observations so far
    let mut seen: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for batch in 0..3 {
        let at = t0() + Duration::days(1) + Duration::hours(batch + 1);
        let mut rows = Vec::new();
        for u in 0..60 {
            // Units come back across batches with several observations each, around a
            // unit-level offset near 1e9 (huge magnitudes keep their variance).
            if (u + batch) % 3 == 0 {
                continue;
            }
            let unit = format!("sym{u}");
            for _ in 0..1 + (u % 4) {
                let v = 1e9 + (u as f64) * 0.5 + rng.random::<f64>();
                seen.entry(unit.clone()).or_default().push(v);
                rows.push(input(&unit, "pnl", v, at));
            }
        }
        let n = rows.len() as u64;
        let report = ingest(&*store, &c, rows, at).await;
        assert_eq!(report.inserted, n);

        for kind in [PerUnit::Mean, PerUnit::Sum] {
            let got = store.unit_aggregate("u", entry, "pnl", kind).await.unwrap();
            for variant in [Variant::Control, Variant::Treatment] {
                let values: Vec<f64> = seen
                    .iter()
                    .filter(|(unit, _)| assignment::variant(11, unit, 50.0) == variant)
                    .map(|(_, v)| match kind {
                        PerUnit::Mean => v.iter().sum::<f64>() / v.len() as f64,
                        PerUnit::Sum => v.iter().sum::<f64>(),
                    })
                    .collect();
                let want = Moments::from_values(&values);
                let (m, obs) = match variant {
                    Variant::Control => (got.moments.control, got.observations.control),
                    Variant::Treatment => (got.moments.treatment, got.observations.treatment),
                };
                let observations: usize = seen
                    .iter()
                    .filter(|(unit, _)| assignment::variant(11, unit, 50.0) == variant)
                    .map(|(_, v)| v.len())
                    .sum();
                assert_eq!(m.n(), want.n(), "units, batch {batch} {kind:?} {variant:?}");
                let events = match variant {
                    Variant::Control => got.events.control,
                    Variant::Treatment => got.events.treatment,
                };
                assert_eq!(events, m.n(), "every unit value is non-zero here");
                assert_eq!(obs, observations as u64, "observations behind them");
                let rel = |a: f64, b: f64| (a - b).abs() / b.abs().max(1e-12);
                assert!(rel(m.mean(), want.mean()) < 1e-12, "{m:?} vs {want:?}");
                assert!(
                    rel(m.variance(), want.variance()) < 1e-6,
                    "variance after batch {batch} ({kind:?}, {variant:?}): {} vs {}",
                    m.variance(),
                    want.variance()
                );
            }
        }
    }
    let exposure = store.exposure("u", entry).await.unwrap();
    assert_eq!(
        exposure.units.control + exposure.units.treatment,
        seen.len() as u64
    );
    assert_eq!(
        exposure.multiple, 0,
        "the rule never puts a unit in both arms"
    );
}

/// Rows observed in the shadow stage, or before a restart, never reach the A/B arms of the
/// current attempt; the old attempt's aggregates stay in the store for its history.
async fn each_attempt_of_the_ab_stage_starts_from_nothing(db: TestDb) {
    let store: Arc<dyn Store> = Arc::from(db.store().await);
    let c = plan(UNITS);
    tick(&*store, &c, t0()).await;
    let shadow_at = t0() + Duration::hours(2);
    ingest(
        &*store,
        &c,
        vec![input("a", "pnl", 1.0, shadow_at)],
        shadow_at,
    )
    .await;
    tick(&*store, &c, t0() + Duration::days(1)).await;
    let first = current_entry(&*store).await;
    let ab_at = t0() + Duration::days(1) + Duration::hours(1);
    let rows: Vec<_> = (0..20)
        .map(|i| input(&format!("s{i}"), "pnl", i as f64, ab_at))
        .collect();
    ingest(&*store, &c, rows, ab_at).await;
    let units = |e| {
        let store = store.clone();
        async move {
            let x = store.exposure("u", e).await.unwrap().units;
            x.control + x.treatment
        }
    };
    assert_eq!(
        units(first).await,
        20,
        "the shadow row is not in the A/B stage"
    );

    // Roll back, restart, and walk into the A/B stage again.
    let at = t0() + Duration::days(2);
    let s = service(&store, &c, at);
    s.act("u", ManualAction::Rollback, "bad", "t@it")
        .await
        .unwrap();
    let late = at + Duration::minutes(1);
    let report = ingest(&*store, &c, vec![input("late", "pnl", 9.0, late)], late).await;
    assert_eq!(
        report.inserted, 1,
        "rows after a rollback are kept for audit"
    );
    let s = service(&store, &c, at + Duration::hours(1));
    s.act("u", ManualAction::Restart, "", "t@it").await.unwrap();
    tick(&*store, &c, at + Duration::days(2)).await;
    let second = current_entry(&*store).await;
    assert_eq!(second.stage, 1);
    assert_ne!(second, first);
    assert_eq!(units(second).await, 0, "a new attempt starts from nothing");
    assert_eq!(units(first).await, 20, "the old attempt's numbers are kept");
    let a = s.analyze("u").await.unwrap();
    assert_eq!(
        (a.srm.observed.control, a.srm.observed.treatment),
        (0, 0),
        "analyze reads the current attempt"
    );
}

const LOOKS: &str = "
rollouts:
  - name: u
    flag_prefix: U_
    seed: 11
    stages:
      - ab_test:
          percentage: 50
          duration: 2d
          expected_units_per_day: 100
          metrics: [ { name: pnl, test: welch_t } ]
      - full: {}
";

/// The group-sequential design remembers its looks: judging saves the look it takes with
/// the stage entry, a later tick with no new information takes none, and `analyze` shows
/// where the design is without recording anything.
async fn the_design_remembers_its_looks(db: TestDb) {
    let store: Arc<dyn Store> = Arc::from(db.store().await);
    let c = plan(LOOKS);
    tick(&*store, &c, t0()).await;
    let entry = current_entry(&*store).await;
    let at = t0() + Duration::hours(1);
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    // 120 of the 200 planned units: past look 1 of 2 (one look a day).
    let rows: Vec<_> = (0..120)
        .map(|i| input(&format!("s{i}"), "pnl", rng.random::<f64>(), at))
        .collect();
    ingest(&*store, &c, rows, at).await;
    let a = service(&store, &c, at).analyze("u").await.unwrap();
    let v = serde_json::to_value(&a).unwrap();
    assert_eq!(v["design"], "group_sequential", "{v}");
    assert!(
        store.analysis_memory("u", entry).await.unwrap().is_none(),
        "analyze records nothing"
    );
    tick(&*store, &c, at + Duration::minutes(1)).await;
    let looks = |text: Option<String>| -> Vec<serde_json::Value> {
        let m: serde_json::Value = serde_json::from_str(&text.expect("a saved memory")).unwrap();
        m["looks"].as_array().unwrap().clone()
    };
    let first = looks(store.analysis_memory("u", entry).await.unwrap());
    assert_eq!(first.len(), 1, "{first:?}");
    tick(&*store, &c, at + Duration::minutes(2)).await;
    let again = looks(store.analysis_memory("u", entry).await.unwrap());
    assert_eq!(again, first, "no new information, no new look");
    let a = service(&store, &c, at + Duration::minutes(3))
        .analyze("u")
        .await
        .unwrap();
    let v = serde_json::to_value(&a).unwrap();
    assert_eq!(
        (v["look"].as_u64(), v["looks"].as_u64()),
        (Some(1), Some(2)),
        "{v}"
    );
}

on_both_stores!(
    several_observations_per_unit_make_one_value,
    each_attempt_of_the_ab_stage_starts_from_nothing,
    the_design_remembers_its_looks,
);

/// `rollout ingest` refuses what the rollout cannot use, every bad row at once with its
/// line and reason, and writes nothing; the variant is optional, and a claim that
/// contradicts the assignment rule is refused.
#[test]
fn ingest_refuses_rows_the_rollout_cannot_use() {
    let db = TestDb::sqlite();
    let cfg = db.config(&UNITS.replace("      - shadow: { duration: 1d }\n", ""));
    assert!(run(&cfg, &["tick"]).status.success());
    // The rule's variants for two units, to forge the opposite.
    let rule = |u: &str| assignment::variant(11, u, 50.0);
    let other = |v: Variant| match v {
        Variant::Control => Variant::Treatment,
        Variant::Treatment => Variant::Control,
    };
    let future = (Utc::now() + Duration::hours(1)).to_rfc3339();
    let csv = db.dir.path().join("bad.csv");
    std::fs::write(
        &csv,
        format!(
            "unit,variant,metric,value,observed_at\n\
             a,,pnl,1.0,\n\
             b,,pnl_typo,1.0,\n\
             c,,pnl,1e13,\n\
             d,,pnl,1.0,{future}\n\
             e,{},pnl,1.0,\n\
             f,{},pnl,1.0,\n",
            other(rule("e")).as_str(),
            rule("f").as_str(),
        ),
    )
    .unwrap();
    let out = run(&cfg, &["ingest", "u", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    for want in [
        ":3: metric \"pnl_typo\" is not measured by rollout u (its A/B metrics and guardrails name: latency_ms, pnl)",
        ":4: value 10000000000000 of metric \"pnl\" is beyond ±1e12",
        ":5: observed_at",
        "is more than 5 minutes in the future",
        ":6: variant",
        "contradicts the assignment rule",
        "4 bad row(s); nothing was written",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    let v: serde_json::Value =
        serde_json::from_slice(&run(&cfg, &["analyze", "u", "--json"]).stdout).unwrap();
    assert_eq!(v["srm"]["observed"]["control"], 0, "nothing written: {v}");
    assert_eq!(v["srm"]["observed"]["treatment"], 0, "nothing written: {v}");

    // Without the bad rows: accepted, the variant taken from the rule.
    let good = db.dir.path().join("good.csv");
    std::fs::write(
        &good,
        format!(
            "unit,variant,metric,value\na,,pnl,1.0\nf,{},pnl,2.0\n",
            rule("f").as_str()
        ),
    )
    .unwrap();
    let out = run(&cfg, &["ingest", "u", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("ingested 2 observation(s)"),
        "{}",
        stdout(&out)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&run(&cfg, &["analyze", "u", "--json"]).stdout).unwrap();
    let o = &v["srm"]["observed"];
    assert_eq!(
        o["control"].as_u64().unwrap() + o["treatment"].as_u64().unwrap(),
        2,
        "{v}"
    );
}
