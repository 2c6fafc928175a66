//! Store guarantees on both backends: compare-and-set, fencing, one transaction per change,
//! an append-only history.

use std::sync::Arc;

use chrono::Duration;
use rollout::controller::{self, ManualAction, Signals};
use rollout::engine;
use rollout::flags;
use rollout::store::{Store, StoreError, Writer};

use crate::on_both_stores;
use crate::support::TestDb;
use crate::walk::{plan, t0, try_exec};

const ONE: &str = "
rollouts:
  - name: r
    flag_prefix: R_
    seed: 1
    stages:
      - shadow: { duration: 1d }
      - canary: { percentage: 50, duration: 1d }
      - full: {}
";

async fn stale_decision_is_discarded(db: TestDb) {
    let store = db.store().await;
    let c = plan(ONE);
    let r = &c.rollouts[0];
    let w = Writer::person("a");
    engine::tick_all(&*store, &c, &w, t0()).await.unwrap();
    // A daemon reads the state and decides to advance...
    let seen = store.state("r").await.unwrap();
    let later = t0() + Duration::days(1);
    let decision = controller::decide(r, seen.as_ref(), later, &Signals::default());
    let stale = controller::transition(r, seen.as_ref(), decision, later).expect("advance");
    // ...while on-call rolls back.
    engine::act(
        &*store,
        r,
        ManualAction::Rollback,
        "stop",
        &Writer::person("oncall"),
        || later,
    )
    .await
    .unwrap();
    let before = store.flags().await.unwrap();
    let err = store.commit(&stale, &w, later).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(store.flags().await.unwrap(), before, "nothing written");
    assert_eq!(
        store.state("r").await.unwrap().unwrap().status().as_str(),
        "rolled_back"
    );
    assert_eq!(store.history("r").await.unwrap().len(), 2);
}

async fn deposed_leader_cannot_write(db: TestDb) {
    let store = db.store().await;
    let c = plan(ONE);
    let old = store.new_epoch("old", t0()).await.unwrap();
    let new = store.new_epoch("new", t0()).await.unwrap();
    assert!(new > old);
    let stale = Writer {
        actor: "old".into(),
        epoch: Some(old),
    };
    let err = engine::tick_all(&*store, &c, &stale, t0())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Fenced { .. }), "{err}");
    // The state insert that preceded the fence check was rolled back with it.
    assert_eq!(store.state("r").await.unwrap(), None);
    assert!(store.flags().await.unwrap().flags.is_empty());
    assert!(store.history("r").await.unwrap().is_empty());
    let current = Writer {
        actor: "new".into(),
        epoch: Some(new),
    };
    engine::tick_all(&*store, &c, &current, t0()).await.unwrap();
    assert!(store.state("r").await.unwrap().is_some());
}

async fn history_is_append_only(db: TestDb) {
    let store = db.store().await;
    let c = plan(ONE);
    engine::tick_all(&*store, &c, &Writer::person("a"), t0())
        .await
        .unwrap();
    for sql in [
        "UPDATE rollout_events SET reason = 'x'",
        "DELETE FROM rollout_events",
    ] {
        let err = try_exec(&db, sql).await.expect_err("must be refused");
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(store.history("r").await.unwrap().len(), 1);
}

/// Many writers at once (ticks, pauses, resumes, promotes): every commit is serialized,
/// versions have no gaps, and the flags always equal what the final state requires.
async fn concurrent_writers_serialize(db: TestDb) {
    let store: Arc<dyn Store> = Arc::from(db.store().await);
    let c = Arc::new(plan(ONE));
    engine::tick_all(&*store, &c, &Writer::person("t"), t0())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (store, c) = (store.clone(), c.clone());
        tasks.push(tokio::spawn(async move {
            let r = &c.rollouts[0];
            let w = Writer::person(format!("w{i}"));
            for n in 0..10 {
                let action = [ManualAction::Pause, ManualAction::Resume][(i + n) % 2];
                engine::act(&*store, r, action, "", &w, || t0() + Duration::minutes(1))
                    .await
                    .unwrap();
                engine::tick_all(&*store, &c, &w, t0() + Duration::hours(1))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let history = store.history("r").await.unwrap();
    let versions: Vec<i64> = history.iter().map(|e| e.state_version).collect();
    let expected: Vec<i64> = (1..=history.len() as i64).collect();
    assert_eq!(versions, expected, "one committed change per state version");
    let state = store.state("r").await.unwrap().unwrap();
    assert_eq!(state.version, history.len() as i64);
    assert_eq!(
        store.rollout_flags("r").await.unwrap(),
        flags::desired(&c.rollouts[0], &state)
    );
}

on_both_stores!(
    stale_decision_is_discarded,
    deposed_leader_cannot_write,
    history_is_append_only,
    concurrent_writers_serialize,
);
