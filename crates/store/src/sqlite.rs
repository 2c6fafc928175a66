//! The embedded default store: one file, WAL mode.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Row, TypeInfo, ValueRef};

use super::sql::impl_sql_store;
use super::{QueryParam, SqlValue, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// For configured queries: opened read-only, one connection per query, never pooled.
    read_only: SqliteConnectOptions,
    /// `DB_FILE.migrate.lock`; `None` for in-memory databases.
    migrate_lock: Option<PathBuf>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file; connects lazily.
    pub fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|_| StoreError::BadUrl(url.to_owned()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before it is acknowledged, even across power loss.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let file = options.get_filename();
        let migrate_lock = (!file.as_os_str().is_empty()
            && !url.contains(":memory:")
            && !url.contains("mode=memory"))
        .then(|| {
            let mut p = file.as_os_str().to_owned();
            p.push(".migrate.lock");
            PathBuf::from(p)
        });
        let read_only = options.clone().read_only(true).create_if_missing(false);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(options);
        Ok(SqliteStore {
            pool,
            read_only,
            migrate_lock,
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// SQLite's migrator does not lock: processes starting together would both create the
    /// tables. An exclusive file lock serialises them; it is released when the guard drops.
    async fn migration_guard(&self) -> Result<Option<File>, StoreError> {
        let Some(path) = self.migrate_lock.clone() else {
            return Ok(None);
        };
        let io = |e: std::io::Error| StoreError::Unavailable(sqlx::Error::Io(e));
        let file = tokio::task::spawn_blocking(move || -> std::io::Result<File> {
            let f = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path)?;
            f.lock()?;
            Ok(f)
        })
        .await
        .map_err(|e| io(std::io::Error::other(e)))?
        .map_err(io)?;
        Ok(Some(file))
    }
}

impl_sql_store!(
    SqliteStore,
    sqlx::Sqlite,
    MIGRATOR,
    begin_write = "BEGIN IMMEDIATE",
    begin_read = "BEGIN",
    pg_notify = false
);

impl SqliteStore {
    /// A configured query on its own read-only connection (SQLite refuses every write on it,
    /// whatever the text holds, and an open transaction dies with it), interrupted by a
    /// progress handler once `timeout` has passed.
    async fn read_only_query(
        &self,
        query: &str,
        params: &[QueryParam],
        timeout: Duration,
    ) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        let mut conn = self.read_only.connect().await?;
        let deadline = std::time::Instant::now() + timeout;
        conn.lock_handle()
            .await?
            .set_progress_handler(1000, move || std::time::Instant::now() < deadline);
        let mut q = sqlx::query(query);
        for p in params {
            q = match p {
                QueryParam::Text(t) => q.bind(t.clone()),
                QueryParam::Time(t) => q.bind(*t),
            };
        }
        let rows = q.fetch_all(&mut conn).await;
        let _ = conn.close().await;
        let rows = rows.map_err(|e| {
            if std::time::Instant::now() >= deadline {
                StoreError::UserQuery(format!("the query did not finish within {timeout:?}"))
            } else {
                super::postgres::user_query_error(e)
            }
        })?;
        rows.iter().map(sqlite_row).collect()
    }
}

fn sqlite_row(row: &SqliteRow) -> Result<Vec<SqlValue>, StoreError> {
    (0..row.columns().len())
        .map(|i| {
            let raw = row
                .try_get_raw(i)
                .map_err(|e| StoreError::UserQuery(e.to_string()))?;
            if raw.is_null() {
                return Ok(SqlValue::Null);
            }
            let ty = raw.type_info().name().to_owned();
            let bad = |e: sqlx::Error| StoreError::UserQuery(e.to_string());
            Ok(match ty.as_str() {
                "INTEGER" => {
                    SqlValue::Number(row.try_get_unchecked::<i64, _>(i).map_err(bad)? as f64)
                }
                "BOOLEAN" => SqlValue::Bool(row.try_get_unchecked::<bool, _>(i).map_err(bad)?),
                "REAL" | "NUMERIC" => {
                    SqlValue::Number(row.try_get_unchecked::<f64, _>(i).map_err(bad)?)
                }
                "TEXT" => SqlValue::Text(row.try_get_unchecked::<String, _>(i).map_err(bad)?),
                other => {
                    return Err(StoreError::UserQuery(format!(
                        "column {} has type {other}, which a guardrail cannot read",
                        i + 1
                    )))
                }
            })
        })
        .collect()
}
