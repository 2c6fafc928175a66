//! The production store.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::sql::impl_sql_store;
use super::StoreError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub struct PgStore {
    pub(crate) pool: PgPool,
}

impl PgStore {
    /// A lazily connecting pool; nothing is contacted until the first query.
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        let options =
            PgConnectOptions::from_str(url).map_err(|_| StoreError::BadUrl(url.to_owned()))?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(options.application_name("rollout"));
        Ok(PgStore { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// sqlx's PostgreSQL migrator takes an advisory lock itself.
    async fn migration_guard(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl_sql_store!(
    PgStore,
    sqlx::Postgres,
    MIGRATOR,
    begin_write = "BEGIN",
    begin_read = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
);
