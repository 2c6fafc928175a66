//! On-call at its worst moments: a broken `rollout.yaml`, the wrong directory, a mistyped
//! `--database`. Manual actions still work from the store, never on the wrong store.

use crate::on_both_stores;
use crate::support::{bin, run, stderr, stdout, TestDb};

const PLAN: &str = "
rollouts:
  - name: learning-intelligence
    flag_prefix: LEARNING_
    seed: 42
    stages:
      - ab_test: { percentage: 50, duration: 1h }
      - canary: { percentage: 25, duration: 1h }
      - full: {}
";

/// A typo breaks the file: rollback, pause, status, flags and history act on the
/// configuration the store recorded, with one warning naming the file's first error;
/// promote, resume and restart (new exposure) still refuse.
async fn a_broken_config_does_not_stop_a_rollback(db: TestDb) {
    let cfg = db.config(PLAN);
    let out = run(&cfg, &["tick"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let good = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        format!("{good}      - canery: {{ percentage: 50 }}\n  oops: [\n"),
    )
    .unwrap();

    let out = run(
        &cfg,
        &["rollback", "learning-intelligence", "--reason", "3 a.m."],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("acting on the configuration recorded in"),
        "{err}"
    );
    assert_eq!(err.matches("warning: ").count(), 2, "one warning: {err}");
    let store = db.store().await;
    assert_eq!(
        store.rollout_flags("learning-intelligence").await.unwrap()["LEARNING_MODE"],
        "rolled_back"
    );

    for args in [
        &["status", "--json"][..],
        &["flags"][..],
        &["history", "learning-intelligence"][..],
        &["pause", "learning-intelligence", "--reason", "x"][..],
    ] {
        let out = run(&cfg, args);
        let code = out.status.code();
        // pause of a rolled-back rollout is "not allowed" (4), not a config error (1)
        assert!(
            code == Some(0) || (args[0] == "pause" && code == Some(4)),
            "{args:?}: {code:?} {}",
            stderr(&out)
        );
    }
    for action in ["promote", "resume", "restart"] {
        let out = run(&cfg, &[action, "learning-intelligence", "--reason", "x"]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{action} needs a valid file: {}",
            stderr(&out)
        );
    }
}

on_both_stores!(a_broken_config_does_not_stop_a_rollback);

/// A relative `sqlite://` path is the config file's neighbour, whatever the working
/// directory; every action says which store it wrote.
#[test]
fn a_relative_sqlite_path_belongs_to_the_config_folder() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    let cfg = conf.join("rollout.yaml");
    std::fs::write(&cfg, format!("database: sqlite://rollout.db\n{PLAN}")).unwrap();
    let out = bin()
        .current_dir(&elsewhere)
        .arg("--config")
        .arg(&cfg)
        .arg("tick")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(conf.join("rollout.db").exists());
    assert!(!elsewhere.join("rollout.db").exists());
    let out = bin()
        .current_dir(&elsewhere)
        .arg("--config")
        .arg(&cfg)
        .args(["rollback", "learning-intelligence", "--reason", "x"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let expected = format!("store: sqlite://{}", conf.join("rollout.db").display());
    assert!(text.contains(&expected), "{text}");
}

/// A mistyped `--database` is an error (exit 3, the path named), never a new empty store
/// "rolled back" with exit 0.
#[test]
fn a_mistyped_store_is_an_error_not_a_new_database() {
    let db = TestDb::sqlite();
    let cfg = db.config(PLAN);
    assert!(run(&cfg, &["tick"]).status.success());
    let typo = db.dir.path().join("typo.db");
    for args in [
        &["rollback", "learning-intelligence", "--reason", "x"][..],
        &["status"][..],
        &["flags"][..],
    ] {
        let out = bin()
            .arg("--config")
            .arg(&cfg)
            .arg("--database")
            .arg(format!("sqlite://{}", typo.display()))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&typo.display().to_string()),
            "{}",
            stderr(&out)
        );
        assert!(!typo.exists(), "{args:?} created {}", typo.display());
    }
}
