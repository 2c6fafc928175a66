//! The shadow stage that proves something: what it measures (records, rejections, analysis
//! runs, service errors), its counterfactual checked against SciPy on seeded data, its exit
//! criteria holding the rollout in shadow, and the report over the CLI and HTTP.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use rollout::config::Config;
use rollout::controller::{ManualAction, Status};
use rollout::daemon::Role;
use rollout::engine;
use rollout::learning::{self, Kind, Weights};
use rollout::shadow::{CounterfactualStatus, RolloutReport, ServiceError};
use rollout::store::{Store, WeightsRecord, Writer};
use serde_json::{json, Value};

use crate::http::{http_client, Api};
use crate::learning_api::post;
use crate::on_both_stores;
use crate::status::service;
use crate::support::{run, stderr, stdout, TestDb};
use crate::walk::plan;

fn data(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/shadow")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn reference() -> Value {
    serde_json::from_slice(&data("reference.json")).unwrap()
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

fn person() -> Writer {
    Writer::person("tester")
}

async fn tick(store: &dyn Store, c: &Config, at: DateTime<Utc>) {
    engine::tick_all(store, c, &person(), at).await.unwrap();
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-9 * b.abs().max(1.0),
        "{what}: {a} != reference {b}"
    );
}

const SEEDED: &str = "
rollouts:
  - name: decile
    flag_prefix: DECILE_
    seed: 1
    analysis: {}
    stages:
      - shadow: { duration: 7d, require: { counterfactual_not_worse: true } }
      - ab_test: { percentage: 10, duration: 14d }
      - full: {}
  - name: top3
    flag_prefix: TOP3_
    seed: 2
    analysis: {}
    stages:
      - shadow: { duration: 7d, top_k: 3 }
      - ab_test: { percentage: 10, duration: 14d }
      - full: {}
";

/// The counterfactual of a seeded week, against the numbers `scripts/reference_shadow.py`
/// computed with numpy and SciPy (`stats.ttest_1samp(D).confidence_interval(0.95)` over the
/// per-day differences), and the records counted per kind.
async fn counterfactual_matches_scipy(db: TestDb) {
    let reference = reference();
    let (from, to) = (time(&reference["from"]), time(&reference["to"]));
    let store: Arc<dyn Store> = Arc::from(db.store().await);
    let c = plan(SEEDED);
    tick(&*store, &c, from).await;
    for (kind, file) in [
        (Kind::Discovery, "discoveries.jsonl"),
        (Kind::Thesis, "theses.jsonl"),
        (Kind::Outcome, "outcomes.jsonl"),
    ] {
        let rows = learning::parse_jsonl(kind, file, &data(file)).unwrap();
        store.ingest_learning(&rows).await.unwrap();
    }
    let learned: BTreeMap<String, f64> =
        serde_json::from_value(reference["learned"].clone()).unwrap();
    let learned = Weights::rounded(&learned);
    for name in ["decile", "top3"] {
        let record = WeightsRecord {
            rollout: name.into(),
            computed_at: from + Duration::days(6),
            current: learned.clone(),
            suggested: learned.clone(),
            final_weights: learned.clone(),
            fallback: false,
            reason: "test".into(),
            confidence: None,
            sample_size: 100,
            regime: None,
            inputs: json!({}),
        };
        store.record_weights(&record, None).await.unwrap();
    }
    let svc = service(&store, &c, to);
    for (name, key) in [("decile", "top_decile"), ("top3", "top_3")] {
        let report = svc.report(name).await.unwrap();
        let sh = report.stages[0].shadow.as_ref().expect("a shadow report");
        let want = &reference[key];
        let cf = sh.counterfactual.as_ref().expect("a counterfactual");
        assert_eq!(cf.status, CounterfactualStatus::Ok, "{cf:?}");
        assert_eq!(cf.trades as u64, want["trades"].as_u64().unwrap(), "{name}");
        assert_eq!(cf.days as u64, want["days"].as_u64().unwrap(), "{name}");
        assert_eq!(cf.df, want["df"].as_u64());
        for (field, got) in [
            ("learned_top_mean", cf.learned_top_mean),
            ("conservative_top_mean", cf.conservative_top_mean),
            ("difference", cf.difference),
            ("ci_low", cf.ci_low),
            ("ci_high", cf.ci_high),
        ] {
            close(
                got.unwrap(),
                want[field].as_f64().unwrap(),
                &format!("{name} {field}"),
            );
        }
        for (got, want) in cf.daily.iter().zip(want["daily"].as_array().unwrap()) {
            assert_eq!(got.day.to_string(), want["day"].as_str().unwrap());
            assert_eq!(got.k as u64, want["k"].as_u64().unwrap());
            close(
                got.difference,
                want["difference"].as_f64().unwrap(),
                "daily difference",
            );
        }
        for kind in ["discovery", "thesis", "outcome"] {
            assert_eq!(
                sh.totals.records.get(kind).copied().unwrap_or(0),
                reference["records"][kind].as_u64().unwrap(),
                "{name} {kind} records"
            );
        }
        assert_eq!(sh.totals.analysis_runs.ok, 1);
        assert_eq!(sh.daily.len(), 8, "every UTC day of [from, to]");
        assert!(sh.complete && sh.criteria_met, "{:?}", sh.criteria);
    }
    // The interval includes 0: not significantly worse, so the A/B test starts.
    tick(&*store, &c, to).await;
    assert_eq!(store.state("decile").await.unwrap().unwrap().stage_index, 1);
}

const HELD: &str = "
rollouts:
  - name: held
    flag_prefix: HELD_
    seed: 3
    analysis: {}
    stages:
      - shadow: { duration: 1d, require: { min_records: 2, max_errors: { timeout: 1 } } }
      - ab_test: { percentage: 10, duration: 14d }
      - full: {}
";

fn discovery(symbol: &str, at: DateTime<Utc>) -> String {
    json!({"symbol": symbol, "discovery_timestamp": at.to_rfc3339(),
           "discovery_features": {"squeeze": 0.5}, "discovery_score": 0.5, "action_tag": "t"})
    .to_string()
}

/// When the duration ends with a criterion not met, the rollout holds in shadow with the
/// failed criteria as its reason (once: the same reason on the next tick changes nothing),
/// and enters the A/B test on the first tick after they are met. The report, made after the
/// fact, tells the shadow stage's story.
async fn unmet_criteria_hold_in_shadow(db: TestDb) {
    let store: Arc<dyn Store> = Arc::from(db.store().await);
    let c = plan(HELD);
    let t0 = time(&json!("2026-02-02T00:00:00Z"));
    tick(&*store, &c, t0).await;
    let svc = service(&store, &c, t0 + Duration::hours(2));
    let errors: Vec<ServiceError> = (0..2)
        .map(|i| ServiceError {
            unit: format!("acct-{i}"),
            kind: "timeout".into(),
            message: "learning API timed out".into(),
            at: t0 + Duration::hours(1),
        })
        .collect();
    assert_eq!(
        svc.record_errors("held", &errors).await.unwrap().inserted,
        2
    );
    let end = t0 + Duration::days(1);
    tick(&*store, &c, end).await;
    let s = store.state("held").await.unwrap().unwrap();
    assert_eq!((s.stage_index, s.status()), (0, Status::Blocked));
    assert_eq!(
        s.phase().reason(),
        Some("shadow exit criteria not met: min_records (at least 2), max_errors.timeout (at most 1)")
    );
    tick(&*store, &c, end + Duration::minutes(1)).await;
    assert_eq!(
        store.state("held").await.unwrap().unwrap().version,
        s.version
    );

    // Data arrives (one duplicate and one refused line are counted as rejected); the
    // errors stay: still held, now for the errors alone.
    let at = t0 + Duration::hours(3);
    let text = format!("{}\n{}\n", discovery("AMC", at), discovery("GME", at));
    let rows = learning::parse_jsonl(Kind::Discovery, "d.jsonl", text.as_bytes()).unwrap();
    let svc = service(&store, &c, end + Duration::minutes(2));
    svc.ingest_learning(&rows).await.unwrap();
    svc.ingest_learning(&rows).await.unwrap();
    svc.reject_learning(
        Kind::Discovery,
        vec!["symbol \"\" must be 1-10 characters".into()],
    )
    .await;
    tick(&*store, &c, end + Duration::minutes(2)).await;
    let s = store.state("held").await.unwrap().unwrap();
    assert_eq!(
        s.phase().reason(),
        Some("shadow exit criteria not met: max_errors.timeout (at most 1)")
    );

    // `promote` by hand still works; the report tells what the shadow stage saw.
    let later = end + Duration::hours(1);
    let svc = service(&store, &c, later);
    svc.act("held", ManualAction::Promote, "errors explained", "tester")
        .await
        .unwrap();
    let report: RolloutReport = svc.report("held").await.unwrap();
    assert_eq!(report.stages.len(), 2);
    let shadow = &report.stages[0];
    assert_eq!(shadow.span.holds.len(), 2, "{:?}", shadow.span.holds);
    assert!(shadow
        .span
        .ended_by
        .as_deref()
        .unwrap()
        .starts_with("promote"));
    let sh = shadow.shadow.as_ref().unwrap();
    assert_eq!(sh.totals.records.get("discovery"), Some(&2));
    assert_eq!(sh.totals.errors.get("timeout"), Some(&2));
    assert_eq!(sh.totals.rejected_total, 3, "{:?}", sh.totals.rejected);
    assert_eq!(sh.totals.rejected.get(rollout::shadow::DUPLICATE), Some(&2));
    assert!(!sh.criteria_met);
    assert_eq!(report.stages[1].kind, "ab_test");
    let md = rollout::shadow::markdown(&report);
    assert!(
        md.contains("| max_errors.timeout | at most 1 | 2 | **no** |"),
        "{md}"
    );
}

const PLAIN: &str = "
rollouts:
  - name: plain
    flag_prefix: PLAIN_
    seed: 4
    analysis: {}
    stages:
      - shadow: { duration: 1d }
      - ab_test: { percentage: 10, duration: 14d }
      - full: {}
";

/// A shadow stage without `require:` advances at its end as before, unless a service
/// reported a `critical` error or an analysis run failed in its last day.
async fn defaults_advance_unless_critical(db: TestDb) {
    let store: Arc<dyn Store> = Arc::from(db.store().await);
    let c = plan(PLAIN);
    let t0 = time(&json!("2026-02-02T00:00:00Z"));
    tick(&*store, &c, t0).await;
    tick(&*store, &c, t0 + Duration::days(1)).await;
    assert_eq!(store.state("plain").await.unwrap().unwrap().stage_index, 1);

    let svc = service(&store, &c, t0 + Duration::days(2));
    svc.act("plain", ManualAction::Rollback, "again", "tester")
        .await
        .unwrap();
    svc.act("plain", ManualAction::Restart, "again", "tester")
        .await
        .unwrap();
    let restarted = t0 + Duration::days(2);
    let critical = ServiceError {
        unit: "acct-1".into(),
        kind: "critical".into(),
        message: "position limit breached".into(),
        at: restarted + Duration::hours(1),
    };
    svc.record_errors("plain", &[critical]).await.unwrap();
    tick(&*store, &c, restarted + Duration::days(1)).await;
    let s = store.state("plain").await.unwrap().unwrap();
    assert_eq!((s.stage_index, s.status()), (0, Status::Blocked));
    // The report is of the current attempt: the restarted shadow stage only.
    let report = service(&store, &c, restarted + Duration::days(1))
        .report("plain")
        .await
        .unwrap();
    assert_eq!(report.stages.len(), 1);
    assert_eq!(
        report.stages[0]
            .shadow
            .as_ref()
            .unwrap()
            .totals
            .errors_total,
        1
    );
}

/// `POST /v1/rollouts/{name}/errors`: one object or an array, all or none, 4xx with
/// reasons; `GET /v1/rollouts/{name}/report` as JSON and as Markdown.
async fn errors_and_report_over_http(db: TestDb) {
    let api = Api::launch(&db, None, PLAIN, Arc::new(Role::default()), |r| r).await;
    tick(&*api.store, &api.config, Utc::now() - Duration::hours(1)).await;
    let path = "/v1/rollouts/plain/errors";
    let one = json!({"unit": "acct-1", "kind": "timeout", "message": "slow"});
    let (status, body) = post(&api, path, one.to_string()).await;
    assert_eq!(
        (status, body["inserted"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{body}"
    );
    let batch = json!([one, {"unit": "acct-2", "kind": "Bad Kind", "message": "x"},
                       {"unit": "acct-3", "kind": "timeout", "message": "x", "at": "2026-01-01T00:00:00"}]);
    let (status, body) = post(&api, path, batch.to_string()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let rows: Vec<u64> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, [1, 2], "{body}");
    let (status, _) = post(&api, path, "{nope".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = post(&api, "/v1/rollouts/nobody/errors", one.to_string()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let report: Value = http_client()
        .get(api.url("/v1/rollouts/plain/report"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let totals = &report["stages"][0]["shadow"]["totals"];
    assert_eq!(totals["errors"]["timeout"], 1, "{report}");
    let md = http_client()
        .get(api.url("/v1/rollouts/plain/report?format=md"))
        .send()
        .await
        .unwrap();
    assert_eq!(md.headers()["content-type"], "text/markdown; charset=utf-8");
    assert!(md
        .text()
        .await
        .unwrap()
        .starts_with("# Rollout report: plain"));
    let bad = http_client()
        .get(api.url("/v1/rollouts/plain/report?format=pdf"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

/// `rollout report NAME --json` after one tick (the acceptance check), and
/// `rollout errors NAME FILE.csv`: all rows or none, every bad line named.
async fn report_and_errors_from_the_cli(db: TestDb) {
    let config = db.config(PLAIN);
    assert!(run(&config, &["tick"]).status.success());
    let out = run(&config, &["report", "plain", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["stages"][0]["kind"], "shadow");
    let csv = db.dir.path().join("errors.csv");
    std::fs::write(
        &csv,
        "unit,kind,message,at\nacct-1,timeout,slow,\nacct-2,BAD,x,\n",
    )
    .unwrap();
    let out = run(&config, &["errors", "plain", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("errors.csv:3: kind \"BAD\""),
        "{}",
        stderr(&out)
    );
    std::fs::write(&csv, "unit,kind,message\nacct-1,timeout,slow\n").unwrap();
    let out = run(&config, &["errors", "plain", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&config, &["report", "plain", "--format", "md"]);
    assert!(stdout(&out).contains("timeout 1"), "{}", stdout(&out));
    let text = stdout(&run(&config, &["report", "plain"]));
    assert!(text.contains("service errors: 1 (timeout 1)"), "{text}");
}

on_both_stores!(
    counterfactual_matches_scipy,
    unmet_criteria_hold_in_shadow,
    defaults_advance_unless_critical,
    errors_and_report_over_http,
    report_and_errors_from_the_cli,
);
