//! The production store.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Row, TypeInfo, ValueRef};

use super::sql::impl_sql_store;
use super::{QueryParam, SqlValue, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

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
    begin_read = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    pg_notify = true
);

impl PgStore {
    /// A configured query in a read-only transaction with a statement timeout.
    async fn read_only_query(
        &self,
        query: &str,
        params: &[QueryParam],
        timeout: Duration,
    ) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN READ ONLY").await?;
        sqlx::query(&format!(
            "SET LOCAL statement_timeout = {}",
            timeout.as_millis().max(1)
        ))
        .execute(&mut *tx)
        .await?;
        let mut q = sqlx::query(query);
        for p in params {
            q = match p {
                QueryParam::Text(t) => q.bind(t.clone()),
                QueryParam::Time(t) => q.bind(*t),
            };
        }
        let rows = q.fetch_all(&mut *tx).await.map_err(user_query_error)?;
        tx.rollback().await?;
        rows.iter().map(pg_row).collect()
    }
}

/// A failing configured query is the configuration's problem unless the store is down.
pub(super) fn user_query_error(e: sqlx::Error) -> StoreError {
    match StoreError::from(e) {
        StoreError::Query(e) => StoreError::UserQuery(e.to_string()),
        other => other,
    }
}

fn pg_row(row: &PgRow) -> Result<Vec<SqlValue>, StoreError> {
    (0..row.columns().len())
        .map(|i| {
            let raw = row.try_get_raw(i).map_err(user_query_error)?;
            if raw.is_null() {
                return Ok(SqlValue::Null);
            }
            let ty = raw.type_info().name().to_owned();
            let bad = |e: sqlx::Error| StoreError::UserQuery(e.to_string());
            Ok(match ty.as_str() {
                "BOOL" => SqlValue::Bool(row.try_get::<bool, _>(i).map_err(bad)?),
                "INT2" => SqlValue::Number(f64::from(row.try_get::<i16, _>(i).map_err(bad)?)),
                "INT4" => SqlValue::Number(f64::from(row.try_get::<i32, _>(i).map_err(bad)?)),
                "INT8" => SqlValue::Number(row.try_get::<i64, _>(i).map_err(bad)? as f64),
                "FLOAT4" => SqlValue::Number(f64::from(row.try_get::<f32, _>(i).map_err(bad)?)),
                "FLOAT8" => SqlValue::Number(row.try_get::<f64, _>(i).map_err(bad)?),
                "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => {
                    SqlValue::Text(row.try_get::<String, _>(i).map_err(bad)?)
                }
                other => {
                    return Err(StoreError::UserQuery(format!(
                        "column {} has type {other}; cast it to double precision, bigint, boolean or text",
                        i + 1
                    )))
                }
            })
        })
        .collect()
}
