//! The on-call CLI as a person runs it, with no daemon: manual actions, output, exit codes.

use crate::on_both_stores;
use crate::support::{run, stderr, stdout, TestDb};

const PLAN: &str = "
rollouts:
  - name: learning-intelligence
    flag_prefix: LEARNING_
    seed: 42
    stages:
      - shadow: { duration: 7d }
      - canary: { percentage: 5, duration: 24h }
      - full: {}
";

async fn rollback_without_a_daemon(db: TestDb) {
    let cfg = db.config(PLAN);
    let out = run(&cfg, &["tick"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("learning-intelligence: start"),
        "{}",
        stdout(&out)
    );

    let out = run(
        &cfg,
        &[
            "rollback",
            "learning-intelligence",
            "--reason",
            "drawdown 4%",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("rollback (stage 1 shadow running -> stage 1 shadow rolled_back)"),
        "{text}"
    );
    assert!(
        text.contains("LEARNING_MODE=rolled_back"),
        "prints what changed: {text}"
    );

    let store = db.store().await;
    let flags = store.rollout_flags("learning-intelligence").await.unwrap();
    assert_eq!(flags["LEARNING_MODE"], "rolled_back");
    assert_eq!(flags["LEARNING_APPLY_PARAMETERS"], "false");
    assert_eq!(flags["LEARNING_ROLLOUT_PERCENTAGE"], "0");
    assert_eq!(flags["LEARNING_DATA_COLLECTION"], "true");
    // All flags of the rollback carry one version: they were written in one transaction.
    let table = store.flags().await.unwrap();
    let changed: Vec<_> = table
        .flags
        .iter()
        .filter(|f| f.updated_by == "tester@it")
        .collect();
    assert!(changed
        .iter()
        .all(|f| f.version == table.version && f.reason == "drawdown 4%"));
    let last = store
        .history("learning-intelligence")
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor.as_str()),
        ("rollback", "tester@it")
    );

    // Idempotent, and the next daemon tick leaves it rolled back.
    let out = run(
        &cfg,
        &["rollback", "learning-intelligence", "--reason", "again"],
    );
    assert!(out.status.success());
    assert!(stdout(&out).contains("nothing changed"), "{}", stdout(&out));
    let out = run(&cfg, &["tick"]);
    assert!(
        stdout(&out).contains("learning-intelligence: unchanged"),
        "{}",
        stdout(&out)
    );
    let out = run(&cfg, &["status", "learning-intelligence", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "rolled_back");
    assert_eq!(v["percentage"], 0.0);
}

async fn status_and_history_json(db: TestDb) {
    let cfg = db.config(PLAN);
    db.store().await; // the database exists (only daemon, tick and ingest create one)
    let out = run(&cfg, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v[0]["status"], "pending",
        "a rollout that never ticked is pending"
    );
    run(&cfg, &["tick"]);
    run(&cfg, &["promote", "learning-intelligence"]);
    let out = run(&cfg, &["status", "learning-intelligence", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for field in [
        "name",
        "status",
        "stage_index",
        "stage_kind",
        "percentage",
        "stage_entered_at",
        "next_transition_at",
    ] {
        assert!(v.get(field).is_some(), "status --json lacks {field}: {v}");
    }
    assert_eq!(
        (
            v["stage_index"].as_u64(),
            v["stage_kind"].as_str(),
            v["percentage"].as_f64()
        ),
        (Some(1), Some("canary"), Some(5.0))
    );
    let entered =
        chrono::DateTime::parse_from_rfc3339(v["stage_entered_at"].as_str().unwrap()).unwrap();
    let next =
        chrono::DateTime::parse_from_rfc3339(v["next_transition_at"].as_str().unwrap()).unwrap();
    assert_eq!(next - entered, chrono::Duration::hours(24));

    let out = run(&cfg, &["history", "learning-intelligence", "--json"]);
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let actions: Vec<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["start", "promote"]);
    assert_eq!(h[1]["flags"]["LEARNING_ROLLOUT_PERCENTAGE"], "5");

    let out = run(&cfg, &["flags", "--json"]);
    let f: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(f["version"], 2);
    let pct = f["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "LEARNING_ROLLOUT_PERCENTAGE")
        .unwrap();
    assert_eq!(
        (
            pct["value"].as_str(),
            pct["rollout"].as_str(),
            pct["version"].as_i64()
        ),
        (Some("5"), Some("learning-intelligence"), Some(2))
    );
}

async fn exit_codes(db: TestDb) {
    let cfg = db.config(PLAN);
    db.store().await; // the database exists (only daemon, tick and ingest create one)
    let code = |args: &[&str]| run(&cfg, args).status.code();
    assert_eq!(code(&["status", "nope"]), Some(2), "unknown rollout");
    assert_eq!(
        code(&["pause", "learning-intelligence"]),
        Some(4),
        "pausing a pending rollout"
    );
    assert_eq!(
        code(&["rollback", "learning-intelligence"]),
        Some(1),
        "--reason is required"
    );
    assert_eq!(
        code(&["rollback", "learning-intelligence", "--reason", " "]),
        Some(1)
    );
    assert_eq!(code(&["restart", "learning-intelligence"]), Some(4));
}

on_both_stores!(
    rollback_without_a_daemon,
    status_and_history_json,
    exit_codes
);

#[test]
fn invalid_config_exits_1_with_every_location() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("rollout.yaml");
    std::fs::write(
        &cfg,
        "rollouts:\n  - name: x\n    flag_prefix: X_\n    seed: 1\n    stages:\n      - canary: { percentage: 50, duration: 1h }\n      - canary: { percentage: 5, duration: 1x }\n      - full: {}\n",
    )
    .unwrap();
    for args in [vec!["validate"], vec!["status"], vec!["daemon"]] {
        let out = run(&cfg, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        let file = cfg.display();
        assert!(
            err.contains(&format!("{file}:7:34: invalid duration \"1x\"")),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn unreachable_store_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("rollout.yaml");
    std::fs::write(
        &cfg,
        format!("database: postgres://postgres@127.0.0.1:1/none\n{PLAN}"),
    )
    .unwrap();
    let out = run(&cfg, &["status"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("unavailable"), "{}", stderr(&out));
}

#[test]
fn plan_shows_timeline_and_flags_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("rollout.yaml");
    let db = dir.path().join("plan.db");
    std::fs::write(&cfg, format!("database: sqlite://{}\n{PLAN}", db.display())).unwrap();
    let out = run(&cfg, &["plan", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stages = v[0]["stages"].as_array().unwrap();
    let days: Vec<f64> = stages
        .iter()
        .map(|s| s["starts_after_days"].as_f64().unwrap())
        .collect();
    assert_eq!(days, [0.0, 7.0, 8.0]);
    assert_eq!(stages[1]["flags"]["LEARNING_ROLLOUT_PERCENTAGE"], "5");
    assert_eq!(v[0]["rollback_flags"]["LEARNING_MODE"], "rolled_back");
    assert!(!db.exists(), "plan must not touch the store");
}
