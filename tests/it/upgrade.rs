//! Upgrading in place: a database made by an earlier release opens with this code. The
//! fixtures in `tests/data/upgrade/` are SQL dumps of databases that this release's binary
//! wrote through its migrations 0001..0005 (`tests/data/upgrade/make-fixtures` made them;
//! later migrations run on top of them):
//! two rollouts (one paused in its A/B stage with learned weights published, one rolled
//! back), their flags and history, observations, guardrail readings, webhooks waiting in
//! the outbox and the learning tables. Each is loaded into a fresh database, opened with
//! `store::open` and migrated: the migrations must accept what is there (the same
//! checksums, nothing run again), every row must read back as the fixture holds it, and the
//! upgraded database must take new writes.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rollout::config::{Aggregate, PerUnit};
use rollout::controller::{ManualAction, Status};
use rollout::engine;
use rollout::experiment::StageEntry;
use rollout::store::{self, ReadingStatus, Store, Writer};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection, SqliteConnection};

use crate::on_both_stores;
use crate::support::TestDb;

const LEARNING: &str = "learning-intelligence";
const RISK: &str = "risk-model";
const WEIGHTS: &str = r#"{"catalyst":0.148038,"options":0.140859,"sentiment":0.148037,"squeeze":0.234765,"technical":0.128299,"volume_momentum":0.200002}"#;

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/upgrade")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Loads the store's dump into the (empty) test database, as `sqlite3 DB < sqlite.sql` or
/// `psql -f postgres.sql` would.
async fn load_fixture(db: &TestDb) {
    if db.is_postgres() {
        // pg_dump writes psql meta-commands (`\restrict KEY`, `\unrestrict KEY`) that only
        // psql understands; everything else is SQL.
        let sql: String = fixture("postgres.sql")
            .lines()
            .filter(|l| !l.starts_with('\\'))
            .map(|l| format!("{l}\n"))
            .collect();
        let mut c = PgConnection::connect(&db.url).await.unwrap();
        sqlx::raw_sql(&sql).execute(&mut c).await.unwrap();
        c.close().await.unwrap();
    } else {
        let mut c = SqliteConnectOptions::from_str(&db.url)
            .unwrap()
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        sqlx::raw_sql(&fixture("sqlite.sql"))
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    }
}

/// Runs a query returning one row of text per result row (every column cast to text), on
/// its own connection.
async fn text_rows(db: &TestDb, sql: &str) -> Vec<Vec<Option<String>>> {
    use sqlx::Row;
    if db.is_postgres() {
        let mut c = PgConnection::connect(&db.url).await.unwrap();
        let rows = sqlx::query(sql).fetch_all(&mut c).await.unwrap();
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.get::<Option<String>, _>(i))
                    .collect()
            })
            .collect()
    } else {
        let mut c = SqliteConnection::connect(&db.url).await.unwrap();
        let rows = sqlx::query(sql).fetch_all(&mut c).await.unwrap();
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.get::<Option<String>, _>(i))
                    .collect()
            })
            .collect()
    }
}

/// The applied migrations as sqlx records them: version, description, success, checksum,
/// installed_on.
async fn migrations(db: &TestDb) -> Vec<Vec<Option<String>>> {
    let sql = if db.is_postgres() {
        "SELECT version::text, description, success::text, encode(checksum, 'hex'), \
         installed_on::text FROM _sqlx_migrations ORDER BY _sqlx_migrations.version"
    } else {
        "SELECT CAST(version AS TEXT), description, CAST(success AS TEXT), hex(checksum), \
         CAST(installed_on AS TEXT) FROM _sqlx_migrations ORDER BY version"
    };
    text_rows(db, sql).await
}

/// Row counts of every table the migrations create, as `(table, rows)`.
async fn row_counts(db: &TestDb) -> Vec<(&'static str, i64)> {
    let learning = |t: &'static str, pg: &'static str| if db.is_postgres() { pg } else { t };
    let tables = [
        "rollout_flags",
        "rollout_flags_version",
        "rollout_state",
        "rollout_events",
        "rollout_leader",
        "observations",
        "observation_sums",
        "observation_units",
        "observation_unit_counts",
        "guardrail_status",
        "rollout_outbox",
        learning("discovery_decisions", "learning.discovery_decisions"),
        learning("thesis_decisions", "learning.thesis_decisions"),
        learning("trade_outcomes", "learning.trade_outcomes"),
        learning("learning_weights_history", "learning.weights_history"),
    ];
    let mut out = Vec::new();
    for t in tables {
        let rows = text_rows(db, &format!("SELECT CAST(COUNT(*) AS TEXT) FROM {t}")).await;
        let n = rows[0][0].as_deref().unwrap().parse().unwrap();
        out.push((t, n));
    }
    out
}

/// When the fixture's first history row was written: the one timestamp that differs
/// between the two dumps (each was made by its own run; SQLite keeps nanoseconds).
fn first_event_at(db: &TestDb) -> DateTime<Utc> {
    let at = if db.is_postgres() {
        "2026-11-29T20:11:25.684723Z"
    } else {
        "2026-11-29T20:11:24.747433777Z"
    };
    at.parse().unwrap()
}

async fn a_database_of_the_release_before_upgrades_in_place(db: TestDb) {
    load_fixture(&db).await;
    let applied = migrations(&db).await;
    let versions: Vec<&str> = applied.iter().map(|m| m[0].as_deref().unwrap()).collect();
    assert_eq!(versions, ["1", "2", "3", "4", "5"]);
    assert!(applied
        .iter()
        .all(|m| m[2].as_deref() == Some("true") || m[2].as_deref() == Some("1")));
    let counts = row_counts(&db).await;

    let store = store::open(&db.url).expect("open the fixture");
    store
        .migrate()
        .await
        .expect("the migrations accept the fixture's schema");
    store.migrate().await.expect("and again");
    // The release's migrations are untouched (same checksums, not run again); the ones this
    // release adds ran once, after them.
    let after = migrations(&db).await;
    assert_eq!(
        &after[..applied.len()],
        &applied[..],
        "no migration of the release before ran again or changed"
    );
    let added: Vec<&str> = after[applied.len()..]
        .iter()
        .map(|m| m[0].as_deref().unwrap())
        .collect();
    assert_eq!(
        added,
        ["6", "7", "8", "9", "10", "11", "12", "13", "14"],
        "the new migrations, once each"
    );
    assert_eq!(row_counts(&db).await, counts, "migrating changed no table");
    // The leader row keeps its epoch and holder; no pass is recorded yet.
    let leader = store.leader().await.unwrap();
    assert_eq!(
        (leader.last_tick_at, leader.tick_interval_secs),
        (None, None)
    );
    assert!(store.pending_holds().await.unwrap().is_empty());
    let expected_counts: Vec<i64> = vec![19, 1, 2, 6, 1, 80, 2, 40, 2, 2, 4, 12, 12, 12, 1];
    assert_eq!(
        counts.iter().map(|c| c.1).collect::<Vec<_>>(),
        expected_counts,
        "{counts:?}"
    );

    check_history_and_state(&db, &*store).await;
    check_data(&*store).await;

    // The upgraded database takes new writes: ids and versions go on from the fixture's.
    let config = rollout::config::load_file(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/upgrade/rollout.yaml"),
    )
    .unwrap()
    .config;
    let applied = engine::act(
        &*store,
        config.rollout(LEARNING).unwrap(),
        ManualAction::Resume,
        "review done",
        &Writer::person("tester@it"),
        Utc::now,
    )
    .await
    .unwrap()
    .expect("resumed");
    assert_eq!(
        (
            applied.committed.state_version,
            applied.committed.flags_version
        ),
        (5, 7)
    );
    let last = store.history(LEARNING).await.unwrap().pop().unwrap();
    assert_eq!((last.id, last.action.as_str()), (7, "resume"));
    assert_eq!(
        store.rollout_flags(LEARNING).await.unwrap()["LEARNING_STATUS"],
        "running"
    );
}

async fn check_history_and_state(db: &TestDb, store: &dyn Store) {
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Option<i64>,
        i64,
        Option<&'a str>,
        &'a str,
        i64,
        i64,
    );
    let summary = |e: &store::EventRow| {
        (
            e.action.clone(),
            e.actor.clone(),
            e.reason.clone(),
            e.from_stage,
            e.to_stage,
            e.from_status.clone(),
            e.to_status.clone(),
            e.state_version,
            e.flags_version,
        )
    };
    let owned = |rows: &[Row]| {
        rows.iter()
            .map(|r| {
                (
                    r.0.to_owned(),
                    r.1.to_owned(),
                    r.2.to_owned(),
                    r.3,
                    r.4,
                    r.5.map(str::to_owned),
                    r.6.to_owned(),
                    r.7,
                    r.8,
                )
            })
            .collect::<Vec<_>>()
    };
    let tick = "tick:fixture@upgrade";
    let person = "fixture@upgrade";
    let learning = store.history(LEARNING).await.unwrap();
    assert_eq!(
        learning.iter().map(summary).collect::<Vec<_>>(),
        owned(&[
            ("start", tick, "first tick", None, 0, None, "running", 1, 1),
            (
                "promote",
                person,
                "shadow looked fine",
                Some(0),
                1,
                Some("running"),
                "running",
                2,
                3
            ),
            (
                "publish",
                person,
                "learned weights",
                Some(1),
                1,
                Some("running"),
                "running",
                3,
                4
            ),
            (
                "pause",
                person,
                "desk review",
                Some(1),
                1,
                Some("running"),
                "paused",
                4,
                5
            ),
        ])
    );
    let risk = store.history(RISK).await.unwrap();
    assert_eq!(
        risk.iter().map(summary).collect::<Vec<_>>(),
        owned(&[
            ("start", tick, "first tick", None, 0, None, "running", 1, 2),
            (
                "rollback",
                person,
                "drawdown on the desk",
                Some(0),
                0,
                Some("running"),
                "rolled_back",
                2,
                6
            ),
        ])
    );
    let ids: Vec<i64> = learning.iter().chain(&risk).map(|e| e.id).collect();
    assert_eq!(ids, [1, 3, 4, 5, 2, 6]);
    assert_eq!(learning[0].at, first_event_at(db));
    assert_eq!(risk[0].at, first_event_at(db));
    assert!(learning.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(
        risk[1].flags,
        BTreeMap::from([
            ("RISK_DATA_COLLECTION".to_owned(), Some("false".to_owned())),
            ("RISK_MODE".to_owned(), Some("rolled_back".to_owned())),
            ("RISK_STATUS".to_owned(), Some("rolled_back".to_owned())),
        ])
    );
    assert_eq!(
        learning[2].flags["LEARNING_WEIGHTS"].as_deref(),
        Some(WEIGHTS)
    );

    // The state: where each rollout stands and since when (the history row that put it there).
    let s = store.state(LEARNING).await.unwrap().unwrap();
    assert_eq!(
        (
            s.stage_index,
            s.stage_label.as_str(),
            s.status(),
            s.reason()
        ),
        (1, "ab_test:50", Status::Paused, Some("desk review"))
    );
    assert_eq!((s.version, s.paused_ms), (4, 0));
    assert_eq!(s.stage_entered_at, learning[1].at);
    assert_eq!(s.paused_at(), Some(learning[3].at));
    assert_eq!(s.weights_json().as_deref(), Some(WEIGHTS));
    let r = store.state(RISK).await.unwrap().unwrap();
    assert_eq!(
        (
            r.stage_index,
            r.stage_label.as_str(),
            r.status(),
            r.reason()
        ),
        (
            0,
            "shadow",
            Status::RolledBack,
            Some("drawdown on the desk")
        )
    );
    assert_eq!(
        (r.version, r.paused_at(), r.weights_json()),
        (2, None, None)
    );
    assert_eq!(r.stage_entered_at, risk[0].at);
    assert_eq!(store.states().await.unwrap().len(), 2);

    // The flags: the table as the fixture holds it, which is also the history replayed.
    let flags = store.flags().await.unwrap();
    assert_eq!(flags.version, 6);
    assert_eq!(store.flags_version().await.unwrap(), 6);
    let expected: BTreeMap<&str, &str> = BTreeMap::from([
        ("LEARNING_AB_TEST_ENABLED", "true"),
        ("LEARNING_AB_TEST_PERCENTAGE", "50"),
        ("LEARNING_APPLY_PARAMETERS", "true"),
        ("LEARNING_ASSIGNMENT_VERSION", "1"),
        ("LEARNING_DATA_COLLECTION", "true"),
        ("LEARNING_MODE", "ab_test"),
        ("LEARNING_ROLLOUT_PERCENTAGE", "0"),
        ("LEARNING_SEED", "42"),
        ("LEARNING_STATUS", "paused"),
        ("LEARNING_WEIGHTS", WEIGHTS),
        ("RISK_AB_TEST_ENABLED", "false"),
        ("RISK_AB_TEST_PERCENTAGE", "0"),
        ("RISK_APPLY_PARAMETERS", "false"),
        ("RISK_ASSIGNMENT_VERSION", "1"),
        ("RISK_DATA_COLLECTION", "false"),
        ("RISK_MODE", "rolled_back"),
        ("RISK_ROLLOUT_PERCENTAGE", "0"),
        ("RISK_SEED", "7"),
        ("RISK_STATUS", "rolled_back"),
    ]);
    let table: BTreeMap<&str, &str> = flags
        .flags
        .iter()
        .map(|f| (f.key.as_str(), f.value.as_str()))
        .collect();
    assert_eq!(table, expected);
    for (name, history) in [(LEARNING, &learning), (RISK, &risk)] {
        let mut replayed = BTreeMap::new();
        for e in history.iter() {
            for (k, v) in &e.flags {
                match v {
                    Some(v) => replayed.insert(k.clone(), v.clone()),
                    None => replayed.remove(k),
                };
            }
        }
        assert_eq!(store.rollout_flags(name).await.unwrap(), replayed, "{name}");
    }
    let changes = store.flag_changes_since(0, 100).await.unwrap();
    assert_eq!(
        changes.iter().map(|c| c.version).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
}

async fn check_data(store: &dyn Store) {
    // Observations: 80 rows of 40 units (two each), in the A/B stage it was in: migration
    // 0008 placed them in that stage entry and built the per-unit aggregates from them.
    let state = store.state(LEARNING).await.unwrap().unwrap();
    let entry = StageEntry {
        stage: state.stage_index,
        entered_at: state.stage_entered_at,
    };
    let a = store
        .unit_aggregate(LEARNING, entry, "return_pct", PerUnit::Mean)
        .await
        .unwrap();
    assert_eq!((a.observations.control, a.observations.treatment), (42, 38));
    let units = store.exposure(LEARNING, entry).await.unwrap().units;
    assert_eq!((units.control, units.treatment), (21, 19));
    assert_eq!((a.moments.control.n(), a.moments.treatment.n()), (21, 19));
    assert!(store.last_ingested_at(LEARNING).await.unwrap().is_some());
    // Migration 0010's aggregates, computed from those rows after migrating: the minute
    // buckets give the drawdown mean the last tick read from the rows (below), and the rank
    // test's bins hold every unit.
    let far = Utc::now() + chrono::Duration::days(3650);
    let w = store
        .window_aggregate(
            LEARNING,
            entry,
            "return_pct",
            entry.entered_at,
            far,
            Aggregate::Mean,
        )
        .await
        .unwrap();
    assert_eq!((w.control.n, w.treatment.n), (42, 38));
    assert!((w.treatment.value.unwrap() - 3.5).abs() < 1e-12);
    assert!((w.control.value.unwrap() - 136.0 / 42.0).abs() < 1e-12);
    let ranks = store
        .unit_rank_sums(LEARNING, entry, "return_pct", PerUnit::Mean)
        .await
        .unwrap();
    assert_eq!((ranks.n_b, ranks.n_a), (21, 19));

    // Guardrail readings of the last tick.
    let readings = store.guardrail_status(LEARNING).await.unwrap();
    let mut summary: Vec<_> = readings
        .iter()
        .map(|r| (r.guardrail.as_str(), r.status, r.consecutive, r.value, r.n))
        .collect();
    summary.sort_by_key(|r| r.0);
    assert_eq!(
        summary,
        [
            ("drawdown", ReadingStatus::Ok, 0, Some(3.5), 38),
            ("trades", ReadingStatus::Ok, 0, Some(38.0), 0),
        ]
    );
    let drawdown_control = readings
        .iter()
        .find(|r| r.guardrail == "drawdown")
        .and_then(|r| r.control_value)
        .unwrap();
    assert!((drawdown_control - 136.0 / 42.0).abs() < 1e-12);

    // Learning: the rows ingested and the one weights computation, whose final weights were
    // published.
    let from: DateTime<Utc> = "2000-01-01T00:00:00Z".parse().unwrap();
    let to: DateTime<Utc> = "2100-01-01T00:00:00Z".parse().unwrap();
    let counts = store.learning_counts(from, to).await.unwrap();
    assert_eq!(
        (
            counts.discoveries,
            counts.theses,
            counts.outcomes,
            counts.positive_outcomes
        ),
        (12, 12, 12, 8)
    );
    let pairs = store
        .learning_pairs(from, to, std::time::Duration::from_secs(3 * 86_400))
        .await
        .unwrap();
    assert_eq!(pairs.len(), 12);
    let w = store.latest_weights(LEARNING).await.unwrap().unwrap();
    assert_eq!(w.final_weights.to_json(), WEIGHTS);
    assert_eq!(
        (w.fallback, w.sample_size, w.regime.as_deref()),
        (false, 12, Some("normal"))
    );
    assert_eq!(w.confidence, Some(1.0));
    assert!(store.latest_weights(RISK).await.unwrap().is_none());
}

on_both_stores!(a_database_of_the_release_before_upgrades_in_place);
