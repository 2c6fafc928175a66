//! What differs between PostgreSQL and SQLite, and nothing else: the pool, the migrations
//! and how they are serialised, how a transaction begins, whether commits `NOTIFY`, how a
//! configured query is isolated and bounded, the names of the column types it can read, and
//! the few dialect differences of the learning SQL. All the SQL and all the logic live once,
//! in [`crate::SqlStore`], generic over a [`Backend`].

pub(crate) mod configured;
mod postgres;
mod sqlite;

use std::fs::File;
use std::future::Future;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::{Database, Decode, Encode, Pool, Type};

use rollout_core::records::QueryParam;
use rollout_core::DatabaseUrl;

use crate::StoreError;

pub use postgres::PgBackend;
pub use postgres::{listener_pool, session_name, QUERY_ROLE};

pub use sqlite::SqliteBackend;

/// A database rollout can keep its state in. Implemented by [`PgBackend`] and
/// [`SqliteBackend`] only.
pub trait Backend: sealed::Sealed + Send + Sync + Sized + 'static {
    type Db: Database;

    /// How a transaction that writes begins (SQLite takes its write lock at once).
    const BEGIN_WRITE: &'static str;
    /// How a transaction that reads several tables consistently begins.
    const BEGIN_READ: &'static str;
    /// Appended to a SELECT that reads rows the transaction will update (PostgreSQL locks
    /// them; SQLite's write transaction already excludes every other writer).
    const FOR_UPDATE: &'static str;
    /// Run first in a transaction that must not wait long for a lock (PostgreSQL's
    /// `lock_timeout`; SQLite waits `busy_timeout`).
    const SHORT_LOCK_WAIT: Option<&'static str>;
    /// Ends the sessions whose `application_name` is `$1`, other than the caller's, and
    /// counts them (PostgreSQL; SQLite has no server sessions).
    const END_SESSIONS: Option<&'static str>;
    /// Describes each other session whose open transaction wrote a table a commit locks
    /// (`rollout_state`, `rollout_flags_version`, `rollout_leader`): what a commit that
    /// timed out waiting for a lock waited for.
    const LOCK_HOLDERS: Option<&'static str>;
    /// Ends those of [`Backend::LOCK_HOLDERS`] idle in their transaction for at least `$1`
    /// milliseconds (a frozen process: a commit's statements follow each other at once),
    /// and describes each.
    const END_STALLED_HOLDERS: Option<&'static str>;
    /// Run first in a transaction that must exclude every ingest until it commits (SQLite's
    /// write transaction already does).
    const EXCLUDE_INGEST: Option<&'static str>;
    /// Whether commits and ingests `pg_notify` listeners (PostgreSQL only).
    const NOTIFY: bool;
    /// What a configured query's column of an unreadable type should be cast to.
    const UNREADABLE_HINT: &'static str;
    /// The learning tables and the expressions that differ between the dialects.
    const LEARNING: LearningSql;

    /// A lazily connecting pool for `url`, and the backend's own state; refuses a URL of
    /// the other backend.
    fn connect(url: &DatabaseUrl) -> Result<(Pool<Self::Db>, Self), StoreError>;

    fn migrator() -> &'static Migrator;

    /// Held while migrating, so that processes starting together migrate one at a time.
    fn migration_guard(&self) -> impl Future<Output = Result<Option<File>, StoreError>> + Send;

    /// What the backend sets up after the migrations: on PostgreSQL, the role configured
    /// queries run as. Best effort: what it cannot do is logged, never fatal.
    fn after_migrate<'a>(
        &'a self,
        pool: &'a Pool<Self::Db>,
    ) -> impl Future<Output = ()> + Send + 'a;

    /// Runs a configured query read-only, interrupted at `timeout`, and returns its rows.
    /// Binding the parameters and classifying the failures are shared (`configured::bind`,
    /// `StoreError::user_query`); isolating and bounding the query is the backend's.
    fn configured_rows<'a>(
        &'a self,
        pool: &'a Pool<Self::Db>,
        query: &'a str,
        params: &'a [QueryParam],
        timeout: Duration,
    ) -> impl Future<Output = Result<Vec<<Self::Db as Database>::Row>, StoreError>> + Send + 'a;

    /// Loads observation rows, rendered in COPY's text format (see [`crate::copy`]), into
    /// the transaction's `observation_staging` table with `COPY`, and says so; `false` where
    /// the backend has no bulk path (SQLite: multi-row INSERTs are its fastest path).
    fn copy_observations<'a>(
        conn: &'a mut Conn<Self>,
        text: &'a [u8],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send + 'a;

    /// How a configured query's column of this type name is read, if at all.
    fn cell_kind(type_name: &str) -> Option<CellKind>;

    /// The rows a statement changed (sqlx has no trait method for it).
    fn rows_affected(result: &<Self::Db as Database>::QueryResult) -> u64;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::PgBackend {}
    impl Sealed for super::SqliteBackend {}
}

/// The Rust type a configured query's column is decoded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    Bool,
    I16,
    I32,
    I64,
    F32,
    F64,
    Text,
}

/// The learning module's SQL pieces that differ: PostgreSQL keeps the tables in the
/// `learning` schema (JSONB), SQLite as plain tables (JSON text).
#[derive(Debug, Clone, Copy)]
pub struct LearningSql {
    pub discoveries: &'static str,
    pub theses: &'static str,
    pub outcomes: &'static str,
    pub history: &'static str,
    /// Learning rows refused at ingest.
    pub rejections: &'static str,
    /// Whether the trade's entry `o.entry_timestamp` is within `$3` seconds after the
    /// discovery `d.discovery_timestamp`.
    pub within: &'static str,
    /// `market_conditions.regime` as text.
    pub regime: &'static str,
}

/// A Rust type the store binds and reads on `DB` (for every lifetime).
pub trait ColumnType<DB: Database>:
    for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB> + Send + Sync
{
}

impl<DB: Database, T> ColumnType<DB> for T where
    T: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB> + Send + Sync
{
}

/// The backend's sqlx database, connection, arguments and row.
pub type Db<B> = <B as Backend>::Db;
pub type Conn<B> = <<B as Backend>::Db as Database>::Connection;
pub type Args<'q, B> = <<B as Backend>::Db as Database>::Arguments<'q>;
pub type DbRow<B> = <<B as Backend>::Db as Database>::Row;
