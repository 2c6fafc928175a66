//! Unit tests of what the integration tests (`tests/it`) reach only indirectly: configured
//! queries on both backends (binding, every cell type, each kind of failure) and opening
//! refused URLs. PostgreSQL tests use `ROLLOUT_TEST_PG_URL` (default: the local test
//! database) and are skipped, loudly, when it is unreachable.

use std::time::Duration;

use chrono::{TimeZone, Utc};

use crate::{
    open, GuardrailStore, PgStore, QueryError, QueryParam, SqlValue, SqliteStore, StateStore,
    StoreError,
};

const TIMEOUT: Duration = Duration::from_secs(10);

async fn postgres() -> Option<PgStore> {
    let url = std::env::var("ROLLOUT_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let store = PgStore::open(&url).expect("open");
    match store.ping().await {
        Ok(()) => Some(store),
        Err(e) => {
            eprintln!("SKIPPED: PostgreSQL test, {url} is unreachable ({e})");
            None
        }
    }
}

/// A SQLite store on a fresh file; the file exists once this returns.
async fn sqlite(name: &str) -> (SqliteStore, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "rollout-store-{name}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::open(&format!("sqlite://{}", dir.join("t.db").display())).unwrap();
    store.ping().await.unwrap();
    (store, dir)
}

fn user_query(r: Result<Vec<Vec<SqlValue>>, StoreError>) -> QueryError {
    match r {
        Err(StoreError::UserQuery(e)) => e,
        other => panic!("expected a UserQuery error, got {other:?}"),
    }
}

#[tokio::test]
async fn postgres_configured_queries() {
    let Some(store) = postgres().await else {
        return;
    };
    let at = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
    let rows = store
        .run_query(
            "SELECT NULL::int4, true, 1::int2, 2::int4, 3::int8, 1.5::float4, 2.5::float8, \
             'a'::text, 'b'::varchar, 'c'::name, $1, $2 = TIMESTAMPTZ '2024-01-02 03:04:05+00'",
            &[QueryParam::Text("x".into()), QueryParam::Time(at)],
            TIMEOUT,
        )
        .await
        .unwrap();
    use SqlValue::*;
    assert_eq!(
        rows,
        vec![vec![
            Null,
            Bool(true),
            Number(1.0),
            Number(2.0),
            Number(3.0),
            Number(1.5),
            Number(2.5),
            Text("a".into()),
            Text("b".into()),
            Text("c".into()),
            Text("x".into()),
            Bool(true),
        ]]
    );

    let e = user_query(store.run_query("SELECT 1, now()", &[], TIMEOUT).await);
    assert!(
        matches!(&e, QueryError::UnreadableColumn { column: 2, type_name, .. } if type_name == "TIMESTAMPTZ"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "column 2 has type TIMESTAMPTZ; cast it to double precision, bigint, boolean or text"
    );

    let e = user_query(store.run_query("SELEC 1", &[], TIMEOUT).await);
    assert!(matches!(e, QueryError::Sql(_)) && !e.is_timeout(), "{e:?}");

    let e = user_query(
        store
            .run_query("CREATE TABLE rollout_store_unit_test (x int)", &[], TIMEOUT)
            .await,
    );
    assert!(e.to_string().contains("read-only"), "{e}");

    let e = user_query(
        store
            .run_query("SELECT pg_sleep(5)", &[], Duration::from_millis(100))
            .await,
    );
    assert!(e.is_timeout(), "{e:?}");
    assert!(e.to_string().contains("statement timeout"), "{e}");
}

#[tokio::test]
async fn sqlite_configured_queries() {
    let (store, dir) = sqlite("configured").await;
    let rows = store
        .run_query(
            "SELECT NULL, 1, 2.5, 'a', $1, $2 IS NOT NULL",
            &[
                QueryParam::Text("x".into()),
                QueryParam::Time(Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap()),
            ],
            TIMEOUT,
        )
        .await
        .unwrap();
    use SqlValue::*;
    assert_eq!(
        rows,
        vec![vec![
            Null,
            Number(1.0),
            Number(2.5),
            Text("a".into()),
            Text("x".into()),
            Number(1.0),
        ]]
    );

    let e = user_query(store.run_query("SELECT 1, x'00'", &[], TIMEOUT).await);
    assert!(
        matches!(&e, QueryError::UnreadableColumn { column: 2, type_name, .. } if type_name == "BLOB"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "column 2 has type BLOB, which a guardrail cannot read"
    );

    let e = user_query(store.run_query("SELEC 1", &[], TIMEOUT).await);
    assert!(matches!(e, QueryError::Sql(_)) && !e.is_timeout(), "{e:?}");

    let e = user_query(store.run_query("CREATE TABLE t (x)", &[], TIMEOUT).await);
    assert!(matches!(e, QueryError::Sql(_)), "{e:?}");

    let forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
                   SELECT COUNT(*) FROM c";
    let timeout = Duration::from_millis(100);
    let e = user_query(store.run_query(forever, &[], timeout).await);
    assert!(matches!(e, QueryError::Timeout(t) if t == timeout), "{e:?}");
    assert!(e.is_timeout());
    assert_eq!(e.to_string(), "the query did not finish within 100ms");
    assert_eq!(
        StoreError::UserQuery(e).to_string(),
        "configured query failed: the query did not finish within 100ms"
    );

    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn refused_urls_do_not_show_their_password() {
    for url in [
        "mysql://root:s3cret@db/rollout",
        "postgres://root:s3cret@db:99999/rollout",
        "postgres://root:s3cret@db/rollout?sslmode=sometimes",
    ] {
        let e = open(url).err().expect(url);
        assert!(matches!(e, StoreError::BadUrl(_)), "{url}: {e:?}");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(!format!("{e:?}").contains("s3cret"), "{e:?}");
    }
    assert_eq!(
        open("rollout.db").err().unwrap().to_string(),
        "unsupported database URL \"rollout.db\": use sqlite://PATH or postgres://..."
    );
    // A store of one backend refuses the other's URL.
    assert!(matches!(
        PgStore::open("sqlite::memory:"),
        Err(StoreError::BadUrl(_))
    ));
    assert!(matches!(
        SqliteStore::open("postgres://u:s3cret@db/x"),
        Err(StoreError::BadUrl(e)) if !e.to_string().contains("s3cret")
    ));
}
