//! The embedded default store: one file, WAL mode.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::sql::impl_sql_store;
use super::StoreError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
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
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(options);
        Ok(SqliteStore { pool, migrate_lock })
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
    begin_read = "BEGIN"
);
