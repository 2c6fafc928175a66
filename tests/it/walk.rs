//! The stage machine against a real store, with time as an input: every stage's flags and
//! history rows, a daemon that was down for weeks, holds, and rollbacks that stick.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rollout::config::{self, Config};
use rollout::controller::{ManualAction, Status};
use rollout::engine::{self, Outcome};
use rollout::store::{Store, Writer};

use crate::on_both_stores;
use crate::support::TestDb;

const PLAN: &str = "
rollouts:
  - name: learning-intelligence
    flag_prefix: LEARNING_
    seed: 42
    stages:
      - shadow: { duration: 7d }
      - ab_test: { percentage: 10, duration: 14d, on_inconclusive: promote }
      - canary: { percentage: 5, duration: 24h, flags: { LEARNING_MAX_POSITION_PCT: '0.5' } }
      - canary: { percentage: 25, duration: 48h }
      - canary: { percentage: 50, duration: 72h }
      - full: {}
    on_rollback: { LEARNING_DATA_COLLECTION: 'false' }
";

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap()
}

pub fn plan(yaml: &str) -> Config {
    config::parse("test.yaml", yaml)
        .expect("valid test config")
        .config
}

async fn daemon_writer(store: &dyn Store) -> Writer {
    let epoch = store.new_epoch("daemon@test", t0()).await.unwrap();
    Writer {
        actor: "daemon@test".into(),
        epoch: Some(epoch),
    }
}

async fn tick(store: &dyn Store, c: &Config, w: &Writer, at: DateTime<Utc>) -> Vec<String> {
    engine::tick_all(store, c, w, at)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|(_, o)| match o {
            Outcome::Applied(a) => Some(a.transition.action.to_string()),
            _ => None,
        })
        .collect()
}

/// `(MODE, STATUS, DATA_COLLECTION, APPLY_PARAMETERS, AB_TEST_ENABLED, AB_TEST_PERCENTAGE, ROLLOUT_PERCENTAGE)`
fn expect(
    mode: &str,
    status: &str,
    collect: &str,
    apply: &str,
    ab: &str,
    ab_pct: &str,
    pct: &str,
) -> BTreeMap<String, String> {
    [
        ("LEARNING_MODE", mode),
        ("LEARNING_STATUS", status),
        ("LEARNING_DATA_COLLECTION", collect),
        ("LEARNING_APPLY_PARAMETERS", apply),
        ("LEARNING_AB_TEST_ENABLED", ab),
        ("LEARNING_AB_TEST_PERCENTAGE", ab_pct),
        ("LEARNING_ROLLOUT_PERCENTAGE", pct),
        ("LEARNING_SEED", "42"),
        ("LEARNING_ASSIGNMENT_VERSION", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

async fn flags(store: &dyn Store) -> BTreeMap<String, String> {
    store
        .flags()
        .await
        .unwrap()
        .flags
        .into_iter()
        .map(|f| (f.key, f.value))
        .collect()
}

async fn walks_shadow_to_full(db: TestDb) {
    let store = db.store().await;
    let c = plan(PLAN);
    let w = daemon_writer(&*store).await;
    let day = Duration::days(1);

    assert_eq!(tick(&*store, &c, &w, t0()).await, ["start"]);
    assert_eq!(
        flags(&*store).await,
        expect("shadow", "running", "true", "false", "false", "0", "0")
    );
    // Nothing moves before the stage's duration is over.
    assert!(tick(&*store, &c, &w, t0() + day * 7 - Duration::seconds(1))
        .await
        .is_empty());

    let t_ab = t0() + day * 7;
    assert_eq!(tick(&*store, &c, &w, t_ab).await, ["advance"]);
    assert_eq!(
        flags(&*store).await,
        expect("ab_test", "running", "true", "true", "true", "10", "0")
    );

    let t5 = t_ab + day * 14;
    assert_eq!(tick(&*store, &c, &w, t5).await, ["advance"]);
    let mut five = expect("rollout", "running", "true", "true", "false", "0", "5");
    five.insert("LEARNING_MAX_POSITION_PCT".into(), "0.5".into());
    assert_eq!(flags(&*store).await, five);

    let t25 = t5 + day;
    assert_eq!(tick(&*store, &c, &w, t25).await, ["advance"]);
    // The stage's extra flag is gone with the stage.
    assert_eq!(
        flags(&*store).await,
        expect("rollout", "running", "true", "true", "false", "0", "25")
    );

    let t50 = t25 + day * 2;
    assert_eq!(tick(&*store, &c, &w, t50).await, ["advance"]);
    assert_eq!(
        flags(&*store).await,
        expect("rollout", "running", "true", "true", "false", "0", "50")
    );

    let t100 = t50 + day * 3;
    assert_eq!(tick(&*store, &c, &w, t100).await, ["complete"]);
    assert_eq!(
        flags(&*store).await,
        expect("full", "completed", "true", "true", "false", "0", "100")
    );
    assert!(tick(&*store, &c, &w, t100 + day * 365).await.is_empty());

    let history = store.history("learning-intelligence").await.unwrap();
    type Row = (String, Option<i64>, i64, String, DateTime<Utc>);
    let summary: Vec<Row> = history
        .iter()
        .map(|e| {
            (
                e.action.clone(),
                e.from_stage,
                e.to_stage,
                e.actor.clone(),
                e.at,
            )
        })
        .collect();
    let d =
        |a: &str, f: Option<i64>, t: i64, at| (a.to_owned(), f, t, "daemon@test".to_owned(), at);
    assert_eq!(
        summary,
        vec![
            d("start", None, 0, t0()),
            d("advance", Some(0), 1, t_ab),
            d("advance", Some(1), 2, t5),
            d("advance", Some(2), 3, t25),
            d("advance", Some(3), 4, t50),
            d("complete", Some(4), 5, t100),
        ]
    );
    // Each history row carries exactly the flags its transition changed.
    let to_25 = &history[3].flags;
    assert_eq!(
        to_25.get("LEARNING_ROLLOUT_PERCENTAGE"),
        Some(&Some("25".to_owned()))
    );
    assert_eq!(to_25.get("LEARNING_MAX_POSITION_PCT"), Some(&None));
    assert!(
        !to_25.contains_key("LEARNING_MODE"),
        "unchanged flags are not in the row: {to_25:?}"
    );
    // Flag versions grow with every change and the table version is the latest.
    let versions: Vec<i64> = history.iter().map(|e| e.flags_version).collect();
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    assert_eq!(
        store.flags().await.unwrap().version,
        *versions.last().unwrap()
    );
}

async fn a_long_outage_does_not_skip_stages(db: TestDb) {
    let store = db.store().await;
    let c = plan(PLAN);
    let w = daemon_writer(&*store).await;
    tick(&*store, &c, &w, t0()).await;
    // The daemon comes back 60 days later: far past every remaining duration.
    let back = t0() + Duration::days(60);
    assert_eq!(tick(&*store, &c, &w, back).await, ["advance"]);
    let s = store.state("learning-intelligence").await.unwrap().unwrap();
    assert_eq!(
        (s.stage_index, s.stage_entered_at),
        (1, back),
        "one stage, with its clock started now"
    );
    // The A/B stage still lasts its full 14 days from `back`.
    assert!(tick(
        &*store,
        &c,
        &w,
        back + Duration::days(14) - Duration::seconds(1)
    )
    .await
    .is_empty());
    assert_eq!(
        tick(&*store, &c, &w, back + Duration::days(14)).await,
        ["advance"]
    );
}

async fn rollback_sticks_until_restart(db: TestDb) {
    let store = db.store().await;
    let c = plan(PLAN);
    let r = &c.rollouts[0];
    let w = daemon_writer(&*store).await;
    tick(&*store, &c, &w, t0()).await;
    tick(&*store, &c, &w, t0() + Duration::days(7)).await;
    let person = Writer::person("oncall@desk");
    let at = t0() + Duration::days(8);
    let applied = engine::act(
        &*store,
        r,
        ManualAction::Rollback,
        "drawdown",
        &person,
        || at,
    )
    .await
    .unwrap()
    .expect("a change");
    assert_eq!(applied.transition.to.status(), Status::RolledBack);
    assert_eq!(
        flags(&*store).await,
        expect(
            "rolled_back",
            "rolled_back",
            "false",
            "false",
            "false",
            "0",
            "0"
        )
    );
    // A year of ticks does not advance it; a second rollback changes nothing.
    assert!(tick(&*store, &c, &w, at + Duration::days(365))
        .await
        .is_empty());
    assert!(
        engine::act(&*store, r, ManualAction::Rollback, "again", &person, || at)
            .await
            .unwrap()
            .is_none()
    );
    let last = store
        .history("learning-intelligence")
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        (
            last.action.as_str(),
            last.actor.as_str(),
            last.reason.as_str()
        ),
        ("rollback", "oncall@desk", "drawdown")
    );

    let again = at + Duration::days(400);
    engine::act(&*store, r, ManualAction::Restart, "fixed", &person, || {
        again
    })
    .await
    .unwrap();
    let s = store.state("learning-intelligence").await.unwrap().unwrap();
    assert_eq!(
        (s.stage_index, s.status(), s.stage_entered_at),
        (0, Status::Running, again)
    );
    assert_eq!(
        flags(&*store).await,
        expect("shadow", "running", "true", "false", "false", "0", "0")
    );
}

async fn inconclusive_ab_test_holds(db: TestDb) {
    let store = db.store().await;
    let c = plan(&PLAN.replace("on_inconclusive: promote", "on_inconclusive: hold"));
    let r = &c.rollouts[0];
    let w = daemon_writer(&*store).await;
    tick(&*store, &c, &w, t0()).await;
    tick(&*store, &c, &w, t0() + Duration::days(7)).await;
    let end = t0() + Duration::days(21);
    assert_eq!(tick(&*store, &c, &w, end).await, ["hold"]);
    let s = store.state("learning-intelligence").await.unwrap().unwrap();
    assert_eq!((s.stage_index, s.status()), (1, Status::Blocked));
    assert!(s.reason().unwrap().contains("inconclusive"));
    assert_eq!(flags(&*store).await["LEARNING_STATUS"], "blocked");
    assert_eq!(
        flags(&*store).await["LEARNING_AB_TEST_PERCENTAGE"],
        "10",
        "a hold keeps the exposure"
    );
    // Holding is not repeated every tick.
    assert!(tick(&*store, &c, &w, end + Duration::days(3))
        .await
        .is_empty());
    // The release manager decides.
    engine::act(
        &*store,
        r,
        ManualAction::Promote,
        "looks fine",
        &Writer::person("rm@desk"),
        || end + Duration::days(4),
    )
    .await
    .unwrap();
    assert_eq!(flags(&*store).await["LEARNING_ROLLOUT_PERCENTAGE"], "5");
}

async fn pause_stops_the_clock(db: TestDb) {
    let store = db.store().await;
    let c = plan(PLAN);
    let r = &c.rollouts[0];
    let w = daemon_writer(&*store).await;
    let oncall = Writer::person("oncall@desk");
    tick(&*store, &c, &w, t0()).await;
    let day = Duration::days(1);
    engine::act(&*store, r, ManualAction::Pause, "", &oncall, || {
        t0() + day * 2
    })
    .await
    .unwrap();
    assert_eq!(
        flags(&*store).await["LEARNING_MODE"],
        "shadow",
        "a pause keeps the exposure"
    );
    assert_eq!(flags(&*store).await["LEARNING_STATUS"], "paused");
    assert!(
        tick(&*store, &c, &w, t0() + day * 30).await.is_empty(),
        "paused rollouts do not move"
    );
    engine::act(&*store, r, ManualAction::Resume, "", &oncall, || {
        t0() + day * 12
    })
    .await
    .unwrap();
    // 2 days ran before the pause; 5 more are needed after resuming on day 12.
    assert!(
        tick(&*store, &c, &w, t0() + day * 17 - Duration::seconds(1))
            .await
            .is_empty()
    );
    assert_eq!(tick(&*store, &c, &w, t0() + day * 17).await, ["advance"]);
}

async fn drifted_flags_are_repaired(db: TestDb) {
    let store = db.store().await;
    let c = plan(PLAN);
    let w = daemon_writer(&*store).await;
    tick(&*store, &c, &w, t0()).await;
    sqlx_exec(
        &db,
        "UPDATE rollout_flags SET value = '100' WHERE key = 'LEARNING_ROLLOUT_PERCENTAGE'",
    )
    .await;
    assert_eq!(
        tick(&*store, &c, &w, t0() + Duration::hours(1)).await,
        ["sync"]
    );
    assert_eq!(flags(&*store).await["LEARNING_ROLLOUT_PERCENTAGE"], "0");
}

pub async fn sqlx_exec(db: &TestDb, sql: &str) {
    try_exec(db, sql).await.unwrap();
}

/// Runs raw SQL on the test database, as a person with a SQL console would.
pub async fn try_exec(db: &TestDb, sql: &str) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    if db.is_postgres() {
        let mut c = sqlx::PgConnection::connect(&db.url).await?;
        sqlx::query(sql).execute(&mut c).await?;
    } else {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await?;
        sqlx::query(sql).execute(&mut c).await?;
    }
    Ok(())
}

on_both_stores!(
    walks_shadow_to_full,
    a_long_outage_does_not_skip_stages,
    rollback_sticks_until_restart,
    inconclusive_ab_test_holds,
    pause_stops_the_clock,
    drifted_flags_are_repaired,
);
