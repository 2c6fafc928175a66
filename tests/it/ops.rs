//! The operator's commands (issue 14, parts 2 and 3): `backup` while the daemon's work goes
//! on, `restore` into an empty store (and what it refuses), `export --json`, and the
//! least-privilege roles of `db roles` on PostgreSQL (each role can do its job and nothing
//! more; the daemon and the CLI run as `rollout_controller`).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

use crate::on_both_stores;
use crate::support::{bin, eventually, run, stderr, stdout, Daemon, TestDb};

const CONFIG: &str = "
rollouts:
  - name: exp
    flag_prefix: EXP_
    seed: 3
    stages:
      - ab_test:
          percentage: 50
          duration: 14d
          min_samples: 100000
          metrics: [ { name: return_pct, test: welch_t } ]
      - full: {}
";

fn ok(config: &Path, args: &[&str]) -> String {
    let out = run(config, args);
    assert!(
        out.status.success(),
        "rollout {args:?} failed: {}",
        stderr(&out)
    );
    stdout(&out)
}

fn json(config: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(config, args)).expect("JSON output")
}

/// `rollout --database URL ARGS...` with `config` for everything else.
fn on(config: &Path, url: &str, args: &[&str]) -> std::process::Output {
    bin()
        .arg("--config")
        .arg(config)
        .arg("--database")
        .arg(url)
        .args(args)
        .output()
        .expect("run rollout")
}

/// One integer from `sql`, on its own connection.
async fn scalar(db: &TestDb, sql: &str) -> i64 {
    if db.is_postgres() {
        let mut c = PgConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
    } else {
        let mut c = SqliteConnectOptions::from_str(&db.url)
            .unwrap()
            .connect()
            .await
            .unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
    }
}

/// A fresh, empty database of the same kind as `db`.
async fn sibling(db: &TestDb) -> TestDb {
    if db.is_postgres() {
        TestDb::postgres().await
    } else {
        TestDb::sqlite()
    }
}

fn csv(dir: &Path, batch: usize, rows: usize) -> PathBuf {
    let path = dir.join(format!("obs-{batch}.csv"));
    let mut text = String::from("unit,variant,metric,value,observed_at,event_id\n");
    for i in 0..rows {
        // Values whose decimal text is long: a backup must carry every bit.
        let value = (batch * rows + i) as f64 / 3.0 + 0.1;
        text.push_str(&format!("u{i},,return_pct,{value:?},,b{batch}-{i}\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// The parts of `status --json` that do not depend on when it is asked.
fn stable_status(v: &Value) -> Value {
    let keep = ["name", "status", "stage_index", "stage_kind", "reason"];
    Value::Object(
        v.as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| keep.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// Backups taken while observations are ingested and the rollout is rolled back and
/// restarted are each a consistent snapshot: restored, the flags version is the manifest's,
/// the history ends at it, the flags follow the state, and the per-unit aggregates count
/// exactly the restored observations. A backup of the quiet store restores to equal
/// `flags`, `status` and `history`, and later writes do not collide with restored ids.
async fn backup_under_load_restores_consistently(db: TestDb) {
    let cfg = db.config(CONFIG);
    ok(&cfg, &["tick"]);
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    {
        let (stop, cfg, dir) = (stop.clone(), cfg.clone(), db.dir.path().to_path_buf());
        workers.push(std::thread::spawn(move || {
            let mut batch = 0;
            while !stop.load(Ordering::SeqCst) || batch < 3 {
                let file = csv(&dir, batch, 40);
                ok(&cfg, &["ingest", "exp", file.to_str().unwrap()]);
                batch += 1;
            }
        }));
    }
    {
        let (stop, cfg) = (stop.clone(), cfg.clone());
        workers.push(std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) || n < 2 {
                ok(&cfg, &["rollback", "exp", "--reason", "drill"]);
                ok(&cfg, &["tick"]);
                ok(&cfg, &["restart", "exp"]);
                ok(&cfg, &["tick"]);
                n += 1;
            }
        }));
    }
    let mut backups = Vec::new();
    for i in 0..3 {
        let file = db.dir.path().join(format!("busy-{i}.backup"));
        ok(&cfg, &["backup", file.to_str().unwrap()]);
        backups.push(file);
    }
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().expect("worker");
    }

    for file in &backups {
        let target = sibling(&db).await;
        let out = on(
            &cfg,
            &target.url,
            &["restore", file.to_str().unwrap(), "--json"],
        );
        assert!(out.status.success(), "restore: {}", stderr(&out));
        let restored: Value = serde_json::from_slice(&out.stdout).unwrap();
        let version = restored["manifest"]["flags_version"].as_i64().unwrap();
        let flags: Value =
            serde_json::from_slice(&on(&cfg, &target.url, &["flags", "--json"]).stdout).unwrap();
        assert_eq!(flags["version"].as_i64(), Some(version));
        let history: Value =
            serde_json::from_slice(&on(&cfg, &target.url, &["history", "exp", "--json"]).stdout)
                .unwrap();
        let last = history.as_array().unwrap().last().unwrap();
        assert_eq!(last["flags_version"].as_i64(), Some(version));
        // Flags follow state: a tick finds nothing to sync.
        let tick: Value =
            serde_json::from_slice(&on(&cfg, &target.url, &["tick", "--json"]).stdout).unwrap();
        assert!(
            tick.as_array()
                .unwrap()
                .iter()
                .all(|t| t["action"] != "sync"),
            "{tick}"
        );
        assert_eq!(
            scalar(
                &target,
                "SELECT COUNT(*) FROM observations WHERE stage IS NOT NULL"
            )
            .await,
            scalar(
                &target,
                "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM unit_values"
            )
            .await,
            "the aggregates count the restored observations"
        );
    }

    // Quiet: the restore equals the source.
    let file = db.dir.path().join("quiet.backup");
    ok(&cfg, &["backup", file.to_str().unwrap()]);
    let target = sibling(&db).await;
    let out = on(&cfg, &target.url, &["restore", file.to_str().unwrap()]);
    assert!(out.status.success(), "restore: {}", stderr(&out));
    let both = |args: &[&str]| -> (Value, Value) {
        let a = json(&cfg, args);
        let b = serde_json::from_slice(&on(&cfg, &target.url, args).stdout).unwrap();
        (a, b)
    };
    let (a, b) = both(&["flags", "--json"]);
    assert_eq!(a, b, "flags");
    let (a, b) = both(&["history", "exp", "--json"]);
    assert_eq!(a, b, "history");
    let (a, b) = both(&["status", "exp", "--json"]);
    assert_eq!(stable_status(&a), stable_status(&b), "status");
    for sql in [
        "SELECT COUNT(*) FROM observations",
        "SELECT COUNT(*) FROM unit_values",
        "SELECT MAX(id) FROM observations",
        "SELECT CAST(SUM(value) * 1000 AS BIGINT) FROM observations",
        "SELECT COUNT(*) FROM metric_buckets",
        "SELECT CAST(SUM(length(sketch)) AS BIGINT) FROM metric_buckets",
        "SELECT COUNT(*) FROM metric_buckets m WHERE m.sketch IS NOT NULL AND m.n > 0",
    ] {
        assert_eq!(scalar(&db, sql).await, scalar(&target, sql).await, "{sql}");
    }
    let exact = "SELECT COUNT(*) FROM observations o WHERE o.value * 3 = o.value * 3";
    assert_eq!(scalar(&db, exact).await, scalar(&target, exact).await);
    // Every bit of every value: the same rows sum to the same float, compared as text.
    let sum =
        "SELECT COUNT(*) FROM observations WHERE value = (SELECT MAX(value) FROM observations)";
    assert_eq!(scalar(&db, sum).await, scalar(&target, sum).await);

    // Later writes continue the restored ids.
    let max_event = last_event_id(&a_history(&cfg, None));
    let out = on(
        &cfg,
        &target.url,
        &["rollback", "exp", "--reason", "after restore"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let file = csv(db.dir.path(), 999, 5);
    let out = on(
        &cfg,
        &target.url,
        &["ingest", "exp", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let after = a_history(&cfg, Some(&target.url));
    assert_eq!(last_event_id(&after), max_event + 1);
}

fn a_history(cfg: &Path, url: Option<&str>) -> Value {
    let out = match url {
        Some(u) => on(cfg, u, &["history", "exp", "--json"]),
        None => run(cfg, &["history", "exp", "--json"]),
    };
    serde_json::from_slice(&out.stdout).unwrap()
}

fn last_event_id(history: &Value) -> i64 {
    history.as_array().unwrap().last().unwrap()["id"]
        .as_i64()
        .unwrap()
}

/// Each float survives a backup exactly (SQLite's JSON would keep 15 digits only).
async fn floats_survive_exactly(db: TestDb) {
    let cfg = db.config(CONFIG);
    ok(&cfg, &["tick"]);
    let values = [0.1, 1.0 / 3.0, 1e-300, 123_456_789.123_456_79, -2.5e11];
    let mut text = String::from("unit,variant,metric,value,observed_at,event_id\n");
    for (i, v) in values.iter().enumerate() {
        text.push_str(&format!("u{i},,return_pct,{v:?},,f{i}\n"));
    }
    let file = db.dir.path().join("floats.csv");
    std::fs::write(&file, text).unwrap();
    ok(&cfg, &["ingest", "exp", file.to_str().unwrap()]);
    let backup = db.dir.path().join("f.backup");
    ok(&cfg, &["backup", backup.to_str().unwrap()]);
    let target = sibling(&db).await;
    let out = on(&cfg, &target.url, &["restore", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    for v in values {
        let sql = format!("SELECT COUNT(*) FROM observations WHERE value = {v:e}");
        assert_eq!(scalar(&target, &sql).await, 1, "{v:?} restored exactly");
    }
}

/// A restore checks the whole file first and refuses what is not an intact backup, and
/// refuses a store that holds data unless --force (which replaces it).
async fn restore_refuses_what_it_should(db: TestDb) {
    let cfg = db.config(CONFIG);
    ok(&cfg, &["tick"]);
    ok(&cfg, &["rollback", "exp", "--reason", "r"]);
    let backup = db.dir.path().join("b.backup");
    ok(&cfg, &["backup", backup.to_str().unwrap()]);
    let text = std::fs::read_to_string(&backup).unwrap();
    let manifest: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    for key in [
        "rollout_version",
        "schema_version",
        "flags_version",
        "tables",
        "sha256",
    ] {
        assert!(manifest.get(key).is_some(), "the manifest lacks {key}");
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let target = sibling(&db).await;
    let attempt = |name: &str, content: &str| {
        let f = db.dir.path().join(name);
        std::fs::write(&f, content).unwrap();
        on(&cfg, &target.url, &["restore", f.to_str().unwrap()])
    };
    let flipped = text
        .replacen("drill", "dRill", 1)
        .replacen("\"r\"", "\"x\"", 1);
    assert_ne!(flipped, text);
    for (name, content, says) in [
        ("flipped", flipped.as_str(), "corrupt: its checksum"),
        ("truncated", &text[..text.len() - 10], "corrupt"),
        ("csv", "unit,metric,value\n", "not a rollout backup"),
    ] {
        let out = attempt(name, content);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{name}: {}", stderr(&out));
    }
    // Nothing was written by the refused restores.
    let out = on(&cfg, &target.url, &["restore", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Into the source itself: not empty.
    let out = run(&cfg, &["restore", backup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
    // --force replaces it: the history is the backup's again.
    ok(&cfg, &["restart", "exp"]);
    let before = a_history(&cfg, None).as_array().unwrap().len();
    ok(&cfg, &["restore", backup.to_str().unwrap(), "--force"]);
    let after = a_history(&cfg, None).as_array().unwrap().len();
    assert_eq!(after, before - 1);
    ok(&cfg, &["restart", "exp"]);
}

/// `export --json`: one document with the recorded configuration, the flags, and each
/// rollout's status and history, readable by jq.
async fn export_is_one_json_document(db: TestDb) {
    let cfg = db.config(CONFIG);
    ok(&cfg, &["tick"]);
    ok(&cfg, &["pause", "exp", "--reason", "audit"]);
    let export = json(&cfg, &["export", "--json"]);
    assert_eq!(export["flags"], json(&cfg, &["flags", "--json"]));
    assert_eq!(
        export["rollouts"][0]["history"],
        json(&cfg, &["history", "exp", "--json"])
    );
    assert_eq!(export["rollouts"][0]["status"]["status"], "paused");
    assert!(export["config"]["content"]
        .as_str()
        .unwrap()
        .contains("flag_prefix: EXP_"));
    let out = run(&cfg, &["export", "--json"]);
    let mut jq = std::process::Command::new("jq")
        .args(["-r", ".rollouts[] | .history[] | .action"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("jq is installed");
    use std::io::Write;
    jq.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let actions = jq.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&actions.stdout), "start\npause\n");
}

on_both_stores!(
    backup_under_load_restores_consistently,
    floats_survive_exactly,
    restore_refuses_what_it_should,
    export_is_one_json_document,
);

/// The backup holds every table the migrations create (a new table must be added to the
/// store's list), and nothing else.
#[tokio::test]
#[ignore = "needs PostgreSQL at 127.0.0.1:5432 (scripts/test runs them)"]
async fn a_backup_holds_every_table_postgres() {
    every_table(TestDb::postgres().await, "SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema IN ('public', 'learning') AND table_name <> '_sqlx_migrations'").await;
}

#[tokio::test]
async fn a_backup_holds_every_table_sqlite() {
    every_table(TestDb::sqlite(), "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('_sqlx_migrations', 'sqlite_sequence')").await;
}

async fn every_table(db: TestDb, sql: &str) {
    let cfg = db.config(CONFIG);
    ok(&cfg, &["tick"]);
    let file = db.dir.path().join("t.backup");
    ok(&cfg, &["backup", file.to_str().unwrap()]);
    let text = std::fs::read_to_string(&file).unwrap();
    let manifest: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let mut listed: Vec<String> = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let name = t["table"].as_str().unwrap();
            if db.is_postgres() && !name.contains('.') {
                format!("public.{name}")
            } else {
                name.to_owned()
            }
        })
        .collect();
    let mut created: Vec<String> = if db.is_postgres() {
        let mut c = PgConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut c).await.unwrap()
    } else {
        let mut c = SqliteConnectOptions::from_str(&db.url)
            .unwrap()
            .connect()
            .await
            .unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut c).await.unwrap()
    };
    listed.sort();
    created.sort();
    assert_eq!(listed, created);
}

/// On SQLite, `db roles` explains the file permissions; there is nothing to apply.
#[tokio::test]
async fn sqlite_roles_are_file_permissions() {
    let db = TestDb::sqlite();
    let cfg = db.config(CONFIG);
    let text = ok(&cfg, &["db", "roles"]);
    assert!(text.contains("chmod 0640"), "{text}");
    assert!(text.contains("mode=ro"), "{text}");
    let out = run(&cfg, &["db", "roles", "--apply"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("PostgreSQL"), "{}", stderr(&out));
}

/// The URL of `db` as `role` (trust authentication: any role with LOGIN connects).
fn as_role(db: &TestDb, role: &str) -> String {
    db.url
        .replacen("postgres://postgres@", &format!("postgres://{role}@"), 1)
}

/// Runs `sql` as `role` on its own connection; the error text if it fails.
async fn try_as(db: &TestDb, role: &str, sql: &str) -> Result<(), String> {
    let mut c = PgConnection::connect(&as_role(db, role))
        .await
        .map_err(|e| e.to_string())?;
    sqlx::raw_sql(sql)
        .execute(&mut c)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Drops the test's roles (they are shared by the whole server).
async fn drop_roles(db: &TestDb, prefix: &str) {
    let mut c = PgConnection::connect(&db.url).await.unwrap();
    for role in [
        "rollout_controller",
        "rollout_reader",
        "rollout_ingest",
        "learning_collector",
    ] {
        let name = format!("{prefix}{role}");
        let _ = sqlx::raw_sql(&format!(
            "REASSIGN OWNED BY {name} TO postgres; DROP OWNED BY {name}; DROP ROLE {name}"
        ))
        .execute(&mut c)
        .await;
    }
}

/// `db roles --apply` (twice: idempotent), then each role does its job and nothing more:
/// the reader reads the flags and cannot write them, the ingest role runs `rollout ingest`
/// and cannot change state, flags or history, the collector inserts learning rows and
/// cannot read the history; the daemon and the CLI run as the controller, which can also
/// migrate the schema and run configured queries as `rollout_query`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL at 127.0.0.1:5432 (scripts/test runs them)"]
async fn roles_do_their_job_and_nothing_more() {
    let db = TestDb::postgres().await;
    let prefix = format!("t{}_{}_", std::process::id(), rand::random::<u16>());
    let cfg = db.config(CONFIG);
    ok(&cfg, &["tick"]);
    let script = ok(&cfg, &["db", "roles", "--prefix", &prefix]);
    assert!(
        script.contains(&format!(
            "GRANT SELECT ON rollout_flags, rollout_flags_version TO {prefix}rollout_reader;"
        )),
        "{script}"
    );
    for _ in 0..2 {
        ok(&cfg, &["db", "roles", "--apply", "--prefix", &prefix]);
    }
    let (controller, reader, ingest, collector) = (
        format!("{prefix}rollout_controller"),
        format!("{prefix}rollout_reader"),
        format!("{prefix}rollout_ingest"),
        format!("{prefix}learning_collector"),
    );

    // The reader: what rollout-client runs, and nothing else.
    try_as(&db, &reader, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT version FROM rollout_flags_version; SELECT key, value, rollout, version FROM rollout_flags; COMMIT").await.unwrap();
    for sql in [
        "UPDATE rollout_flags SET value = 'x'",
        "INSERT INTO rollout_flags_version (id, version) VALUES (2, 0)",
        "SELECT * FROM rollout_events",
        "SELECT * FROM rollout_state",
        "SELECT * FROM learning.discovery_decisions",
    ] {
        assert!(try_as(&db, &reader, sql).await.is_err(), "reader: {sql}");
    }

    // The ingest role: `rollout ingest` works (judging is left to the daemon) ...
    let file = csv(db.dir.path(), 0, 20);
    let out = on(
        &cfg,
        &as_role(&db, &ingest),
        &["ingest", "exp", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "ingest as {ingest}: {}", stderr(&out));
    assert!(
        stdout(&out).contains("ingested 20 observation(s)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM observations").await, 20);
    // ... and it cannot change state, flags or history.
    for sql in [
        "UPDATE rollout_state SET status = 'rolled_back'",
        "UPDATE rollout_flags SET value = 'x'",
        "SELECT * FROM rollout_flags",
        "INSERT INTO rollout_events (rollout, at, actor, action, reason, to_stage, to_status, state_version, flags_version, flags) VALUES ('exp', now(), 'x', 'x', 'x', 0, 'running', 1, 1, '{}')",
        "DELETE FROM observations",
    ] {
        assert!(try_as(&db, &ingest, sql).await.is_err(), "ingest: {sql}");
    }

    // The collector: inserts into the learning tables, nothing else.
    try_as(&db, &collector, "INSERT INTO learning.discovery_decisions (symbol, discovery_timestamp, discovery_features, discovery_score, action_tag) VALUES ('AAPL', now(), '{}', 0.5, 'buy') ON CONFLICT DO NOTHING").await.unwrap();
    try_as(&db, &collector, "INSERT INTO learning.trade_outcomes (symbol, entry_timestamp, entry_price) VALUES ('AAPL', now(), 10)").await.unwrap();
    for sql in [
        "SELECT * FROM rollout_events",
        "SELECT * FROM learning.discovery_decisions",
        "UPDATE rollout_flags SET value = 'x'",
        "INSERT INTO learning.weights_history (rollout, computed_at, current, suggested, final_weights, fallback, reason, sample_size, inputs) VALUES ('x', now(), '{}', '{}', '{}', false, 'x', 0, '{}')",
    ] {
        assert!(try_as(&db, &collector, sql).await.is_err(), "collector: {sql}");
    }

    // The controller: the CLI, the daemon, configured queries, and a new migration.
    let url = as_role(&db, &controller);
    for args in [
        &["rollback", "exp", "--reason", "as controller"][..],
        &["restart", "exp"],
        &["tick"],
    ] {
        let out = on(&cfg, &url, args);
        assert!(
            out.status.success(),
            "{args:?} as {controller}: {}",
            stderr(&out)
        );
    }
    try_as(&db, &controller, "BEGIN READ ONLY; SET LOCAL ROLE rollout_query; SELECT COUNT(*) FROM observations; ROLLBACK").await.unwrap();
    let daemon_cfg = db.dir.path().join("daemon.yaml");
    std::fs::write(
        &daemon_cfg,
        format!("database: {url}\ntick: '* * * * * *'\n{CONFIG}"),
    )
    .unwrap();
    let d = Daemon::start(&daemon_cfg, db.dir.path().join("daemon.log"));
    eventually(
        Duration::from_secs(30),
        "the daemon's first pass as the controller",
        || async {
            let mut c = PgConnection::connect(&db.url).await.ok()?;
            let t: Option<chrono::DateTime<chrono::Utc>> =
                sqlx::query_scalar("SELECT last_tick_at FROM rollout_leader")
                    .fetch_one(&mut c)
                    .await
                    .ok()?;
            t.map(|_| ())
        },
    )
    .await;
    let log = d.log_text();
    drop(d);
    assert!(!log.contains("cannot set up the role"), "{log}");
    assert!(!log.contains("permission denied"), "{log}");

    let mut migrator = sqlx::migrate::Migrator::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres"),
    )
    .await
    .unwrap();
    migrator.migrations.to_mut().push(sqlx::migrate::Migration::new(
        9_999,
        "a later release".into(),
        sqlx::migrate::MigrationType::Simple,
        "CREATE TABLE later (id BIGSERIAL PRIMARY KEY); ALTER TABLE rollout_flags ADD COLUMN later TEXT; CREATE INDEX later_flags ON rollout_events (at);".into(),
        false,
    ));
    let mut c = PgConnection::connect(&url).await.unwrap();
    migrator.run(&mut c).await.expect("the controller migrates");
    c.close().await.unwrap();

    drop_roles(&db, &prefix).await;
}
