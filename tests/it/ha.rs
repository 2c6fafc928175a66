//! High availability: on PostgreSQL, a standby takes over from a dead leader and carries the
//! rollout on, and a rollback made while the leader was frozen (SIGSTOP) stands when it wakes
//! up; on both stores, a frozen leader that wakes up with a stale epoch and tries to write is
//! refused (fenced).

use std::time::Duration;

use rollout::controller::Status;

use crate::on_both_stores;
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
/// A short lease, so that takeovers in these tests take seconds.
const LEASE: &[&str] = &["--lease", "2s"];

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
#[ignore = "needs PostgreSQL at 127.0.0.1:5432 (scripts/test runs them)"]
async fn standby_takes_over_when_the_leader_dies() {
    let db = TestDb::postgres().await;
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

/// What this shows: a leader frozen while the database ends its sessions and another daemon
/// takes over and a rollback is made, finds on waking that it lost the lock, stands by, and
/// the rollback stands. It never gets as far as a write, so it does not exercise the epoch
/// fence: `a_frozen_leader_with_a_stale_epoch_is_fenced` below (a process that does try to
/// write) and `store::deposed_leader_cannot_write` (the store refusing a stale epoch) do.
/// A leader frozen *inside* its write transaction (holding the locks a rollback needs), with
/// the rollback made through the CLI and the standby's HTTP endpoint, is
/// `failover::a_rollback_completes_while_the_leader_is_frozen_inside_its_transaction`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL at 127.0.0.1:5432 (scripts/test runs them)"]
async fn a_rollback_made_while_the_leader_is_frozen_stands() {
    let db = TestDb::postgres().await;
    let cfg = db.config(LONG);
    let old = Daemon::start_with(&cfg, db.dir.path().join("old.log"), LEASE);
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
    let new = Daemon::start_with(&cfg, db.dir.path().join("new.log"), LEASE);
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

/// The leader epoch in `rollout_leader` and its holder.
async fn leader_row(db: &TestDb) -> (i64, Option<String>) {
    use sqlx::Connection;
    const SQL: &str = "SELECT epoch, holder FROM rollout_leader WHERE id = 1";
    if db.is_postgres() {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query_as(SQL).fetch_one(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query_as(SQL).fetch_one(&mut c).await.unwrap()
    }
}

/// Index of the first line of `log` at or after line `from` that contains `text`.
fn line_of(log: &str, text: &str, from: usize) -> Option<usize> {
    log.lines()
        .enumerate()
        .skip(from)
        .find(|(_, l)| l.contains(text))
        .map(|(i, _)| i)
}

/// A log line without its ANSI colour codes.
fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| *c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

/// Fencing, end to end: a leader frozen (SIGSTOP) right after its leadership check would
/// still believe it leads when it wakes up. The test stands in for the daemon that took
/// over meanwhile: it starts a newer epoch in the store (without the lock, which the frozen
/// process still holds, so that the frozen one's next check passes as a stale one would)
/// and gives the frozen leader something to write (a drifted flag). Woken, the old leader
/// tries the repair under its old epoch, the store refuses it (`StoreError::Fenced`, logged
/// as "another daemon took over; stepping down") and the process steps down. Only after it
/// has taken a fresh epoch is the repair committed.
async fn a_frozen_leader_with_a_stale_epoch_is_fenced(db: TestDb) {
    let cfg = db.config(LONG);
    let old = Daemon::start(&cfg, db.dir.path().join("old.log"));
    let store = db.store().await;
    eventually(WAIT, "the leader to start the rollout", || async {
        store.state("ha").await.ok()?.map(|_| ())
    })
    .await;
    let (stale, holder) = leader_row(&db).await;
    assert!(
        holder.as_deref().is_some_and(|h| pid_of(h) == old.pid()),
        "{holder:?}"
    );
    old.signal("STOP");
    // Another writer moves the epoch while the lease still names the frozen leader (as a
    // takeover the frozen process has not yet learnt about): its next write is stale.
    crate::walk::sqlx_exec(
        &db,
        "UPDATE rollout_leader SET epoch = epoch + 1 WHERE id = 1",
    )
    .await;
    let (newer, _) = leader_row(&db).await;
    assert_eq!(newer, stale + 1);
    crate::walk::sqlx_exec(
        &db,
        "UPDATE rollout_flags SET value = '100' WHERE key = 'HA_ROLLOUT_PERCENTAGE'",
    )
    .await;
    let history_before = store.history("ha").await.unwrap().len();
    old.signal("CONT");

    eventually(WAIT, "the old leader's write to be fenced", || async {
        old.log_text()
            .contains("another daemon took over; stepping down")
            .then_some(())
    })
    .await;
    eventually(WAIT, "the drifted flag to be repaired", || async {
        let flags = store.rollout_flags("ha").await.ok()?;
        (flags["HA_ROLLOUT_PERCENTAGE"] == "0").then_some(())
    })
    .await;

    // The repair was committed under an epoch taken after the refusal, not the stale one.
    let (epoch, holder) = leader_row(&db).await;
    assert!(epoch > newer, "epoch {epoch}, the test's {newer}");
    assert!(
        holder.as_deref().is_some_and(|h| pid_of(h) == old.pid()),
        "{holder:?}"
    );
    let log = old.log_text();
    let first_lead = line_of(&log, "became the leader", 0).expect("led at start");
    let fenced = line_of(&log, "another daemon took over; stepping down", 0).unwrap();
    let refusal = plain(log.lines().nth(fenced).unwrap());
    assert!(
        refusal.ends_with(&format!("epoch={stale}")),
        "the refused write was made under the stale epoch {stale}: {refusal}"
    );
    let second_lead = line_of(&log, "became the leader", fenced)
        .unwrap_or_else(|| panic!("no fresh epoch after the refusal:\n{log}"));
    let repaired = line_of(&log, "rollout::transition", fenced)
        .unwrap_or_else(|| panic!("no committed repair:\n{log}"));
    assert!(log.lines().nth(repaired).unwrap().contains("sync"), "{log}");
    assert!(
        first_lead < fenced && fenced < second_lead && second_lead < repaired,
        "expected lead, refusal, fresh lead, repair:\n{log}"
    );
    let history = store.history("ha").await.unwrap();
    let new_rows: Vec<(&str, u32)> = history[history_before..]
        .iter()
        .map(|e| (e.action.as_str(), pid_of(&e.actor)))
        .collect();
    assert_eq!(new_rows, [("sync", old.pid())], "one repair, once");
}

on_both_stores!(a_frozen_leader_with_a_stale_epoch_is_fenced);

/// A leader frozen (SIGSTOP) stops renewing its lease; the standby takes over once it has
/// expired, with a new epoch, and carries the rollout on while the old one is still frozen.
/// Woken, the old leader finds the lease taken and stands by.
async fn a_standby_takes_over_from_a_frozen_leader(db: TestDb) {
    let cfg = db.config(&STEPS.replace("2s", "5s"));
    let a = Daemon::start_with(&cfg, db.dir.path().join("a.log"), LEASE);
    let store = db.store().await;
    eventually(WAIT, "the first daemon to lead", || async {
        let (_, holder) = leader_row(&db).await;
        holder.filter(|h| pid_of(h) == a.pid()).map(|_| ())
    })
    .await;
    let b = Daemon::start_with(&cfg, db.dir.path().join("b.log"), LEASE);
    eventually(WAIT, "the second daemon to stand by", || async {
        b.log_text()
            .contains("standby: another daemon leads")
            .then_some(())
    })
    .await;
    let (epoch, _) = leader_row(&db).await;
    a.signal("STOP");
    eventually(
        WAIT,
        "the standby to take over the frozen leader's lease",
        || async {
            let (now, holder) = leader_row(&db).await;
            (now > epoch && holder.is_some_and(|h| pid_of(&h) == b.pid())).then_some(())
        },
    )
    .await;
    assert!(
        b.log_text().contains("took over an expired lease"),
        "{}",
        b.log_text()
    );
    eventually(WAIT, "the new leader to move the rollout on", || async {
        let s = store.state("ha").await.ok()??;
        (s.status() == Status::Completed).then_some(())
    })
    .await;
    a.signal("CONT");
    eventually(WAIT, "the old leader to stand by", || async {
        a.log_text().contains("lost the leadership").then_some(())
    })
    .await;
    let history = store.history("ha").await.unwrap();
    let stages: Vec<i64> = history.iter().map(|e| e.to_stage).collect();
    assert_eq!(stages, [0, 1, 2, 3, 4], "no stage skipped or repeated");
    assert!(
        history.iter().any(|e| pid_of(&e.actor) == b.pid()),
        "the standby moved the rollout on: {:?}",
        history.iter().map(|e| &e.actor).collect::<Vec<_>>()
    );
}

on_both_stores!(a_standby_takes_over_from_a_frozen_leader);
