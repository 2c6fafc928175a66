//! The dashboard's data on both stores and over HTTP: guardrail points (one per tick),
//! analysis snapshots (one per look of the design) and the latest analysis the reads serve,
//! the paginated history and time series, the dry run of an action, the stage gauges, and
//! the page itself with its strict policy.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use rollout::controller::ManualAction;
use rollout::daemon::Role;
use rollout::engine;
use rollout::experiment::{place_rows, ObservationInput};
use rollout::store::{Store, StoreError, Writer};
use serde_json::Value;

use crate::http::{http_client, Api, TOKEN};
use crate::on_both_stores;
use crate::support::TestDb;
use crate::walk::{plan, t0};

const YAML: &str = "
rollouts:
  - name: dash
    flag_prefix: DASH_
    seed: 3
    stages:
      - ab_test:
          percentage: 50
          duration: 1d
          metrics:
            - { name: pnl, test: welch_t, direction: increase }
      - canary: { percentage: 25, duration: 1d }
      - full: {}
    guardrails:
      - { name: loss, metric: pnl, aggregate: mean, min: -5, window: 1d, min_samples: 2 }
      - { name: spread, metric: pnl, aggregate: mean, max: 100, window: 1d, min_samples: 2 }
";

fn writer() -> Writer {
    Writer::person("t@it")
}

async fn guardrail_points_are_kept_per_tick_and_paged(db: TestDb) {
    let store: Arc<dyn Store> = Arc::from(db.store().await);
    let config = plan(YAML);
    for i in 0..3 {
        let at = t0() + Duration::minutes(i);
        if i == 1 {
            observe_in(&*store, YAML, "dash", "a", 10, at).await;
        }
        engine::tick_all(&*store, &config, &writer(), at)
            .await
            .unwrap();
    }
    // The first tick starts the rollout (no reading before the state exists), then two
    // evaluations of two guardrails.
    let all = store.guardrail_points("dash", None, 100).await.unwrap();
    assert_eq!(all.len(), 4, "{all:?}");
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert_eq!(all[0].reading.evaluated_at, t0() + Duration::minutes(2));
    let first = store.guardrail_points("dash", None, 3).await.unwrap();
    let rest = store
        .guardrail_points("dash", Some(first[2].id), 3)
        .await
        .unwrap();
    assert_eq!(first.len() + rest.len(), 4);
    assert!(store
        .guardrail_points("other", None, 10)
        .await
        .unwrap()
        .is_empty());
}

/// A group-sequential A/B stage: 200 planned units (100 a day for 2 days), two looks.
const LOOKS: &str = "
rollouts:
  - name: gs
    flag_prefix: GS_
    seed: 3
    stages:
      - ab_test:
          percentage: 50
          duration: 2d
          expected_units_per_day: 100
          metrics:
            - { name: pnl, test: welch_t, direction: increase }
      - full: {}
";

/// `n` observations of `pnl` in rollout `name` of `yaml` at `at`, one unit each.
async fn observe_in(
    store: &dyn Store,
    yaml: &str,
    name: &str,
    tag: &str,
    n: usize,
    at: DateTime<Utc>,
) {
    let rows: Vec<ObservationInput> = (0..n)
        .map(|i| ObservationInput {
            line: i as u64,
            unit: format!("{tag}-{i}"),
            variant: None,
            metric: "pnl".into(),
            value: (i % 7) as f64 * 0.5,
            observed_at: at,
            event_id: None,
        })
        .collect();
    let config = plan(yaml);
    let placed = place_rows(store, config.rollout(name).unwrap(), "test", rows, at)
        .await
        .unwrap();
    store.ingest(name, &placed, at).await.unwrap();
}

/// The design's looks, as its stored memory has them.
async fn design_looks(store: &dyn Store) -> usize {
    let s = store.state("gs").await.unwrap().unwrap();
    let entry = rollout::experiment::StageEntry {
        stage: s.stage_index,
        entered_at: s.stage_entered_at,
    };
    let text = store.analysis_memory("gs", entry).await.unwrap();
    text.map_or(0, |t| {
        let m: Value = serde_json::from_str(&t).unwrap();
        m["looks"].as_array().unwrap().len()
    })
}

/// One snapshot per look the design takes, written by the judgment that takes it; a
/// judgment with no new information takes none; every judgment keeps its analysis as the
/// rollout's latest.
async fn one_snapshot_per_look_of_the_design(db: TestDb) {
    let store: Arc<dyn Store> = Arc::from(db.store().await);
    let config = plan(LOOKS);
    let r = config.rollout("gs").unwrap();
    let judge = |at: DateTime<Utc>| {
        let store = store.clone();
        let r = r.clone();
        async move {
            engine::on_new_data(&*store, &r, &writer(), at)
                .await
                .unwrap();
        }
    };
    let snapshots = || async { store.analysis_snapshots("gs", None, 100).await.unwrap() };
    engine::tick_all(&*store, &config, &writer(), t0())
        .await
        .unwrap();
    assert!(snapshots().await.is_empty(), "starting takes no look");
    // Judged with no data: the design's memory starts, no look; the analysis is the latest.
    judge(t0() + Duration::minutes(1)).await;
    assert!(snapshots().await.is_empty(), "no data, no look");
    let latest = store.latest_analysis("gs").await.unwrap().expect("kept");
    assert_eq!(latest.computed_at, t0() + Duration::minutes(1));
    // 120 of 200 planned units: look 1 of 2.
    let at = t0() + Duration::hours(1);
    observe_in(&*store, LOOKS, "gs", "a", 120, at).await;
    judge(at).await;
    assert_eq!(design_looks(&*store).await, 1);
    let looks = snapshots().await;
    assert_eq!(looks.len(), 1, "{looks:?}");
    assert_eq!(looks[0].taken_at, at);
    assert_eq!(looks[0].analysis["look"], 1);
    assert!(
        looks[0].analysis["metrics"][0]["boundary"].is_number(),
        "a look has its decision boundary: {}",
        looks[0].analysis
    );
    // The same analysis as the latest: the snapshot is the judgment's, not recomputed.
    let latest = store.latest_analysis("gs").await.unwrap().unwrap();
    assert_eq!(latest.analysis, looks[0].analysis);
    // Judged again with nothing new (a tick, a judgment): no new look.
    engine::tick_all(&*store, &config, &writer(), at + Duration::minutes(1))
        .await
        .unwrap();
    judge(at + Duration::minutes(2)).await;
    assert_eq!(
        snapshots().await.len(),
        1,
        "no new information, no new look"
    );
    assert_eq!(
        store
            .latest_analysis("gs")
            .await
            .unwrap()
            .unwrap()
            .computed_at,
        at + Duration::minutes(2),
        "but the latest analysis is the last judgment's"
    );
    // 100 more units: past the planned total, look 2.
    let later = at + Duration::hours(1);
    observe_in(&*store, LOOKS, "gs", "b", 100, later).await;
    judge(later).await;
    assert_eq!(design_looks(&*store).await, 2);
    let looks = snapshots().await;
    assert_eq!(looks.len(), 2, "N looks, N snapshots");
    assert_eq!(looks[0].analysis["look"], 2, "newest first");
    assert_eq!(looks[0].taken_at, later);
    assert_eq!(
        looks[0].analysis["verdict"].as_str(),
        Some(looks[0].verdict.as_str())
    );
}

/// `GET /v1/rollouts/{name}` serves the latest judgment's analysis: rows ingested after it
/// change nothing until the next judgment.
async fn the_rollout_read_serves_the_latest_judgment(db: TestDb) {
    let api = Api::launch(&db, Some(TOKEN), LOOKS, Arc::new(Role::default()), |r| r).await;
    let (s, one) = get(&api, "/v1/rollouts/gs").await;
    assert_eq!(s, StatusCode::OK, "{one}");
    assert!(one["analysis"].is_null(), "never judged: none: {one}");
    engine::tick_all(&*api.store, &api.config, &writer(), t0())
        .await
        .unwrap();
    let at = t0() + Duration::minutes(5);
    observe_in(&*api.store, LOOKS, "gs", "a", 40, at).await;
    engine::tick_all(&*api.store, &api.config, &writer(), at)
        .await
        .unwrap();
    let (_, first) = get(&api, "/v1/rollouts/gs").await;
    let a = &first["analysis"];
    assert_eq!(
        a["exposure"]["units"]["control"].as_u64().unwrap()
            + a["exposure"]["units"]["treatment"].as_u64().unwrap(),
        40,
        "{a}"
    );
    let computed_at: DateTime<Utc> = a["computed_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(computed_at, at);
    // Rows after the judgment: the read is unchanged (it computes nothing).
    observe_in(&*api.store, LOOKS, "gs", "b", 30, at).await;
    let (_, same) = get(&api, "/v1/rollouts/gs").await;
    assert_eq!(same["analysis"], first["analysis"]);
    // The next tick judges them.
    let next = at + Duration::minutes(1);
    engine::tick_all(&*api.store, &api.config, &writer(), next)
        .await
        .unwrap();
    let (_, after) = get(&api, "/v1/rollouts/gs").await;
    let a = &after["analysis"];
    assert_eq!(
        a["exposure"]["units"]["control"].as_u64().unwrap()
            + a["exposure"]["units"]["treatment"].as_u64().unwrap(),
        70,
        "{a}"
    );
    assert_eq!(
        a["computed_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        next
    );
}

/// `retention:` thins the series of an ended stage with its raw rows: its guardrail
/// readings keep their breaches, its snapshots the stage's last look; the current stage's
/// are never touched.
async fn retention_thins_the_series_of_ended_stages(db: TestDb) {
    use rollout::compaction::compact;

    let yaml = LOOKS.replace(
        "      - full: {}\n",
        "      - full: {}\n    retention: 1d\n    guardrails:\n      \
         - { name: high, metric: pnl, aggregate: mean, max: 1, window: 1h, min_samples: 2, severity: warning }\n      \
         - { name: low, metric: pnl, aggregate: mean, min: -5, window: 1h, min_samples: 2 }\n",
    );
    let store: Arc<dyn Store> = Arc::from(db.store().await);
    let config = plan(&yaml);
    let r = config.rollout("gs").unwrap();
    assert!(r.retention.is_some());
    let tick = |at: DateTime<Utc>| {
        let (store, config) = (store.clone(), config.clone());
        async move {
            engine::tick_all(&*store, &config, &writer(), at)
                .await
                .unwrap();
        }
    };
    tick(t0()).await;
    let at = t0() + Duration::hours(1);
    observe_in(&*store, &yaml, "gs", "a", 120, at).await;
    tick(at).await;
    observe_in(&*store, &yaml, "gs", "b", 100, at).await;
    tick(at + Duration::minutes(1)).await;
    tick(at + Duration::minutes(2)).await;
    let points = store.guardrail_points("gs", None, 100).await.unwrap();
    let breaches = points
        .iter()
        .filter(|p| p.reading.status.as_str() == "breach")
        .count();
    assert_eq!(points.len(), 6, "3 ticks × 2 guardrails: {points:?}");
    assert_eq!(breaches, 3, "`high` breaches at each: {points:?}");
    let looks = store.analysis_snapshots("gs", None, 100).await.unwrap();
    assert_eq!(looks.len(), 2);
    // The stage runs: nothing of it goes, whatever the retention.
    let now = at + Duration::days(1);
    let c = compact(&*store, r, Duration::zero(), now).await.unwrap();
    assert_eq!((c.readings_deleted, c.snapshots_deleted), (0, 0));
    // Ended (promoted to `full`), and older than the retention: thinned by the pass.
    let ended = at + Duration::minutes(3);
    engine::act(
        &*store,
        r,
        ManualAction::Promote,
        "enough",
        &writer(),
        || ended,
    )
    .await
    .unwrap();
    tick(ended + Duration::days(2)).await;
    let kept = store.guardrail_points("gs", None, 100).await.unwrap();
    assert_eq!(kept.len(), breaches, "breaches are kept: {kept:?}");
    assert!(kept.iter().all(|p| p.reading.status.as_str() == "breach"));
    let kept_looks = store.analysis_snapshots("gs", None, 100).await.unwrap();
    assert_eq!(kept_looks.len(), 1, "the stage's last look");
    assert_eq!(kept_looks[0].id, looks[0].id);
    assert!(
        store.latest_analysis("gs").await.unwrap().is_some(),
        "the latest analysis stays"
    );
}

async fn api(db: &TestDb) -> Api {
    Api::launch(db, Some(TOKEN), YAML, Arc::new(Role::default()), |r| r).await
}

async fn get(api: &Api, path: &str) -> (StatusCode, Value) {
    let r = http_client().get(api.url(path)).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn history_and_timeseries_pages(db: TestDb) {
    let api = api(&db).await;
    engine::tick_all(&*api.store, &api.config, &writer(), t0())
        .await
        .unwrap();
    let r = &api.config.rollouts[0];
    for a in [
        ManualAction::Pause,
        ManualAction::Resume,
        ManualAction::Promote,
    ] {
        engine::act(&*api.store, r, a, "t", &writer(), Utc::now)
            .await
            .unwrap();
    }
    let (s, page) = get(&api, "/v1/rollouts/dash/history?limit=3").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["action"], "promote", "newest first");
    let next = page["next_before"]
        .as_i64()
        .expect("a full page has a cursor");
    let (_, older) = get(
        &api,
        &format!("/v1/rollouts/dash/history?limit=3&before={next}"),
    )
    .await;
    let older = older["events"].as_array().unwrap().clone();
    assert_eq!(older.len(), 1);
    assert_eq!(older[0]["action"], "start");
    for bad in [
        "/v1/rollouts/dash/history?limit=0",
        "/v1/rollouts/dash/history?limit=100000",
        "/v1/rollouts/dash/history?before=-3",
        "/v1/rollouts/dash/history?limit=ten",
        "/v1/rollouts/dash/history?page=2",
        "/v1/rollouts/dash/timeseries?limit=0",
        "/v1/rollouts/dash/timeseries?guardrail_before=x",
    ] {
        let (s, body) = get(&api, bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{bad}"
        );
    }
    let (s, _) = get(&api, "/v1/rollouts/nope/history").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = get(&api, "/v1/rollouts/nope/timeseries").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, ts) = get(&api, "/v1/rollouts/dash/timeseries?limit=10").await;
    assert_eq!(s, StatusCode::OK, "{ts}");
    assert_eq!(ts["stages"].as_array().unwrap().len(), 3);
    let lines = ts["guardrails"].as_array().unwrap();
    assert_eq!(lines[0]["name"], "loss");
    assert_eq!(lines[0]["min"], -5.0);
    assert_eq!(lines[1]["max"], 100.0);
    assert!(ts["guardrail_points"].is_array() && ts["analyses"].is_array());
}

/// `GET /v1/overview`: every rollout's status with its latest verdict, by page, in one
/// request per page.
async fn the_overview_pages_rollouts_with_their_latest_verdict(db: TestDb) {
    let both = format!("{YAML}{}", LOOKS.trim_start_matches("\nrollouts:\n"));
    let api = Api::launch(&db, Some(TOKEN), &both, Arc::new(Role::default()), |r| r).await;
    engine::tick_all(&*api.store, &api.config, &writer(), t0())
        .await
        .unwrap();
    let (s, first) = get(&api, "/v1/overview?limit=1").await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(first["total"], 2);
    let rows = first["rollouts"].as_array().unwrap();
    assert_eq!((rows.len(), rows[0]["name"].as_str()), (1, Some("dash")));
    assert!(rows[0]["verdict"].is_null(), "not judged yet: {first}");
    assert_eq!(first["next_offset"], 1);
    engine::tick_all(
        &*api.store,
        &api.config,
        &writer(),
        t0() + Duration::minutes(1),
    )
    .await
    .unwrap();
    let (_, second) = get(&api, "/v1/overview?limit=1&offset=1").await;
    let gs = &second["rollouts"][0];
    assert_eq!(gs["name"], "gs");
    assert_eq!(gs["status"], "running");
    assert_eq!(gs["verdict"], "insufficient_data", "{second}");
    assert_eq!(gs["srm_mismatch"], false);
    assert!(gs["analysis_computed_at"].is_string());
    assert!(second["next_offset"].is_null());
    for bad in [
        "/v1/overview?limit=0",
        "/v1/overview?offset=-1",
        "/v1/overview?x=1",
    ] {
        let (s, _) = get(&api, bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    }
}

async fn a_preview_shows_the_flag_diff_and_writes_nothing(db: TestDb) {
    let api = api(&db).await;
    engine::tick_all(&*api.store, &api.config, &writer(), t0())
        .await
        .unwrap();
    let before = api.store.flags_version().await.unwrap();
    let (s, p) = get(&api, "/v1/rollouts/dash/preview?action=rollback&reason=bad").await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["allowed"], true);
    assert_eq!(p["changes"], true);
    assert_eq!(p["from"]["status"], "running");
    assert_eq!(p["to"]["status"], "rolled_back");
    let diff = p["flags"].as_array().unwrap();
    let mode = diff
        .iter()
        .find(|f| f["key"] == "DASH_MODE")
        .expect("DASH_MODE changes");
    assert_eq!(mode["from"], "ab_test");
    assert_eq!(mode["to"], "rolled_back");
    assert_eq!(
        api.store.flags_version().await.unwrap(),
        before,
        "nothing written"
    );
    // The action then writes exactly what the preview said.
    let resp = http_client()
        .post(api.url("/v1/rollouts/dash/rollback"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"reason": "bad"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let flags = api.store.rollout_flags("dash").await.unwrap();
    for f in diff {
        assert_eq!(
            flags.get(f["key"].as_str().unwrap()).map(String::as_str),
            f["to"].as_str()
        );
    }
    let (_, p) = get(&api, "/v1/rollouts/dash/preview?action=pause").await;
    assert_eq!(p["allowed"], false);
    assert!(
        p["refused"].as_str().unwrap().contains("rolled_back"),
        "{p}"
    );
    for bad in [
        "/v1/rollouts/dash/preview?action=explode",
        "/v1/rollouts/dash/preview",
        "/v1/rollouts/dash/preview?action=pause&token=x",
    ] {
        let (s, _) = get(&api, bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    }
    let (s, _) = get(&api, "/v1/rollouts/nope/preview?action=pause").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn stage_gauges_are_on_metrics(db: TestDb) {
    rollout::http::metrics::install();
    let api = api(&db).await;
    engine::tick_all(&*api.store, &api.config, &writer(), t0())
        .await
        .unwrap();
    let text = http_client()
        .get(api.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("rollout_stage_index{rollout=\"dash\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("rollout_percentage{rollout=\"dash\"} 50"),
        "{text}"
    );
    assert!(
        text.contains("rollout_status{rollout=\"dash\",status=\"running\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("rollout_status{rollout=\"dash\",status=\"paused\"} 0"),
        "{text}"
    );
}

async fn the_page_is_served_with_a_strict_policy(db: TestDb) {
    let api = api(&db).await;
    let c = http_client();
    let r = c.get(api.url("/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"));
    let page = r.text().await.unwrap();
    let mut assets = vec![];
    for part in page
        .split("src=\"")
        .skip(1)
        .chain(page.split("href=\"").skip(1))
    {
        let path = part.split('"').next().unwrap();
        if path.starts_with("/dashboard/") {
            assets.push(path.to_owned());
        }
    }
    assert_eq!(assets.len(), 6, "{assets:?}");
    assets.push("/dashboard/live.js".into());
    for a in assets {
        let r = c.get(api.url(&a)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{a}");
        let text = r
            .text()
            .await
            .unwrap()
            .replace("http://www.w3.org/2000/svg", "");
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{a} names another origin"
        );
        assert!(
            !text.contains("localStorage") && !text.contains("document.cookie"),
            "{a}"
        );
    }
    let (s, _) = get(&api, "/dashboard/nope.js").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// A deposed leader's pass keeps nothing: neither its judgment (the latest analysis, the
/// design's memory, a look) nor its guardrail readings, which `consecutive` counts. Only
/// the current leader's do.
async fn a_deposed_leaders_judgment_keeps_nothing(db: TestDb) {
    let store: Arc<dyn Store> = Arc::from(db.store().await);
    let old = store.new_epoch("daemon@old", t0()).await.unwrap();
    let new = store.new_epoch("daemon@new", t0()).await.unwrap();
    let stale = Writer {
        actor: "daemon@old".into(),
        epoch: Some(old),
    };
    let current = Writer {
        actor: "daemon@new".into(),
        epoch: Some(new),
    };
    // 120 of 200 planned units: a judgment takes look 1.
    let looks = plan(LOOKS);
    let gs = looks.rollout("gs").unwrap();
    engine::tick_all(&*store, &looks, &current, t0())
        .await
        .unwrap();
    let at = t0() + Duration::hours(1);
    observe_in(&*store, LOOKS, "gs", "a", 120, at).await;
    let err = engine::on_new_data(&*store, gs, &stale, at)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Fenced { .. }), "{err}");
    assert!(store.latest_analysis("gs").await.unwrap().is_none());
    assert_eq!(design_looks(&*store).await, 0);
    assert!(store
        .analysis_snapshots("gs", None, 10)
        .await
        .unwrap()
        .is_empty());
    // A tick's guardrail readings.
    let guarded = plan(YAML);
    engine::tick_all(&*store, &guarded, &current, t0())
        .await
        .unwrap();
    observe_in(&*store, YAML, "dash", "a", 10, at).await;
    let err = engine::tick_all(&*store, &guarded, &stale, at)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Fenced { .. }), "{err}");
    assert!(store.guardrail_status("dash").await.unwrap().is_empty());
    assert!(store
        .guardrail_points("dash", None, 10)
        .await
        .unwrap()
        .is_empty());
    // The leader's keep theirs.
    engine::on_new_data(&*store, gs, &current, at)
        .await
        .unwrap();
    assert_eq!(design_looks(&*store).await, 1);
    engine::tick_all(&*store, &guarded, &current, at)
        .await
        .unwrap();
    assert!(!store
        .guardrail_points("dash", None, 10)
        .await
        .unwrap()
        .is_empty());
}

on_both_stores!(
    guardrail_points_are_kept_per_tick_and_paged,
    a_deposed_leaders_judgment_keeps_nothing,
    one_snapshot_per_look_of_the_design,
    the_rollout_read_serves_the_latest_judgment,
    retention_thins_the_series_of_ended_stages,
    the_overview_pages_rollouts_with_their_latest_verdict,
    history_and_timeseries_pages,
    a_preview_shows_the_flag_diff_and_writes_nothing,
    stage_gauges_are_on_metrics,
    the_page_is_served_with_a_strict_policy,
);
