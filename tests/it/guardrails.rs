//! Guardrails against a real store, time as an input: absolute and relative breaches,
//! warnings that hold then clear, `consecutive`, `min_samples`, silence, configured
//! queries, safety checks, and the evaluation that new data triggers without a tick.

use chrono::{DateTime, Duration, Utc};
use rollout::assignment::Variant;
use rollout::config::Config;
use rollout::controller::{ManualAction, Status};
use rollout::engine::{self, Outcome};
use rollout::experiment::{Observation, StageEntry};
use rollout::store::{ReadingStatus, Store, Writer};

use crate::on_both_stores;
use crate::support::TestDb;
use crate::walk::{plan, t0};

fn config(extra: &str) -> Config {
    plan(&format!(
        "
rollouts:
  - name: gr
    flag_prefix: GR_
    seed: 7
    stages:
      - canary: {{ percentage: 5, duration: 1d }}
      - canary: {{ percentage: 25, duration: 1d }}
      - full: {{}}
{extra}"
    ))
}

fn writer() -> Writer {
    Writer::person("daemon@test")
}

/// `n` observations of `metric` for `variant`, all with `value`, observed and ingested at `at`.
async fn put(
    store: &dyn Store,
    variant: Variant,
    metric: &str,
    values: impl IntoIterator<Item = f64>,
    at: DateTime<Utc>,
) {
    let tag = at.timestamp_millis();
    // Placed in the stage entry in force, as every ingest path places them.
    let entry = store.state("gr").await.unwrap().map(|s| StageEntry {
        stage: s.stage_index,
        entered_at: s.stage_entered_at,
    });
    let rows: Vec<Observation> = values
        .into_iter()
        .enumerate()
        .map(|(i, value)| Observation {
            unit: format!("{variant:?}-{metric}-{tag}-{i}"),
            variant,
            metric: metric.into(),
            value,
            observed_at: at,
            event_id: None,
            entry,
        })
        .collect();
    store.ingest("gr", &rows, at).await.unwrap();
}

/// One pass at `at`; the action and reason of what it committed.
async fn tick(store: &dyn Store, c: &Config, at: DateTime<Utc>) -> Option<(String, String)> {
    let out = engine::tick_all(store, c, &writer(), at).await.unwrap();
    out.into_iter().find_map(|(_, o)| match o {
        Outcome::Applied(a) => Some((a.transition.action.to_string(), a.transition.reason)),
        _ => None,
    })
}

/// The rollout is rolled back with `why` in its reason: state, flags and the history row.
async fn assert_rolled_back(store: &dyn Store, why: &str) {
    let s = store.state("gr").await.unwrap().unwrap();
    assert_eq!(s.status(), Status::RolledBack);
    assert!(s.reason().unwrap_or("").contains(why), "{:?}", s.reason());
    let flags = store.rollout_flags("gr").await.unwrap();
    assert_eq!(flags["GR_MODE"], "rolled_back");
    assert_eq!(flags["GR_APPLY_PARAMETERS"], "false");
    assert_eq!(flags["GR_ROLLOUT_PERCENTAGE"], "0");
    assert_eq!(flags["GR_STATUS"], "rolled_back");
    let last = store.history("gr").await.unwrap().pop().unwrap();
    assert_eq!(last.action, "rollback");
    assert_eq!(last.to_status, "rolled_back");
    assert!(last.reason.contains(why), "{}", last.reason);
    assert_eq!(
        last.flags.get("GR_APPLY_PARAMETERS"),
        Some(&Some("false".into()))
    );
}

async fn status_of(store: &dyn Store) -> Status {
    store.state("gr").await.unwrap().unwrap().status()
}

const DRAWDOWN: &str = "    guardrails:
      - { name: drawdown, metric: return_pct, aggregate: mean, min: -2.0, window: 1h, min_samples: 20 }
";

async fn absolute_breach_rolls_back(db: TestDb) {
    let store = db.store().await;
    let c = config(DRAWDOWN);
    tick(&*store, &c, t0()).await;
    // Control losing money is not the new path's fault: only the treatment is judged.
    put(
        &*store,
        Variant::Control,
        "return_pct",
        vec![-9.0; 30],
        t0() + Duration::minutes(5),
    )
    .await;
    put(
        &*store,
        Variant::Treatment,
        "return_pct",
        vec![-1.0; 30],
        t0() + Duration::minutes(5),
    )
    .await;
    assert_eq!(tick(&*store, &c, t0() + Duration::minutes(10)).await, None);
    put(
        &*store,
        Variant::Treatment,
        "return_pct",
        vec![-6.0; 30],
        t0() + Duration::minutes(20),
    )
    .await;
    let (action, reason) = tick(&*store, &c, t0() + Duration::minutes(25))
        .await
        .unwrap();
    assert_eq!(action, "rollback", "{reason}");
    assert_rolled_back(&*store, "guardrail drawdown breached").await;
    let reading = &store.guardrail_status("gr").await.unwrap()[0];
    assert_eq!(reading.status, ReadingStatus::Breach);
    assert_eq!(reading.n, 60);
    assert_eq!(reading.value, Some(-3.5));
}

async fn min_samples_are_respected(db: TestDb) {
    let store = db.store().await;
    let c = config(DRAWDOWN);
    tick(&*store, &c, t0()).await;
    put(
        &*store,
        Variant::Treatment,
        "return_pct",
        vec![-50.0; 19],
        t0() + Duration::minutes(5),
    )
    .await;
    assert_eq!(tick(&*store, &c, t0() + Duration::minutes(10)).await, None);
    let reading = &store.guardrail_status("gr").await.unwrap()[0];
    assert_eq!(reading.status, ReadingStatus::InsufficientData);
    assert_eq!(status_of(&*store).await, Status::Running);
    put(
        &*store,
        Variant::Treatment,
        "return_pct",
        [-50.0],
        t0() + Duration::minutes(11),
    )
    .await;
    assert_eq!(
        tick(&*store, &c, t0() + Duration::minutes(12))
            .await
            .unwrap()
            .0,
        "rollback"
    );
    assert_rolled_back(&*store, "drawdown").await;
}

async fn relative_breach_rolls_back(db: TestDb) {
    let store = db.store().await;
    let c = config(
        "    guardrails:
      - name: error_rate
        metric: error
        aggregate: rate
        relative_to_control: { max_degradation: 0.5, worse_when: higher }
        min_samples: 50
",
    );
    tick(&*store, &c, t0()).await;
    let errors = |n: usize, bad: usize| (0..n).map(move |i| if i < bad { 1.0 } else { 0.0 });
    let at = t0() + Duration::minutes(5);
    put(&*store, Variant::Control, "error", errors(100, 10), at).await;
    // 14 % against 10 %: 40 % worse, inside the allowed 50 %.
    put(&*store, Variant::Treatment, "error", errors(100, 14), at).await;
    assert_eq!(tick(&*store, &c, at + Duration::minutes(1)).await, None);
    let reading = &store.guardrail_status("gr").await.unwrap()[0];
    assert_eq!(reading.status, ReadingStatus::Ok);
    assert_eq!(
        (reading.value, reading.control_value),
        (Some(0.14), Some(0.1))
    );
    // Another 100 treatment rows with 30 errors: 22 % against 10 %.
    put(
        &*store,
        Variant::Treatment,
        "error",
        errors(100, 30),
        at + Duration::minutes(2),
    )
    .await;
    assert_eq!(
        tick(&*store, &c, at + Duration::minutes(3))
            .await
            .unwrap()
            .0,
        "rollback"
    );
    assert_rolled_back(&*store, "guardrail error_rate breached").await;
}

async fn warning_holds_then_clears(db: TestDb) {
    let store = db.store().await;
    let c = config(
        "    guardrails:
      - { name: latency, metric: latency_ms, aggregate: p95, max: 100, window: 1h, severity: warning }
",
    );
    tick(&*store, &c, t0()).await;
    let slow: Vec<f64> = (1..=100)
        .map(|i| if i > 90 { 500.0 } else { 20.0 })
        .collect();
    put(
        &*store,
        Variant::Treatment,
        "latency_ms",
        slow,
        t0() + Duration::minutes(5),
    )
    .await;
    let (action, reason) = tick(&*store, &c, t0() + Duration::minutes(10))
        .await
        .unwrap();
    assert_eq!(action, "hold");
    assert!(
        reason.contains("guardrail latency breached: above max 100"),
        "{reason}"
    );
    let s = store.state("gr").await.unwrap().unwrap();
    assert_eq!((s.status(), s.stage_index), (Status::Blocked, 0));
    let flags = store.rollout_flags("gr").await.unwrap();
    assert_eq!(
        (
            flags["GR_STATUS"].as_str(),
            flags["GR_ROLLOUT_PERCENTAGE"].as_str(),
            flags["GR_APPLY_PARAMETERS"].as_str()
        ),
        ("blocked", "5", "true"),
        "a hold keeps the exposure"
    );
    // Still slow at the stage's end: held, not promoted.
    put(
        &*store,
        Variant::Treatment,
        "latency_ms",
        vec![500.0; 10],
        t0() + Duration::hours(24),
    )
    .await;
    assert_eq!(
        tick(
            &*store,
            &c,
            t0() + Duration::hours(24) + Duration::minutes(1)
        )
        .await,
        None
    );
    assert_eq!(status_of(&*store).await, Status::Blocked);
    // The slow data leaves the window and fast data arrives: the hold clears and, the
    // stage's time being up, the rollout moves on.
    put(
        &*store,
        Variant::Treatment,
        "latency_ms",
        vec![30.0; 50],
        t0() + Duration::hours(26),
    )
    .await;
    let (action, _) = tick(
        &*store,
        &c,
        t0() + Duration::hours(26) + Duration::minutes(1),
    )
    .await
    .unwrap();
    assert_eq!(action, "advance");
    let s = store.state("gr").await.unwrap().unwrap();
    assert_eq!((s.status(), s.stage_index), (Status::Running, 1));
    let actions: Vec<String> = store
        .history("gr")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["start", "hold", "advance"]);
}

async fn consecutive_three_does_not_fire_on_two(db: TestDb) {
    let store = db.store().await;
    let c = config(
        "    guardrails:
      - { name: drawdown, metric: return_pct, min: -2.0, consecutive: 3, window: 6h }
",
    );
    tick(&*store, &c, t0()).await;
    put(
        &*store,
        Variant::Treatment,
        "return_pct",
        vec![-5.0; 5],
        t0() + Duration::minutes(1),
    )
    .await;
    for minute in [2, 3] {
        assert_eq!(
            tick(&*store, &c, t0() + Duration::minutes(minute)).await,
            None
        );
    }
    let reading = &store.guardrail_status("gr").await.unwrap()[0];
    assert_eq!(
        (reading.status, reading.consecutive),
        (ReadingStatus::Breach, 2)
    );
    assert_eq!(status_of(&*store).await, Status::Running);
    // A good reading resets the count.
    put(
        &*store,
        Variant::Treatment,
        "return_pct",
        vec![10.0; 10],
        t0() + Duration::minutes(4),
    )
    .await;
    assert_eq!(tick(&*store, &c, t0() + Duration::minutes(5)).await, None);
    assert_eq!(
        store.guardrail_status("gr").await.unwrap()[0].consecutive,
        0
    );
    put(
        &*store,
        Variant::Treatment,
        "return_pct",
        vec![-20.0; 10],
        t0() + Duration::minutes(6),
    )
    .await;
    for minute in [7, 8] {
        assert_eq!(
            tick(&*store, &c, t0() + Duration::minutes(minute)).await,
            None
        );
    }
    assert_eq!(
        tick(&*store, &c, t0() + Duration::minutes(9))
            .await
            .unwrap()
            .0,
        "rollback"
    );
    assert_rolled_back(&*store, "breached 3 times in a row").await;
}

async fn stale_data_rolls_back(db: TestDb) {
    let store = db.store().await;
    let c = config("    max_silence: 30m\n");
    tick(&*store, &c, t0()).await;
    assert_eq!(
        tick(&*store, &c, t0() + Duration::minutes(29)).await,
        None,
        "the clock starts with the stage"
    );
    put(
        &*store,
        Variant::Treatment,
        "return_pct",
        [1.0],
        t0() + Duration::minutes(29),
    )
    .await;
    assert_eq!(tick(&*store, &c, t0() + Duration::minutes(55)).await, None);
    let (action, _) = tick(&*store, &c, t0() + Duration::minutes(61))
        .await
        .unwrap();
    assert_eq!(action, "rollback");
    assert_rolled_back(&*store, "no observations arrived").await;
}

async fn sql_guardrail_reads_bound_parameters(db: TestDb) {
    let store = db.store().await;
    let c = config(
        "    guardrails:
      - name: failed_orders
        sql: \"SELECT COUNT(*), COUNT(*) FROM observations WHERE rollout = $1 AND metric = 'failed' AND observed_at >= $2\"
        params: [rollout, window_start]
        max: 3
        window: 1h
",
    );
    tick(&*store, &c, t0()).await;
    // Old failures, outside the window.
    put(
        &*store,
        Variant::Treatment,
        "failed",
        vec![1.0; 5],
        t0() - Duration::hours(3),
    )
    .await;
    assert_eq!(tick(&*store, &c, t0() + Duration::minutes(1)).await, None);
    assert_eq!(
        store.guardrail_status("gr").await.unwrap()[0].value,
        Some(0.0)
    );
    put(
        &*store,
        Variant::Treatment,
        "failed",
        vec![1.0; 4],
        t0() + Duration::minutes(2),
    )
    .await;
    assert_eq!(
        tick(&*store, &c, t0() + Duration::minutes(3))
            .await
            .unwrap()
            .0,
        "rollback"
    );
    assert_rolled_back(&*store, "failed_orders").await;
}

async fn a_broken_query_holds_and_cannot_write(db: TestDb) {
    let store = db.store().await;
    let c = config(
        "    guardrails:
      - { name: vandal, sql: \"DELETE FROM rollout_flags RETURNING 1\", max: 1 }
      - { name: sneaky, sql: \"SELECT 1; PRAGMA query_only = OFF; DELETE FROM rollout_flags\", max: 1 }
",
    );
    tick(&*store, &c, t0()).await;
    let before = store.flags().await.unwrap();
    let (action, reason) = tick(&*store, &c, t0() + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(action, "hold");
    assert!(
        reason.contains("guardrail vandal cannot be evaluated"),
        "{reason}"
    );
    let after = store.flags().await.unwrap();
    assert_eq!(
        before.flags.len(),
        after.flags.len(),
        "the query ran read-only"
    );
    let readings = store.guardrail_status("gr").await.unwrap();
    assert!(
        readings.iter().all(|r| r.status == ReadingStatus::Error),
        "{readings:?}"
    );
}

async fn failing_safety_check_blocks_the_next_stage(db: TestDb) {
    let store = db.store().await;
    let c = config(
        "    safety_checks:
      - name: data_integrity
        sql: \"SELECT COUNT(*) >= 3 FROM observations WHERE rollout = $1\"
        params: [rollout]
",
    );
    // Nothing is exposed while a pending rollout's checks fail.
    assert_eq!(tick(&*store, &c, t0()).await, None);
    assert!(store.state("gr").await.unwrap().is_none());
    put(
        &*store,
        Variant::Treatment,
        "return_pct",
        vec![1.0; 3],
        t0(),
    )
    .await;
    assert_eq!(
        tick(&*store, &c, t0() + Duration::minutes(1))
            .await
            .unwrap()
            .0,
        "start"
    );
    // Before the next stage, the check fails again (the rows are gone).
    crate::walk::sqlx_exec(&db, "DELETE FROM observations").await;
    let (action, reason) = tick(&*store, &c, t0() + Duration::days(2)).await.unwrap();
    assert_eq!(action, "hold");
    assert!(
        reason.starts_with("safety check data_integrity failed"),
        "{reason}"
    );
    let s = store.state("gr").await.unwrap().unwrap();
    assert_eq!((s.status(), s.stage_index), (Status::Blocked, 0));
    // Retried every tick: once it passes, the rollout enters the next stage.
    put(
        &*store,
        Variant::Treatment,
        "return_pct",
        vec![1.0; 3],
        t0() + Duration::days(2),
    )
    .await;
    assert_eq!(
        tick(&*store, &c, t0() + Duration::days(2) + Duration::minutes(1))
            .await
            .unwrap()
            .0,
        "advance"
    );
    assert_eq!(store.state("gr").await.unwrap().unwrap().stage_index, 1);
}

async fn paused_rollout_still_rolls_back(db: TestDb) {
    let store = db.store().await;
    let c = config(DRAWDOWN);
    tick(&*store, &c, t0()).await;
    engine::act(
        &*store,
        &c.rollouts[0],
        ManualAction::Pause,
        "looking",
        &writer(),
        || t0() + Duration::minutes(1),
    )
    .await
    .unwrap();
    put(
        &*store,
        Variant::Treatment,
        "return_pct",
        vec![-9.0; 30],
        t0() + Duration::minutes(2),
    )
    .await;
    assert_eq!(
        tick(&*store, &c, t0() + Duration::minutes(3))
            .await
            .unwrap()
            .0,
        "rollback"
    );
    assert_rolled_back(&*store, "drawdown").await;
}

async fn new_data_is_judged_without_a_tick(db: TestDb) {
    let store = db.store().await;
    let c = config(DRAWDOWN);
    tick(&*store, &c, t0()).await;
    let r = &c.rollouts[0];
    put(
        &*store,
        Variant::Treatment,
        "return_pct",
        vec![1.0; 30],
        t0() + Duration::minutes(1),
    )
    .await;
    assert!(matches!(
        engine::on_new_data(&*store, r, &writer(), t0() + Duration::minutes(1))
            .await
            .unwrap(),
        Outcome::Unchanged { .. }
    ));
    put(
        &*store,
        Variant::Treatment,
        "return_pct",
        vec![-30.0; 30],
        t0() + Duration::minutes(2),
    )
    .await;
    let out = engine::on_new_data(&*store, r, &writer(), t0() + Duration::minutes(2))
        .await
        .unwrap();
    assert!(matches!(out, Outcome::Applied(_)), "{out:?}");
    assert_rolled_back(&*store, "drawdown").await;
}

async fn a_count_floor_fires_when_traffic_stops(db: TestDb) {
    let store = db.store().await;
    let c = config(
        "    guardrails:
      - { name: throughput, metric: fills, aggregate: count, min: 10, window: 1h }
",
    );
    tick(&*store, &c, t0()).await;
    put(
        &*store,
        Variant::Treatment,
        "fills",
        vec![1.0; 12],
        t0() + Duration::minutes(1),
    )
    .await;
    assert_eq!(tick(&*store, &c, t0() + Duration::minutes(30)).await, None);
    // An hour later nothing new has come: zero fills in the window is a breach, not "no data".
    let (action, _) = tick(&*store, &c, t0() + Duration::minutes(90))
        .await
        .unwrap();
    assert_eq!(action, "rollback");
    assert_rolled_back(&*store, "guardrail throughput breached: 0 < min 10").await;
}

async fn a_restart_is_not_judged_on_the_data_that_rolled_it_back(db: TestDb) {
    let store = db.store().await;
    let c = config(
        "    guardrails:
      - { name: drawdown, metric: return_pct, min: -2.0, window: 6h, consecutive: 2 }
",
    );
    tick(&*store, &c, t0()).await;
    put(
        &*store,
        Variant::Treatment,
        "return_pct",
        vec![-9.0; 10],
        t0() + Duration::minutes(1),
    )
    .await;
    tick(&*store, &c, t0() + Duration::minutes(2)).await;
    assert_eq!(
        tick(&*store, &c, t0() + Duration::minutes(3))
            .await
            .unwrap()
            .0,
        "rollback"
    );
    let r = &c.rollouts[0];
    engine::act(
        &*store,
        r,
        ManualAction::Restart,
        "fixed",
        &writer(),
        || t0() + Duration::minutes(10),
    )
    .await
    .unwrap();
    // The bad rows are still inside the 6 h window, but they belong to the run that was
    // rolled back; the count of breaches starts again too.
    assert_eq!(tick(&*store, &c, t0() + Duration::minutes(11)).await, None);
    put(
        &*store,
        Variant::Treatment,
        "return_pct",
        vec![-9.0; 10],
        t0() + Duration::minutes(12),
    )
    .await;
    assert_eq!(
        tick(&*store, &c, t0() + Duration::minutes(13)).await,
        None,
        "one breach of two"
    );
    assert_eq!(status_of(&*store).await, Status::Running);
    assert_eq!(
        tick(&*store, &c, t0() + Duration::minutes(14))
            .await
            .unwrap()
            .0,
        "rollback"
    );
}

async fn a_warning_hold_is_written_once(db: TestDb) {
    let store = db.store().await;
    let c = config(
        "    guardrails:
      - { name: latency, metric: latency_ms, aggregate: mean, max: 100, consecutive: 2, severity: warning }
",
    );
    tick(&*store, &c, t0()).await;
    for minute in 1..=6 {
        // A different breaching value every time.
        let value = 200.0 + minute as f64 * 50.0;
        put(
            &*store,
            Variant::Treatment,
            "latency_ms",
            [value],
            t0() + Duration::minutes(minute),
        )
        .await;
        tick(&*store, &c, t0() + Duration::minutes(minute)).await;
    }
    let actions: Vec<String> = store
        .history("gr")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["start", "hold"]);
}

async fn judging_new_data_does_not_count_breaches(db: TestDb) {
    let store = db.store().await;
    let c = config(
        "    guardrails:
      - { name: drawdown, metric: return_pct, min: -2.0, consecutive: 2 }
",
    );
    tick(&*store, &c, t0()).await;
    let r = &c.rollouts[0];
    for minute in 1..=5 {
        put(
            &*store,
            Variant::Treatment,
            "return_pct",
            [-9.0],
            t0() + Duration::minutes(minute),
        )
        .await;
        engine::on_new_data(&*store, r, &writer(), t0() + Duration::minutes(minute))
            .await
            .unwrap();
    }
    assert_eq!(
        status_of(&*store).await,
        Status::Running,
        "consecutive counts ticks, not ingests"
    );
    assert!(tick(&*store, &c, t0() + Duration::minutes(6))
        .await
        .is_none());
    assert_eq!(
        tick(&*store, &c, t0() + Duration::minutes(7))
            .await
            .unwrap()
            .0,
        "rollback"
    );
}

on_both_stores!(
    absolute_breach_rolls_back,
    min_samples_are_respected,
    relative_breach_rolls_back,
    warning_holds_then_clears,
    consecutive_three_does_not_fire_on_two,
    stale_data_rolls_back,
    sql_guardrail_reads_bound_parameters,
    a_broken_query_holds_and_cannot_write,
    failing_safety_check_blocks_the_next_stage,
    paused_rollout_still_rolls_back,
    new_data_is_judged_without_a_tick,
    a_count_floor_fires_when_traffic_stops,
    a_restart_is_not_judged_on_the_data_that_rolled_it_back,
    a_warning_hold_is_written_once,
    judging_new_data_does_not_count_breaches,
);

/// An HTTP endpoint for safety checks: `/ok` answers 200, `/down` 503, `/slow` never in time.
async fn endpoint() -> std::net::SocketAddr {
    use axum::http::StatusCode;
    use axum::routing::get;
    let app = axum::Router::new()
        .route("/ok", get(|| async { StatusCode::OK }))
        .route("/down", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route(
            "/slow",
            get(|| async {
                // Longer than the check's budget: the check must give up, not wait.
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                StatusCode::OK
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_safety_checks_need_a_2xx_within_the_budget() {
    let addr = endpoint().await;
    let c = config(&format!(
        "    safety_checks:
      - {{ name: ok, http: {{ url: 'http://{addr}/ok', budget_ms: 2000 }} }}
      - {{ name: down, http: {{ url: 'http://{addr}/down', budget_ms: 2000 }} }}
      - {{ name: slow, http: {{ url: 'http://{addr}/slow', budget_ms: 200 }} }}
      - {{ name: nobody, http: {{ url: 'http://127.0.0.1:9/', budget_ms: 2000 }} }}
"
    ));
    let db = TestDb::sqlite();
    let store = db.store().await;
    let results = rollout::guardrails::run_checks(
        &*store,
        rollout::guardrails::http_client(),
        &c.rollouts[0],
        t0(),
    )
    .await
    .unwrap();
    let verdicts: Vec<(&str, bool)> = results
        .iter()
        .map(|r| (r.name.as_str(), r.passed))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("ok", true),
            ("down", false),
            ("slow", false),
            ("nobody", false)
        ]
    );
    assert!(results[1].output.contains("503"), "{}", results[1].output);
    assert!(
        results[2].output.contains("no answer within 200 ms"),
        "{}",
        results[2].output
    );
    assert_eq!(
        rollout::guardrails::first_failure(&results).as_deref(),
        Some(format!("safety check down failed: {}", results[1].output).as_str())
    );
}
