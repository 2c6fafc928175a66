//! Judgments of new observations happen after their commit, never before the answer: an
//! HTTP ingest is answered and then judged (shown with a judgment held up at a gate); a CLI
//! ingest leaves the judgment to a daemon that leads (which notices the rows: `NOTIFY` on
//! PostgreSQL, its poll on SQLite) and judges itself otherwise; a failed judgment never
//! fails the ingest, and a commit nobody judged is caught by the next tick.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::Utc;
use reqwest::StatusCode;
use rollout::controller::Status;
use rollout::daemon::Role;
use rollout::store::{Store, Writer};
use rollout::{engine, Judge, Judgments, Service, SystemClock};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::http::{http_client, Api};
use crate::on_both_stores;
use crate::support::{eventually, run, stderr, stdout, Daemon, TestDb};
use crate::walk::plan;

const ROLLOUT: &str = "
rollouts:
  - name: gr
    flag_prefix: GR_
    seed: 3
    stages:
      - canary: { percentage: 5, duration: 1d }
      - full: {}
    guardrails:
      - { name: drawdown, metric: return_pct, aggregate: mean, min: -2.0, window: 1h, min_samples: 20 }
";

/// Long enough for a loaded CI machine; a passing run takes well under a second.
const SOON: Duration = Duration::from_secs(20);

/// 30 treatment units of the 5 % canary (seed 3), each with a drawdown far below -2 %.
fn breach() -> Vec<String> {
    (0..)
        .map(|i| format!("u{i}"))
        .filter(|u| rollout::assignment::in_rollout(3, u, 5.0))
        .take(30)
        .collect()
}

fn breach_json() -> Value {
    let rows: Vec<Value> = breach()
        .into_iter()
        .map(|u| json!({"unit": u, "variant": "treatment", "metric": "return_pct", "value": -10.0}))
        .collect();
    json!({"rollout": "gr", "observations": rows})
}

fn breach_csv() -> String {
    let mut csv = String::from("unit,variant,metric,value\n");
    for u in breach() {
        csv.push_str(&format!("{u},treatment,return_pct,-10.0\n"));
    }
    csv
}

async fn status(store: &dyn Store) -> Option<Status> {
    store.state("gr").await.unwrap().map(|s| s.status())
}

async fn rolled_back(store: &dyn Store) -> Option<()> {
    (status(store).await == Some(Status::RolledBack)).then_some(())
}

/// A process that leads with a fresh epoch, and its writer.
async fn leading(store: &dyn Store) -> (Arc<Role>, Writer) {
    let epoch = store.new_epoch("daemon@test", Utc::now()).await.unwrap();
    let role = Arc::new(Role::default());
    role.set(Some(epoch));
    let w = Writer {
        actor: "daemon@test".into(),
        epoch: Some(epoch),
    };
    (role, w)
}

fn service(store: Arc<dyn Store>) -> Service {
    Service::new(
        store,
        Arc::new(ArcSwap::from_pointee(plan(ROLLOUT))),
        Arc::new(SystemClock),
    )
}

/// The HTTP answer does not wait for the judgment: with the leader's judgment held at a
/// gate, the ingest is answered (the rollout still running, the judgment waiting); opening
/// the gate lets it roll back.
async fn the_http_answer_does_not_wait_for_the_judgment(db: TestDb) {
    let store: Arc<dyn Store> = Arc::from(db.store().await);
    let (role, w) = leading(&*store).await;
    let judge = rollout::judge::leader_judge(
        service(store.clone()),
        role.clone(),
        "daemon@test".into(),
        || {},
    );
    let judge = Arc::new(judge);
    let gate = Arc::new(Semaphore::new(0));
    let g = gate.clone();
    let judgments = Judgments::new(move |rollout| {
        let (judge, g) = (judge.clone(), g.clone());
        Box::pin(async move {
            g.acquire().await.expect("gate").forget();
            judge(rollout).await;
        })
    });
    let api = Api::launch_judged(
        &db,
        None,
        None,
        ROLLOUT,
        role,
        Some(judgments.clone()),
        |r| r,
    )
    .await;
    engine::tick_all(&*store, &api.config, &w, Utc::now())
        .await
        .unwrap();
    let resp = http_client()
        .post(api.url("/v1/observations"))
        .json(&breach_json())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        (body["inserted"].as_u64(), body["judgment"].as_str()),
        (Some(30), Some("scheduled")),
        "{body}"
    );
    // Answered, while the judgment is still held at the gate.
    assert_eq!(judgments.running(), 1, "the judgment waits at the gate");
    assert_eq!(status(&*store).await, Some(Status::Running));
    gate.add_permits(1);
    eventually(SOON, "the rollback", || rolled_back(&*store)).await;
    eventually(SOON, "the judgment to end", || {
        let idle = judgments.running() == 0;
        async move { idle.then_some(()) }
    })
    .await;
    let last = store.history("gr").await.unwrap().pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor.as_str()),
        ("rollback", "daemon@test")
    );
}

/// A judgment that fails (this process was fenced: another took the lead since) does not
/// fail the ingest: the rows are stored and acknowledged; the leader's next tick rolls back.
async fn a_failed_judgment_does_not_fail_the_ingest(db: TestDb) {
    let store: Arc<dyn Store> = Arc::from(db.store().await);
    let (role, _) = leading(&*store).await;
    let judgments = rollout::judge::leader(
        service(store.clone()),
        role.clone(),
        "daemon@old".into(),
        || {},
    );
    let api = Api::launch_judged(
        &db,
        None,
        None,
        ROLLOUT,
        role,
        Some(judgments.clone()),
        |r| r,
    )
    .await;
    // Another process leads now: this one's writes are fenced.
    let (_, new_leader) = leading(&*store).await;
    engine::tick_all(&*store, &api.config, &new_leader, Utc::now())
        .await
        .unwrap();
    let resp = http_client()
        .post(api.url("/v1/observations"))
        .json(&breach_json())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["inserted"], 30, "{body}");
    eventually(SOON, "the judgment to end", || {
        let idle = judgments.running() == 0;
        async move { idle.then_some(()) }
    })
    .await;
    assert_eq!(status(&*store).await, Some(Status::Running), "fenced");
    let out = engine::tick_all(&*store, &api.config, &new_leader, Utc::now())
        .await
        .unwrap();
    assert!(matches!(out[0].1, engine::Outcome::Applied(_)), "{out:?}");
    assert_eq!(status(&*store).await, Some(Status::RolledBack));
}

/// A crash between the commit and its judgment: the rows are committed and nobody judged
/// them; the next tick rolls back.
async fn a_commit_nobody_judged_is_caught_by_the_next_tick(db: TestDb) {
    let store: Arc<dyn Store> = Arc::from(db.store().await);
    let service = service(store.clone());
    let w = Writer::person("t@it");
    service.tick(&w).await.unwrap();
    let rows =
        rollout::experiment::parse_csv("breach.csv", breach_csv().as_bytes(), Utc::now()).unwrap();
    let out = service
        .ingest_observations("gr", "breach.csv", rows, Judge::Nobody)
        .await
        .unwrap();
    assert_eq!(out.report.inserted, 30);
    assert!(out.rolled_back.is_none());
    assert_eq!(status(&*store).await, Some(Status::Running));
    service.tick(&w).await.unwrap();
    assert_eq!(status(&*store).await, Some(Status::RolledBack));
}

/// `rollout ingest` while a daemon leads: the CLI stores the rows, says the daemon judges
/// them, and the daemon rolls back soon after (it noticed the rows: `NOTIFY` on
/// PostgreSQL, its poll of new observations on SQLite; its ticks are hourly).
async fn cli_ingest_while_a_daemon_leads_is_judged_by_the_daemon(db: TestDb) {
    let cfg = db.config(&format!("tick: '0 0 * * * *'\n{ROLLOUT}"));
    let store = db.store().await;
    let _daemon = Daemon::start(&cfg, db.dir.path().join("daemon.log"));
    eventually(SOON, "the daemon to lead and start the rollout", || async {
        let leads = store.leader().await.ok()?.daemon_at(Utc::now()).is_some();
        (leads && status(&*store).await == Some(Status::Running)).then_some(())
    })
    .await;
    let csv = db.dir.path().join("breach.csv");
    std::fs::write(&csv, breach_csv()).unwrap();
    let out = run(&cfg, &["ingest", "gr", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("gr: ingested 30 observation(s)"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("ROLLED BACK"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("leads; it judges the new observations"),
        "{}",
        stderr(&out)
    );
    eventually(SOON, "the daemon's rollback", || rolled_back(&*store)).await;
    let last = store.history("gr").await.unwrap().pop().unwrap();
    assert_eq!(last.action.as_str(), "rollback");
    assert!(last.actor.starts_with("daemon@"), "{}", last.actor);
}

/// `rollout ingest` with no daemon (the last one's lease expired): the CLI judges after its
/// commit and rolls back itself.
async fn cli_ingest_without_a_daemon_rolls_back_itself(db: TestDb) {
    let cfg = db.config(ROLLOUT);
    let store = db.store().await;
    let out = run(&cfg, &["tick"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A daemon that led once and is gone: its lease ran out an hour ago.
    let an_hour_ago = Utc::now() - chrono::Duration::hours(1);
    store
        .claim_lease("daemon@gone:1", an_hour_ago, Duration::from_secs(1), true)
        .await
        .unwrap();
    let csv = db.dir.path().join("breach.csv");
    std::fs::write(&csv, breach_csv()).unwrap();
    let out = run(&cfg, &["ingest", "gr", csv.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)));
    assert_eq!(v["inserted"], 30, "{v}");
    assert!(
        v["rolled_back"]
            .as_str()
            .unwrap_or_default()
            .contains("drawdown"),
        "{v}"
    );
    assert!(v.get("left_to").is_none(), "{v}");
    assert!(
        !stderr(&out).contains("judges the new observations"),
        "{}",
        stderr(&out)
    );
    assert_eq!(status(&*store).await, Some(Status::RolledBack));
}

on_both_stores!(
    the_http_answer_does_not_wait_for_the_judgment,
    a_failed_judgment_does_not_fail_the_ingest,
    a_commit_nobody_judged_is_caught_by_the_next_tick,
    cli_ingest_while_a_daemon_leads_is_judged_by_the_daemon,
    cli_ingest_without_a_daemon_rolls_back_itself,
);

/// The leader's poll: which rollouts got observations above the last id seen.
async fn arrivals_name_the_rollouts_with_new_rows(db: TestDb) {
    let store = db.store().await;
    let start = store.arrivals(None).await.unwrap();
    assert_eq!(start, rollout::store::Arrivals::default(), "empty store");
    let row = |unit: &str| rollout::experiment::Observation {
        unit: unit.into(),
        variant: rollout::assignment::Variant::Control,
        metric: "m".into(),
        value: 1.0,
        observed_at: Utc::now(),
        event_id: None,
        entry: None,
    };
    store
        .ingest("a", &[row("u1"), row("u2")], Utc::now())
        .await
        .unwrap();
    store.ingest("b", &[row("u3")], Utc::now()).await.unwrap();
    let seen = store.arrivals(Some(start.last_id)).await.unwrap();
    assert_eq!(seen.rollouts, ["a", "b"]);
    assert!(seen.last_id >= 3, "{seen:?}");
    let none = store.arrivals(Some(seen.last_id)).await.unwrap();
    assert_eq!((none.last_id, none.rollouts.len()), (seen.last_id, 0));
    store.ingest("b", &[row("u4")], Utc::now()).await.unwrap();
    let next = store.arrivals(Some(seen.last_id)).await.unwrap();
    assert_eq!(next.rollouts, ["b"]);
    assert_eq!(store.arrivals(None).await.unwrap().last_id, next.last_id);
}

on_both_stores!(arrivals_name_the_rollouts_with_new_rows);
