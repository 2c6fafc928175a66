//! High availability on PostgreSQL: a standby takes over from a dead leader and carries the
//! rollout on; a leader that was frozen (SIGSTOP) while another took over and rolled back
//! cannot undo the rollback when it wakes up.

use std::time::Duration;

use rollout::controller::Status;

use crate::support::{eventually, run, stderr, Daemon, TestDb};

const STEPS: &str = "
tick: '* * * * * *'
rollouts:
  - name: ha
    flag_prefix: HA_
    seed: 5
    stages:
      - shadow: { duration: 2s }
      - canary: { percentage: 5, duration: 2s }
      - canary: { percentage: 25, duration: 2s }
      - canary: { percentage: 50, duration: 2s }
      - full: {}
";

const LONG: &str = "
tick: '* * * * * *'
rollouts:
  - name: ha
    flag_prefix: HA_
    seed: 5
    stages:
      - shadow: { duration: 1h }
      - full: {}
";

const WAIT: Duration = Duration::from_secs(60);

/// The actor (`daemon@HOST:PID`) of each history row.
async fn writers(db: &TestDb) -> Vec<String> {
    let store = db.store().await;
    store
        .history("ha")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.actor)
        .collect()
}

fn pid_of(actor: &str) -> u32 {
    actor
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("daemon@HOST:PID")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standby_takes_over_when_the_leader_dies() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let cfg = db.config(STEPS);
    let a = Daemon::start(&cfg, db.dir.path().join("a.log"));
    let b = Daemon::start(&cfg, db.dir.path().join("b.log"));
    let store = db.store().await;
    eventually(WAIT, "the rollout to reach its first canary", || async {
        let s = store.state("ha").await.ok()??;
        (s.stage_index >= 1).then_some(())
    })
    .await;
    let leader = pid_of(&writers(&db).await[0]);
    let (dead, standby) = if leader == a.pid() { (a, b) } else { (b, a) };
    assert_eq!(leader, dead.pid());
    dead.kill9();
    eventually(WAIT, "the standby to complete the rollout", || async {
        let s = store.state("ha").await.ok()??;
        (s.status() == Status::Completed).then_some(())
    })
    .await;
    let history = store.history("ha").await.unwrap();
    let stages: Vec<i64> = history.iter().map(|e| e.to_stage).collect();
    assert_eq!(stages, [0, 1, 2, 3, 4], "no stage skipped or repeated");
    let first_of_standby = history
        .iter()
        .position(|e| pid_of(&e.actor) == standby.pid())
        .expect("the standby wrote");
    assert!(first_of_standby > 0);
    assert!(
        history[..first_of_standby]
            .iter()
            .all(|e| pid_of(&e.actor) == leader)
            && history[first_of_standby..]
                .iter()
                .all(|e| pid_of(&e.actor) == standby.pid()),
        "one writer at a time: {:?}",
        history.iter().map(|e| &e.actor).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_leader_cannot_undo_a_rollback() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let cfg = db.config(LONG);
    let old = Daemon::start(&cfg, db.dir.path().join("old.log"));
    let store = db.store().await;
    eventually(WAIT, "the old leader to start the rollout", || async {
        store.state("ha").await.ok()?.map(|_| ())
    })
    .await;
    old.signal("STOP");
    // A network partition: the database ends the frozen leader's sessions.
    crate::walk::sqlx_exec(
        &db,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .await;
    let new = Daemon::start(&cfg, db.dir.path().join("new.log"));
    eventually(WAIT, "the new daemon to lead", || async {
        new.log_text().contains("became the leader").then_some(())
    })
    .await;
    let out = run(
        &cfg,
        &["rollback", "ha", "--reason", "drawdown on the desk"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    old.signal("CONT");
    eventually(
        WAIT,
        "the old leader to notice it lost the leadership",
        || async { old.log_text().contains("lost the leadership").then_some(()) },
    )
    .await;
    let s = store.state("ha").await.unwrap().unwrap();
    assert_eq!(s.status(), Status::RolledBack);
    let flags = store.rollout_flags("ha").await.unwrap();
    assert_eq!(flags["HA_MODE"], "rolled_back");
    let last = store.history("ha").await.unwrap().pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor.as_str()),
        ("rollback", "tester@it")
    );
    drop(new);
}
