//! The store's errors: what went wrong, typed, so that callers can tell an unreachable
//! store from a conflict, a fenced leader or a failing configured query.

use std::time::Duration;

use rollout_core::BadUrl;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store is unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("store query failed: {0}")]
    Query(#[source] sqlx::Error),
    #[error("migrating the store failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("rollout {rollout} changed concurrently (expected state version {expected:?}); nothing was written")]
    Conflict {
        rollout: String,
        expected: Option<i64>,
    },
    #[error(
        "this process is no longer the leader (epoch {epoch} was superseded); nothing was written"
    )]
    Fenced { epoch: i64 },
    #[error("the store holds a value this version cannot read: {0}")]
    Corrupt(String),
    /// The URL, with its password redacted, and why it was refused.
    #[error(transparent)]
    BadUrl(#[from] BadUrl),
    /// A query from the configuration failed (bad SQL, a timeout, a type it cannot read).
    #[error("configured query failed: {0}")]
    UserQuery(#[source] QueryError),
    /// The database does not exist, and this command does not create one (only `daemon`,
    /// `tick` and `ingest` do): a typo or the wrong directory, not an empty store.
    /// An operation the store refuses as asked: restoring into a store that holds data.
    #[error("{0}")]
    Refused(String),
    /// What this kind of store cannot do (roles on SQLite), or input it cannot load.
    #[error("{0}")]
    Invalid(String),
    #[error("no database at {0}; only `rollout daemon`, `tick` and `ingest` create one (check --database, ROLLOUT_DATABASE_URL or the config's `database`)")]
    Missing(String),
}

/// Why a configured query failed, when the store itself is reachable.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The database refused or failed the query (a syntax error, a missing table, a write
    /// on the read-only connection, PostgreSQL's `statement_timeout`), or a value could not
    /// be decoded.
    #[error("{0}")]
    Sql(#[source] sqlx::Error),
    /// The query was interrupted at its deadline (SQLite's progress handler).
    #[error("the query did not finish within {0:?}")]
    Timeout(Duration),
    /// A column of a type a guardrail cannot read; `hint` says what to cast it to.
    #[error("column {column} has type {type_name}{hint}")]
    UnreadableColumn {
        /// One-based.
        column: usize,
        type_name: String,
        hint: &'static str,
    },
}

impl QueryError {
    /// Whether the query ran out of time: interrupted at its deadline (SQLite), or
    /// cancelled by `statement_timeout` (PostgreSQL's `query_canceled`, 57014).
    pub fn is_timeout(&self) -> bool {
        match self {
            QueryError::Timeout(_) => true,
            QueryError::Sql(sqlx::Error::Database(db)) => db.code().as_deref() == Some("57014"),
            _ => false,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e),
            sqlx::Error::Database(ref db) if is_unavailable_code(db.code().as_deref()) => {
                StoreError::Unavailable(e)
            }
            other => StoreError::Query(other),
        }
    }
}

impl StoreError {
    /// Whether a statement gave up waiting for a lock (PostgreSQL's `lock_timeout`,
    /// `lock_not_available`, 55P03): another transaction holds it; worth a retry.
    pub fn is_lock_timeout(&self) -> bool {
        matches!(self, StoreError::Query(sqlx::Error::Database(db)) if db.code().as_deref() == Some("55P03"))
    }

    /// A configured query's failure: the configuration's problem unless the connection to
    /// the store failed. Whatever the database answered (a syntax error, a refused
    /// statement, SQLite's "database is locked" from a `PRAGMA` the query should not run)
    /// is the query's: it holds its rollout and never passes for an unavailable store.
    pub(crate) fn user_query(e: sqlx::Error) -> StoreError {
        match e {
            sqlx::Error::Database(_) => StoreError::UserQuery(QueryError::Sql(e)),
            e => match StoreError::from(e) {
                StoreError::Query(e) => StoreError::UserQuery(QueryError::Sql(e)),
                other => other,
            },
        }
    }
}

/// PostgreSQL shutdown/connection classes and SQLite's busy/locked codes.
fn is_unavailable_code(code: Option<&str>) -> bool {
    matches!(code, Some(c) if c.starts_with("08") || c.starts_with("57P") || c == "5" || c == "6" || c == "517")
}

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
