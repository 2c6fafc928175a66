//! One rollout's failure never stops the others, and configured queries can only read.

use chrono::Duration;
use rollout::engine::{self, Outcome};
use rollout::store::Writer;

use crate::support::TestDb;
use crate::walk::{plan, t0};

/// A guardrail whose query SQLite refuses (a `PRAGMA` that would change the journal mode:
/// the authorizer denies it, where it used to fail as "database is locked" and pass for an
/// unavailable store, stopping every rollout) holds its own rollout with the reason; its
/// neighbour walks on.
#[tokio::test]
async fn a_failing_query_holds_its_rollout_and_no_other() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    let c = plan(
        "
rollouts:
  - name: broken
    flag_prefix: BROKEN_
    seed: 1
    stages:
      - canary: { percentage: 5, duration: 1h }
      - full: {}
    guardrails:
      - { name: side_effect, sql: \"PRAGMA journal_mode=DELETE\", max: 1 }
  - name: bystander
    flag_prefix: BYST_
    seed: 2
    stages:
      - shadow: { duration: 1h }
      - full: {}
",
    );
    let w = Writer::person("t@it");
    for hours in [0, 2] {
        let out = engine::tick_all(&*store, &c, &w, t0() + Duration::hours(hours))
            .await
            .expect("a failing query never fails the pass");
        assert!(out
            .iter()
            .all(|(_, o)| !matches!(o, Outcome::Failed { .. })));
    }
    let broken = store.state("broken").await.unwrap().unwrap();
    assert_eq!(broken.status().as_str(), "blocked");
    assert!(
        broken.reason().unwrap().contains("side_effect"),
        "{:?}",
        broken.reason()
    );
    let bystander = store.state("bystander").await.unwrap().unwrap();
    assert_eq!(
        (bystander.stage_index, bystander.status().as_str()),
        (1, "completed")
    );
    // The journal mode is what rollout set, untouched by the query.
    let mode: String = {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(mode, "wal");
}

/// On SQLite a configured query runs under an authorizer that allows reads only: `VACUUM
/// INTO` (which a read-only connection allows) cannot copy the database anywhere.
#[tokio::test]
async fn configured_queries_cannot_copy_the_database() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    let copy = db.dir.path().join("stolen.db");
    let q = format!("VACUUM INTO '{}'", copy.display());
    let e = store
        .run_query(&q, &[], std::time::Duration::from_secs(5))
        .await
        .expect_err("refused");
    assert!(
        matches!(e, rollout::store::StoreError::UserQuery(_)),
        "the query's failure, not the store's: {e}"
    );
    assert!(!copy.exists(), "no copy was written");
    // Reads still work.
    let rows = store
        .run_query(
            "SELECT COUNT(*) FROM rollout_flags",
            &[],
            std::time::Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
}

/// On PostgreSQL a configured query runs as the role `rollout_query`: it reads rollout's
/// tables, and a superuser's functions (`pg_read_file`, `pg_reload_conf`) are refused, as
/// the query's failure (which holds its rollout), never the store's.
#[tokio::test]
#[ignore = "needs PostgreSQL at 127.0.0.1:5432 (scripts/test runs them)"]
async fn configured_queries_have_no_power_on_postgres() {
    let db = TestDb::postgres().await;
    let store = db.store().await;
    let t = std::time::Duration::from_secs(5);
    let rows = store
        .run_query(
            "SELECT COUNT(*)::double precision FROM observations",
            &[],
            t,
        )
        .await
        .expect("reads rollout's tables");
    assert_eq!(rows.len(), 1);
    for q in [
        "SELECT length(pg_read_file('/etc/hostname'))::double precision",
        "SELECT pg_reload_conf()",
        "SELECT COUNT(*)::double precision FROM pg_authid",
    ] {
        let e = store.run_query(q, &[], t).await.expect_err(q);
        assert!(
            matches!(e, rollout::store::StoreError::UserQuery(_)),
            "{q}: the query's failure, not the store's: {e}"
        );
        assert!(e.to_string().contains("permission denied"), "{q}: {e}");
    }
}

/// A client that never finishes its headers (slowloris) is cut off after the header timeout
/// instead of holding a connection for ever; the server keeps answering others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_headers_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = TestDb::sqlite();
    let store: std::sync::Arc<dyn rollout::store::Store> = std::sync::Arc::from(db.store().await);
    let config = plan("rollouts: []\n");
    let running = rollout::http::start(
        "127.0.0.1:0".parse().unwrap(),
        rollout::http::Options {
            store,
            database_url: db.url.clone(),
            config: std::sync::Arc::new(arc_swap::ArcSwap::from_pointee(config)),
            role: std::sync::Arc::new(rollout::role::Role::default()),
            actor: "daemon@test".into(),
            admin_token: None,
            ingest_token: None,
            ingest_slots: 2,
            judgments: None,
            limits: Default::default(),
            read_store: None,
        },
    )
    .await
    .unwrap();
    let mut slow = tokio::net::TcpStream::connect(running.address)
        .await
        .unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(rollout::http::HEADER_TIMEOUT * 3, slow.read(&mut buf))
        .await
        .expect("the server closes the connection");
    // Closed (0 bytes or a reset), possibly after a 408 answer.
    let answered = match read {
        Ok(0) | Err(_) => "closed".to_owned(),
        Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
    };
    assert!(
        answered == "closed" || answered.starts_with("HTTP/1.1 408"),
        "{answered}"
    );
    assert!(started.elapsed() >= rollout::http::HEADER_TIMEOUT / 2);
    let ok = crate::http::http_client()
        .get(format!("http://{}/healthz", running.address))
        .send()
        .await
        .unwrap();
    assert!(ok.status().is_success());
    running.stop().await;
}
