//! Persistence: one [`Store`] trait with a PostgreSQL and a SQLite implementation.
//!
//! Every committed [`Transition`] changes state, flags and history in one transaction,
//! guarded by compare-and-set on the state version and, for daemon writes, by the
//! leader's epoch.

mod leader;
mod learning;
mod postgres;
mod sql;
mod sqlite;

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use rollout_core::controller::{RolloutState, Transition};
use rollout_core::experiment::{IngestReport, Observation};
use rollout_core::stats::{Moments, RankSums};

pub use leader::{LeaderCheck, Leadership};
pub use learning::LearningStore;
pub use postgres::PgStore;
pub use rollout_core::records::{
    Committed, EventRow, FlagChange, FlagRow, FlagTable, GuardrailReading, LearningCounts,
    OutboxRow, PerVariant, QueryParam, ReadingStatus, SqlValue, WeightsRecord, WindowValue, Writer,
};
pub use sqlite::SqliteStore;

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
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    BadUrl(String),
    /// A query from the configuration failed (bad SQL, a timeout, a type it cannot read).
    #[error("configured query failed: {0}")]
    UserQuery(String),
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

/// PostgreSQL shutdown/connection classes and SQLite's busy/locked codes.
fn is_unavailable_code(code: Option<&str>) -> bool {
    matches!(code, Some(c) if c.starts_with("08") || c.starts_with("57P") || c == "5" || c == "6" || c == "517")
}

#[async_trait]
pub trait Store: LearningStore + Send + Sync {
    /// Creates or upgrades the tables.
    async fn migrate(&self) -> Result<(), StoreError>;
    async fn state(&self, rollout: &str) -> Result<Option<RolloutState>, StoreError>;
    async fn states(&self) -> Result<Vec<RolloutState>, StoreError>;
    /// Commits `t` atomically, or fails with `Conflict`/`Fenced` having written nothing.
    async fn commit(
        &self,
        t: &Transition,
        writer: &Writer,
        now: DateTime<Utc>,
    ) -> Result<Committed, StoreError>;
    async fn flags(&self) -> Result<FlagTable, StoreError>;
    /// The stored flags of one rollout, key → value.
    async fn rollout_flags(&self, rollout: &str) -> Result<BTreeMap<String, String>, StoreError>;
    async fn history(&self, rollout: &str) -> Result<Vec<EventRow>, StoreError>;
    /// The table-wide flags version (`rollout_flags_version`).
    async fn flags_version(&self) -> Result<i64, StoreError>;
    /// The committed flag changes with a version above `version`, oldest first, at most
    /// `limit` history rows read; from the history, so a change is never missed.
    async fn flag_changes_since(
        &self,
        version: i64,
        limit: i64,
    ) -> Result<Vec<FlagChange>, StoreError>;
    /// Starts a new leader epoch for `holder` and returns it; writes fenced by older epochs fail.
    async fn new_epoch(&self, holder: &str, now: DateTime<Utc>) -> Result<i64, StoreError>;
    /// A cheap round trip, to tell whether the store is reachable.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores observations and updates their sufficient statistics in one transaction.
    /// Rows whose `event_id` is already stored are skipped.
    async fn ingest(
        &self,
        rollout: &str,
        rows: &[Observation],
        now: DateTime<Utc>,
    ) -> Result<IngestReport, StoreError>;
    /// The maintained count, sum and sum of squares of a metric per variant.
    async fn moments(&self, rollout: &str, metric: &str)
        -> Result<PerVariant<Moments>, StoreError>;
    /// Rank sums for the Mann-Whitney test, computed in SQL.
    async fn rank_sums(&self, rollout: &str, metric: &str) -> Result<RankSums, StoreError>;
    /// Distinct units observed per variant.
    async fn unit_counts(&self, rollout: &str) -> Result<PerVariant<u64>, StoreError>;

    /// A metric's observations since `since`, aggregated per variant.
    async fn window_aggregate(
        &self,
        rollout: &str,
        metric: &str,
        since: DateTime<Utc>,
        aggregate: rollout_core::config::Aggregate,
    ) -> Result<PerVariant<WindowValue>, StoreError>;
    /// When the newest observation of a rollout arrived.
    async fn last_ingested_at(&self, rollout: &str) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Runs a configured query read-only, bounded by `timeout`. Its failures are
    /// `UserQuery`; only an unreachable store is `Unavailable`.
    async fn run_query(
        &self,
        query: &str,
        params: &[QueryParam],
        timeout: std::time::Duration,
    ) -> Result<Vec<Vec<SqlValue>>, StoreError>;
    /// The last reading of each guardrail of a rollout.
    async fn guardrail_status(&self, rollout: &str) -> Result<Vec<GuardrailReading>, StoreError>;
    /// Replaces the readings of the guardrails named in `readings`.
    async fn record_guardrails(
        &self,
        rollout: &str,
        readings: &[GuardrailReading],
    ) -> Result<(), StoreError>;
    /// Claims the undelivered webhooks due at `now` until `lease_until`, oldest first: at most
    /// one per URL (so each receiver sees events in order), and a claimed row is not handed
    /// to another sender until its lease ends.
    async fn claim_webhooks(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<OutboxRow>, StoreError>;
    /// Records a delivery attempt: delivered, or failed and retried at `retry_at`.
    async fn webhook_attempt(
        &self,
        id: i64,
        outcome: Result<(), String>,
        now: DateTime<Utc>,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// Opens the store named by `url` (`sqlite://...` or `postgres://...`); connects lazily.
pub fn open(url: &str) -> Result<Box<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Box::new(SqliteStore::open(url)?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Box::new(PgStore::open(url)?))
    } else {
        Err(StoreError::BadUrl(url.to_owned()))
    }
}

/// The flag changes that turn `current` into `desired`.
fn diff(
    current: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> BTreeMap<String, Option<String>> {
    let mut changes = BTreeMap::new();
    for (k, v) in desired {
        if current.get(k) != Some(v) {
            changes.insert(k.clone(), Some(v.clone()));
        }
    }
    for k in current.keys() {
        if !desired.contains_key(k) {
            changes.insert(k.clone(), None);
        }
    }
    changes
}
