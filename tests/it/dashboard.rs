//! The dashboard's data on both stores and over HTTP: guardrail points (one per tick) and
//! analysis looks (the snapshot rule), the paginated history and time series, the dry run
//! of an action, the stage gauges, and the page itself with its strict policy.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use rollout::config::Config;
use rollout::controller::ManualAction;
use rollout::daemon::Role;
use rollout::engine;
use rollout::experiment::{place_rows, ObservationInput};
use rollout::store::{Store, Writer};
use rollout::{Clock, Service};
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

/// A clock the test moves.
struct Stepped(Mutex<DateTime<Utc>>);

impl Clock for Stepped {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn service(store: Arc<dyn Store>, config: &Config, clock: Arc<Stepped>) -> Service {
    Service::new(
        store,
        Arc::new(ArcSwap::from_pointee(config.clone())),
        clock,
    )
}

/// `n` observations of `pnl` at `at`, placed by the rule as ingest places them.
async fn observe(store: &dyn Store, tag: &str, n: usize, at: DateTime<Utc>) {
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
    let config = plan(YAML);
    let placed = place_rows(store, config.rollout("dash").unwrap(), "test", rows, at)
        .await
        .unwrap();
    store.ingest("dash", &placed, at).await.unwrap();
}

fn writer() -> Writer {
    Writer::person("t@it")
}

async fn guardrail_points_are_kept_per_tick_and_paged(db: TestDb) {
    let store: Arc<dyn Store> = Arc::from(db.store().await);
    let config = plan(YAML);
    for i in 0..3 {
        let at = t0() + Duration::minutes(i);
        if i == 1 {
            observe(&*store, "a", 10, at).await;
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

async fn looks_follow_the_snapshot_rule(db: TestDb) {
    let store: Arc<dyn Store> = Arc::from(db.store().await);
    let config = plan(YAML);
    let clock = Arc::new(Stepped(Mutex::new(t0())));
    let svc = service(store.clone(), &config, clock.clone());
    assert_eq!(
        svc.record_looks(Duration::hours(1)).await.unwrap(),
        0,
        "pending: not judged"
    );
    engine::tick_all(&*store, &config, &writer(), t0())
        .await
        .unwrap();
    assert_eq!(
        svc.record_looks(Duration::hours(1)).await.unwrap(),
        1,
        "the first look"
    );
    assert_eq!(
        svc.record_looks(Duration::hours(1)).await.unwrap(),
        0,
        "nothing new"
    );
    observe(&*store, "b", 10, t0()).await;
    *clock.0.lock().unwrap() = t0() + Duration::minutes(10);
    let soon = svc.record_looks(Duration::hours(1)).await.unwrap();
    let looks = store.analysis_snapshots("dash", None, 10).await.unwrap();
    // New data within the hour is a look only if it changed the verdict.
    assert_eq!(soon == 1, looks[0].verdict != looks.last().unwrap().verdict);
    *clock.0.lock().unwrap() = t0() + Duration::hours(2);
    observe(&*store, "c", 10, t0()).await;
    assert_eq!(
        svc.record_looks(Duration::hours(1)).await.unwrap(),
        1,
        "new data, old look"
    );
    let looks = store.analysis_snapshots("dash", None, 10).await.unwrap();
    assert_eq!(looks.len(), 2 + soon);
    let newest = &looks[0];
    assert_eq!(newest.taken_at, t0() + Duration::hours(2));
    assert_eq!(newest.analysis["rollout"], "dash");
    assert_eq!(newest.analysis["metrics"][0]["metric"], "pnl");
    assert_eq!(
        newest.analysis["verdict"].as_str(),
        Some(newest.verdict.as_str())
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
    assert_eq!(assets.len(), 5, "{assets:?}");
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

on_both_stores!(
    guardrail_points_are_kept_per_tick_and_paged,
    looks_follow_the_snapshot_rule,
    history_and_timeseries_pages,
    a_preview_shows_the_flag_diff_and_writes_nothing,
    stage_gauges_are_on_metrics,
    the_page_is_served_with_a_strict_policy,
);
