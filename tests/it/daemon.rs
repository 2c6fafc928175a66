//! `rollout daemon` as a process: real cron ticks, SIGKILL at random points, two daemons
//! on one database, config reloads, clean shutdown.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rollout::config;
use rollout::controller::Status;
use rollout::flags;

use crate::on_both_stores;
use crate::support::{eventually, Daemon, TestDb};

/// Every stage lasts one second; the daemon ticks every second.
const FAST: &str = "
tick: '* * * * * *'
rollouts:
  - name: fast
    flag_prefix: FAST_
    seed: 9
    stages:
      - shadow: { duration: 1s }
      - ab_test: { percentage: 10, duration: 1s, on_inconclusive: promote }
      - canary: { percentage: 5, duration: 1s }
      - canary: { percentage: 25, duration: 1s }
      - canary: { percentage: 50, duration: 1s }
      - full: {}
";

const WALK: Duration = Duration::from_secs(90);

async fn completed(db: &TestDb) -> Option<()> {
    let store = db.store().await;
    let s = store.state("fast").await.ok()??;
    (s.status() == Status::Completed).then_some(())
}

/// The history of a finished walk: one row per stage, in order, nothing skipped or
/// repeated, flags matching the final state.
async fn assert_clean_walk(db: &TestDb) -> Vec<String> {
    let store = db.store().await;
    let history = store.history("fast").await.unwrap();
    let steps: Vec<(&str, Option<i64>, i64, i64)> = history
        .iter()
        .map(|e| (e.action.as_str(), e.from_stage, e.to_stage, e.state_version))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("start", None, 0, 1),
            ("advance", Some(0), 1, 2),
            ("advance", Some(1), 2, 3),
            ("advance", Some(2), 3, 4),
            ("advance", Some(3), 4, 5),
            ("complete", Some(4), 5, 6),
        ]
    );
    for pair in history.windows(2) {
        assert!(
            pair[1].at - pair[0].at >= chrono::Duration::seconds(1),
            "a stage was cut short: {pair:?}"
        );
    }
    let expected_pct = ["0", "0", "5", "25", "50", "100"];
    let expected_mode = ["shadow", "ab_test", "rollout", "rollout", "rollout", "full"];
    // Each row holds the flags that changed; replaying them gives every stage's flags.
    let mut replay = std::collections::BTreeMap::new();
    for (i, e) in history.iter().enumerate() {
        for (k, v) in &e.flags {
            match v {
                Some(v) => replay.insert(k.clone(), v.clone()),
                None => replay.remove(k),
            };
        }
        assert_eq!(replay["FAST_MODE"], expected_mode[i], "row {i}");
        assert_eq!(
            replay["FAST_ROLLOUT_PERCENTAGE"], expected_pct[i],
            "row {i}"
        );
    }
    let c = config::parse("x", &format!("database: {}\n{FAST}", db.url))
        .unwrap()
        .config;
    let state = store.state("fast").await.unwrap().unwrap();
    assert_eq!(
        store.rollout_flags("fast").await.unwrap(),
        flags::desired(&c.rollouts[0], &state)
    );
    history.into_iter().map(|e| e.actor).collect()
}

async fn walks_through_real_ticks(db: TestDb) {
    let cfg = db.config(FAST);
    let _daemon = Daemon::start(&cfg, db.dir.path().join("daemon.log"));
    eventually(WALK, "the rollout to complete", || completed(&db)).await;
    let actors = assert_clean_walk(&db).await;
    assert!(
        actors.iter().all(|a| a.starts_with("daemon@")),
        "{actors:?}"
    );
}

async fn survives_sigkill_at_random_points(db: TestDb) {
    let cfg = db.config(FAST);
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261125);
    let mut kills = 0;
    while completed(&db).await.is_none() && kills < 40 {
        let d = Daemon::start(&cfg, db.dir.path().join("daemon.log"));
        // Random kill points: the timing is the input under test, not a synchronisation.
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..1500))).await;
        d.kill9();
        kills += 1;
    }
    if completed(&db).await.is_none() {
        let _d = Daemon::start(&cfg, db.dir.path().join("daemon.log"));
        eventually(WALK, "the rollout to complete after the kills", || {
            completed(&db)
        })
        .await;
    }
    assert!(
        kills >= 3,
        "the walk finished before the daemon was killed enough times ({kills})"
    );
    assert_clean_walk(&db).await;
}

async fn two_daemons_one_writer(db: TestDb) {
    let cfg = db.config(FAST);
    let _a = Daemon::start(&cfg, db.dir.path().join("a.log"));
    let _b = Daemon::start(&cfg, db.dir.path().join("b.log"));
    eventually(WALK, "the rollout to complete", || completed(&db)).await;
    let actors = assert_clean_walk(&db).await;
    assert!(
        actors.iter().all(|a| a == &actors[0]),
        "more than one writer: {actors:?}"
    );
}

on_both_stores!(
    walks_through_real_ticks,
    survives_sigkill_at_random_points,
    two_daemons_one_writer
);

const SLOW: &str = "
tick: '* * * * * *'
rollouts:
  - name: fast
    flag_prefix: FAST_
    seed: 9
    stages:
      - shadow: { duration: 1h }
      - canary: { percentage: 5, duration: 1h }
      - full: {}
";

async fn stage(db: &TestDb) -> Option<usize> {
    db.store()
        .await
        .state("fast")
        .await
        .ok()?
        .map(|s| s.stage_index)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_edits_keep_the_last_good_config() {
    let db = TestDb::sqlite();
    let cfg = db.config(SLOW);
    let mut d = Daemon::start(&cfg, db.dir.path().join("daemon.log"));
    eventually(WALK, "the first stage", || async {
        (stage(&db).await == Some(0)).then_some(())
    })
    .await;

    // A syntax error: logged with its location; the daemon keeps running.
    db.config(&SLOW.replace(
        "duration: 1h }\n      - canary",
        "duration: 1h\n      - canary",
    ));
    let file = cfg.display().to_string();
    eventually(WALK, "the error in the log", || async {
        d.log_text().contains(&format!("{file}:")).then_some(())
    })
    .await;
    assert!(
        d.child.try_wait().unwrap().is_none(),
        "the daemon exited on a bad config"
    );

    // A change that removes the running stage is rejected.
    db.config(&SLOW.replace("      - shadow: { duration: 1h }\n", ""));
    eventually(WALK, "the rejection in the log", || async {
        d.log_text()
            .contains("configuration change rejected")
            .then_some(())
    })
    .await;

    // A good change applies at the next tick: the shadow stage is now 1 s long.
    db.config(&SLOW.replace("shadow: { duration: 1h }", "shadow: { duration: 1s }"));
    eventually(WALK, "the shorter stage to end", || async {
        (stage(&db).await == Some(1)).then_some(())
    })
    .await;
    assert!(d.log_text().contains("configuration reloaded"));
    d.signal("TERM");
    let status = d.child.wait().unwrap();
    assert!(status.success(), "clean shutdown on SIGTERM: {status:?}");
    assert!(d.log_text().contains("shutting down"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_and_sighup_reload() {
    let db = TestDb::sqlite();
    let cfg = db.config(&SLOW.replace("'* * * * * *'", "'0 0 0 1 1 *'"));
    let log = db.dir.path().join("daemon.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut child = crate::support::bin()
        .args(["--log-format", "json", "--config"])
        .arg(&cfg)
        .arg("daemon")
        .env("ROLLOUT_LOG", "info")
        .stderr(file)
        .spawn()
        .unwrap();
    // The first pass runs at start-up, not at the (yearly) cron tick.
    eventually(WALK, "the first stage", || async {
        (stage(&db).await == Some(0)).then_some(())
    })
    .await;
    // With a yearly tick, only SIGHUP can make the daemon notice the edit.
    db.config(
        &SLOW
            .replace("'* * * * * *'", "'0 0 0 1 1 *'")
            .replace("1h }\n      - canary", "1s }\n      - canary"),
    );
    std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    eventually(WALK, "the reload", || async {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("configuration reloaded")
            .then_some(())
    })
    .await;
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    let text = std::fs::read_to_string(&log).unwrap();
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            v.get("level").is_some() && v.get("fields").is_some(),
            "{line}"
        );
    }
}

/// The database is missing at start-up, then every connection is cut mid-run: the daemon
/// waits, reconnects and finishes the walk. Its lease lives in the database, not in a
/// session, so the cut does not cost it the leadership: one epoch throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL at 127.0.0.1:5432 (scripts/test runs them)"]
async fn survives_the_database_going_away() {
    use sqlx::Connection;
    let db = TestDb::postgres().await;
    let admin_url =
        std::env::var("ROLLOUT_TEST_PG_URL").unwrap_or_else(|_| crate::support::DEFAULT_PG.into());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    sqlx::query(&format!("DROP DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();

    let cfg = db.config(&FAST.replace(
        "duration: 1s }\n      - ab_test",
        "duration: 4s }\n      - ab_test",
    ));
    let d = Daemon::start(&cfg, db.dir.path().join("daemon.log"));
    eventually(WALK, "the daemon to report the missing store", || async {
        d.log_text().contains("store not ready").then_some(())
    })
    .await;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    eventually(WALK, "the first stage", || async {
        (stage(&db).await == Some(0)).then_some(())
    })
    .await;

    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()")
        .bind(&name)
        .execute(&mut admin)
        .await
        .unwrap();
    eventually(WALK, "the rollout to complete", || completed(&db)).await;
    assert_eq!(
        d.log_text().matches("became the leader").count(),
        1,
        "{}",
        d.log_text()
    );
    assert_clean_walk(&db).await;
}
