//! Persistence: the store's capabilities as narrow traits ([`StateStore`],
//! [`ObservationStore`], [`ArrivalStore`], [`GuardrailStore`], [`OutboxStore`], [`LearningStore`],
//! [`SeriesStore`], [`ReportStore`]; [`Store`]
//! is all of them), implemented once by [`SqlStore`], generic over its [`Backend`]:
//! PostgreSQL ([`PgStore`]) or SQLite ([`SqliteStore`]).
//!
//! Every committed [`Transition`](rollout_core::controller::Transition) changes state, flags
//! and history in one transaction, guarded by compare-and-set on the state version and,
//! for daemon writes, by the leader's epoch.

mod arrivals;
mod backend;
mod backup;
mod buckets;
mod copy;
mod error;
mod guardrails;
mod learning;
mod migrations;
mod observations;
mod outbox;
mod panels;
mod rebuild;
mod report;
pub mod roles;
mod rows;
mod series;
mod state;
mod store;
mod tables;
mod test_hook;
#[cfg(test)]
mod tests;
mod traits;
mod units;

pub use backend::{
    listener_pool as pg_listener_pool, Backend, CellKind, LearningSql, PgBackend, SqliteBackend,
};
pub use error::{QueryError, Result, StoreError};
pub use rollout_core::records::{
    Committed, EventRow, FlagChange, FlagRow, FlagTable, GuardrailReading, LeaderRecord,
    LearningCounts, Lease, OutboxRow, PendingHold, PerVariant, QueryParam, ReadingStatus, SqlValue,
    WeightsRecord, WindowValue, Writer,
};
pub use rollout_core::series::{AnalysisSnapshot, GuardrailPoint};
pub use rollout_core::{BadUrl, DatabaseUrl};
pub use store::{PgStore, SqlStore, SqliteStore};
pub use traits::{
    AdminStore, ArrivalStore, Arrivals, Dumped, GuardrailStore, LearningStore, ObservationStore,
    OutboxStore, PanelStore, ReportStore, SeriesStore, StateStore, Store,
};

/// Opens the store `url` names (`sqlite:...` or `postgres://...`); connects lazily.
pub fn open(url: &str) -> Result<Box<dyn Store>, StoreError> {
    open_url(&DatabaseUrl::parse(url)?)
}

/// Opens the store `url` names; connects lazily.
pub fn open_url(url: &DatabaseUrl) -> Result<Box<dyn Store>, StoreError> {
    Ok(match url {
        DatabaseUrl::Sqlite(_) => Box::new(SqliteStore::open_url(url)?),
        DatabaseUrl::Postgres(_) => Box::new(PgStore::open_url(url)?),
    })
}

/// Opens the store `url` names with a pool of at most `max` connections; connects lazily.
pub fn open_url_with_pool(url: &DatabaseUrl, max: u32) -> Result<Box<dyn Store>, StoreError> {
    Ok(match url {
        DatabaseUrl::Sqlite(_) => Box::new(SqliteStore::open_url_with_pool(url, max)?),
        DatabaseUrl::Postgres(_) => Box::new(PgStore::open_url_with_pool(url, max)?),
    })
}
