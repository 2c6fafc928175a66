//! The embedded default store: one SQLite file, WAL mode.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Sqlite};

use rollout_core::records::QueryParam;
use rollout_core::{BadUrl, DatabaseUrl};

use super::configured;
use super::{Backend, CellKind, LearningSql};
use crate::error::QueryError;
use crate::StoreError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// SQLite: a pool of up to 4 connections to one file.
#[derive(Debug)]
pub struct SqliteBackend {
    /// For configured queries: opened read-only, one connection per query, never pooled.
    read_only: SqliteConnectOptions,
    /// `DB_FILE.migrate.lock`; `None` for in-memory databases.
    migrate_lock: Option<PathBuf>,
}

impl Backend for SqliteBackend {
    type Db = Sqlite;

    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const BEGIN_READ: &'static str = "BEGIN";
    const FOR_UPDATE: &'static str = "";
    const SHORT_LOCK_WAIT: Option<&'static str> = None;
    const END_SESSIONS: Option<&'static str> = None;
    const LOCK_HOLDERS: Option<&'static str> = None;
    const END_STALLED_HOLDERS: Option<&'static str> = None;
    const EXCLUDE_INGEST: Option<&'static str> = None;
    const NOTIFY: bool = false;
    const UNREADABLE_HINT: &'static str = ", which a guardrail cannot read";
    const LEARNING: LearningSql = LearningSql {
        discoveries: "discovery_decisions",
        theses: "thesis_decisions",
        outcomes: "trade_outcomes",
        rejections: "learning_ingest_rejections",
        history: "learning_weights_history",
        within: "julianday(o.entry_timestamp) <= julianday(d.discovery_timestamp) + $3 / 86400.0",
        regime: "CAST(json_extract(market_conditions, '$.regime') AS TEXT)",
    };

    /// Opens (creating if missing) the database file; connects lazily.
    fn connect(url: &DatabaseUrl) -> Result<(SqlitePool, SqliteBackend), StoreError> {
        let DatabaseUrl::Sqlite(sqlite) = url else {
            return Err(BadUrl::driver(url, "expected a sqlite: URL").into());
        };
        let options = SqliteConnectOptions::from_str(url.expose())
            .map_err(|e| BadUrl::driver(url, e))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before it is acknowledged, even across power loss.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let migrate_lock = lock_path(sqlite, &options, ".migrate.lock");
        let read_only = options.clone().read_only(true).create_if_missing(false);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(options);
        Ok((
            pool,
            SqliteBackend {
                read_only,
                migrate_lock,
            },
        ))
    }

    fn migrator() -> &'static sqlx::migrate::Migrator {
        &MIGRATOR
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

    /// Nothing: configured queries are bounded by an authorizer on their connection.
    async fn after_migrate(&self, _pool: &SqlitePool) {}

    /// On its own read-only connection (SQLite refuses every write on it, whatever the text
    /// holds, and an open transaction dies with it), interrupted by a progress handler once
    /// `timeout` has passed.
    async fn configured_rows<'a>(
        &'a self,
        _pool: &'a SqlitePool,
        query: &'a str,
        params: &'a [QueryParam],
        timeout: Duration,
    ) -> Result<Vec<SqliteRow>, StoreError> {
        let mut conn = self.read_only.connect().await?;
        let deadline = Instant::now() + timeout;
        let mut handle = conn.lock_handle().await?;
        handle.set_progress_handler(1000, move || Instant::now() < deadline);
        reads_only(handle.as_raw_handle().as_ptr());
        drop(handle);
        let rows = configured::bind(sqlx::query(query), params)
            .fetch_all(&mut conn)
            .await;
        let _ = conn.close().await;
        rows.map_err(|e| {
            if Instant::now() >= deadline {
                StoreError::UserQuery(QueryError::Timeout(timeout))
            } else {
                StoreError::user_query(e)
            }
        })
    }

    async fn copy_observations(
        _conn: &mut sqlx::SqliteConnection,
        _text: &[u8],
    ) -> Result<bool, StoreError> {
        Ok(false)
    }

    fn cell_kind(type_name: &str) -> Option<CellKind> {
        Some(match type_name {
            "INTEGER" => CellKind::I64,
            "BOOLEAN" => CellKind::Bool,
            "REAL" | "NUMERIC" => CellKind::F64,
            "TEXT" => CellKind::Text,
            _ => return None,
        })
    }

    fn rows_affected(result: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        result.rows_affected()
    }
}

/// Lets the connection read and nothing else: an authorizer that allows `SELECT`, reading
/// columns, calling functions and recursive CTEs, and denies every other action (`PRAGMA`,
/// `ATTACH`, `VACUUM INTO`, writes, transactions). A read-only connection alone still lets
/// `VACUUM INTO` copy the database to any path, and a `PRAGMA` change its mode.
fn reads_only(db: *mut libsqlite3_sys::sqlite3) {
    use libsqlite3_sys as ffi;
    use std::os::raw::{c_char, c_int, c_void};

    unsafe extern "C" fn authorize(
        _: *mut c_void,
        action: c_int,
        _: *const c_char,
        _: *const c_char,
        _: *const c_char,
        _: *const c_char,
    ) -> c_int {
        match action {
            ffi::SQLITE_SELECT
            | ffi::SQLITE_READ
            | ffi::SQLITE_FUNCTION
            | ffi::SQLITE_RECURSIVE => ffi::SQLITE_OK,
            _ => ffi::SQLITE_DENY,
        }
    }
    // SAFETY: `db` is the open connection's handle, locked by the caller for the call; the
    // callback is a plain function that reads only its arguments.
    unsafe {
        ffi::sqlite3_set_authorizer(db, Some(authorize), std::ptr::null_mut());
    }
}

/// `DB_FILE` + `suffix` beside the database file, or `None` for an in-memory database.
pub(crate) fn lock_path(
    url: &rollout_core::database_url::SqliteUrl,
    options: &SqliteConnectOptions,
    suffix: &str,
) -> Option<PathBuf> {
    // The file as sqlx opens it (percent-decoded the same way as `url.path()`).
    let file = options.get_filename();
    if url.is_memory() || file.as_os_str().is_empty() {
        return None;
    }
    let mut p = file.as_os_str().to_owned();
    p.push(suffix);
    Some(PathBuf::from(p))
}
