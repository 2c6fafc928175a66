//! The learning endpoints of the trading team's plan: collection (one record or an array,
//! all or nothing, the same rules as `rollout learning ingest`) and intelligence (the
//! weights to apply now, the current analysis).

use std::sync::Arc;

use reqwest::StatusCode;
use rollout::daemon::Role;
use serde_json::{json, Value};

use crate::http::{http_client, Api};
use crate::on_both_stores;
use crate::support::TestDb;

const LEARNING: &str = "
rollouts:
  - name: learner
    flag_prefix: LEARN_
    seed: 3
    stages:
      - shadow: { duration: 1h }
      - canary: { percentage: 5, duration: 1h }
      - full: {}
    analysis: {}
";

fn discovery(symbol: &str) -> Value {
    json!({
        "symbol": symbol,
        "discovery_timestamp": "2026-01-05T14:30:00Z",
        "discovery_features": {"volume_momentum": 0.8, "squeeze": 0.6},
        "discovery_score": 0.7,
        "action_tag": "trade_ready",
        "market_conditions": {"regime": "high_volatility"},
        "universe_size": 5200
    })
}

pub async fn post(api: &Api, path: &str, body: String) -> (StatusCode, Value) {
    let resp = http_client()
        .post(api.url(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn collection_is_all_or_nothing(db: TestDb) {
    let api = Api::launch(&db, None, LEARNING, Arc::new(Role::default()), |r| r).await;
    let path = "/learning/collect/discovery-data";
    let (status, body) = post(&api, path, discovery("AMC").to_string()).await;
    assert_eq!(
        (status, body["inserted"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{body}"
    );
    let (_, again) = post(&api, path, discovery("AMC").to_string()).await;
    assert_eq!(
        again["duplicates"], 1,
        "re-delivery is counted, not stored twice"
    );

    let mut bad = discovery("GME");
    bad["discovery_score"] = json!("high");
    let batch = json!([discovery("BB"), bad]).to_string();
    let (status, body) = post(&api, path, batch).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["rows"][0]["row"], 1, "{body}");
    let (_, bb) = post(&api, path, discovery("BB").to_string()).await;
    assert_eq!(bb["inserted"], 1, "the batch stored nothing: {bb}");

    let (status, _) = post(&api, path, "{not json".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let mut unknown = discovery("X");
    unknown["colour"] = json!("red");
    let (status, body) = post(&api, path, unknown.to_string()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `colour`"),
        "{body}"
    );

    // A time without an offset (Python's `datetime.utcnow().isoformat()`) names its field
    // and the form, alone or in an array.
    let naive = json!({"symbol": "AMC", "entry_timestamp": "2026-01-06T14:31:00Z",
        "exit_timestamp": "2026-01-09T20:00:00.123456", "entry_price": 5.1});
    let (status, body) = post(&api, "/learning/collect/trade-outcome", naive.to_string()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"].as_str().unwrap();
    assert!(
        message.starts_with("exit_timestamp: ") && message.contains("2026-01-02T03:04:05Z"),
        "{body}"
    );
    let mut late = discovery("BB");
    late["discovery_timestamp"] = json!("2026-01-05T14:30:00");
    let (status, body) = post(&api, path, json!([discovery("BB"), late]).to_string()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["rows"][0]["row"], 1, "{body}");
    assert!(
        body["rows"][0]["error"]
            .as_str()
            .unwrap()
            .starts_with("discovery_timestamp: "),
        "{body}"
    );

    let thesis = json!({"symbol": "AMC", "thesis_timestamp": "2026-01-05T14:35:00Z",
        "recommendation": "buy", "confidence_score": 0.8});
    let (status, body) = post(
        &api,
        "/learning/collect/thesis-decision",
        thesis.to_string(),
    )
    .await;
    assert_eq!(
        (status, body["inserted"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{body}"
    );
    let outcome = json!({"symbol": "AMC", "entry_timestamp": "2026-01-06T14:31:00Z",
        "exit_timestamp": "2026-01-09T20:00:00Z", "entry_price": 5.1, "exit_price": 5.61,
        "return_pct": 10.0});
    let (status, body) = post(&api, "/learning/collect/trade-outcome", outcome.to_string()).await;
    assert_eq!(
        (status, body["inserted"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{body}"
    );
}

async fn intelligence_serves_what_the_stage_allows(db: TestDb) {
    let api = Api::launch(&db, None, LEARNING, Arc::new(Role::default()), |r| r).await;
    api.start_rollout().await;
    let get = |path: &'static str| {
        let url = api.url(path);
        async move {
            let resp = http_client().get(url).send().await.unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = get("/learning/intelligence/discovery-parameters").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rollout"], "learner");
    assert_eq!(
        body["learned"], false,
        "shadow applies the conservative weights"
    );
    assert_eq!(body["optimized_weights"]["volume_momentum"], 0.25);
    assert_eq!(body["optimized_weights"]["squeeze"], 0.2);
    let (status, _) = get("/learning/intelligence/discovery-parameters?rollout=nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// `market-insights` serves the latest stored analysis run, never one computed for the
/// request: before the first run it says so (404), and rows collected after a run change
/// nothing until the next run.
async fn insights_are_the_latest_stored_run(db: TestDb) {
    let api = Api::launch(&db, None, LEARNING, Arc::new(Role::default()), |r| r).await;
    api.start_rollout().await;
    let get = || {
        let url = api.url("/learning/intelligence/market-insights");
        async move {
            let resp = http_client().get(url).send().await.unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = get().await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("no analysis of rollout \"learner\" has run yet")
            && error.contains("analysis.schedule"),
        "{error}"
    );

    let run = || async {
        let r = api.config.rollouts[0].clone();
        rollout::learning::run(
            &*api.store,
            &r,
            &rollout::store::Writer::person("t@it"),
            chrono::Utc::now(),
        )
        .await
        .unwrap()
    };
    let first = run().await;
    let (status, body) = get().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["pairs"], 0);
    assert_eq!(body["weights"]["fallback"], true, "{body}");
    assert_eq!(body["counts"]["discoveries"], 0, "{body}");
    assert_eq!(
        body,
        serde_json::to_value(&first.report).unwrap(),
        "the run's report, as computed"
    );

    // A discovery inside the analysis window: the answer does not move until the next run.
    let mut recent = discovery("GME");
    recent["discovery_timestamp"] = json!(chrono::Utc::now().to_rfc3339());
    let (status, _) = post(&api, "/learning/collect/discovery-data", recent.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    let (_, unchanged) = get().await;
    assert_eq!(unchanged, body, "nothing is computed per request");
    run().await;
    let (_, next) = get().await;
    assert_eq!(next["counts"]["discoveries"], 1, "{next}");
}

on_both_stores!(
    collection_is_all_or_nothing,
    intelligence_serves_what_the_stage_allows,
    insights_are_the_latest_stored_run
);
