//! Guardrail readings, and the configured queries that measure them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use rollout_core::records::{GuardrailReading, QueryParam, SqlValue};

use crate::backend::configured;
use crate::backend::{Args, Backend, ColumnType, Conn, Db, DbRow};
use crate::rows::GuardrailStatusRow;
use crate::{GuardrailStore, SqlStore, StoreError};

#[async_trait]
impl<B> GuardrailStore for SqlStore<B>
where
    B: Backend,
    for<'c> &'c mut Conn<B>: Executor<'c, Database = Db<B>>,
    for<'q> Args<'q, B>: IntoArguments<'q, Db<B>>,
    for<'q> &'q str: Encode<'q, Db<B>> + Type<Db<B>>,
    for<'n> &'n str: ColumnIndex<DbRow<B>>,
    usize: ColumnIndex<DbRow<B>>,
    String: ColumnType<Db<B>>,
    i64: ColumnType<Db<B>>,
    f64: ColumnType<Db<B>>,
    DateTime<Utc>: ColumnType<Db<B>>,
    Option<f64>: ColumnType<Db<B>>,
    for<'r> bool: Decode<'r, Db<B>>,
    for<'r> i16: Decode<'r, Db<B>>,
    for<'r> i32: Decode<'r, Db<B>>,
    for<'r> f32: Decode<'r, Db<B>>,
{
    async fn run_query(
        &self,
        query: &str,
        params: &[QueryParam],
        timeout: std::time::Duration,
    ) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        let rows = self
            .backend
            .configured_rows(&self.pool, query, params, timeout)
            .await?;
        rows.iter().map(configured::cells::<B>).collect()
    }

    async fn guardrail_status(&self, rollout: &str) -> Result<Vec<GuardrailReading>, StoreError> {
        let rows: Vec<GuardrailStatusRow> = sqlx::query_as(
            "SELECT guardrail, status, consecutive, value, control_value, n, detail, evaluated_at \
             FROM guardrail_status WHERE rollout = $1 ORDER BY guardrail",
        )
        .bind(rollout)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(GuardrailReading::try_from).collect()
    }

    async fn record_guardrails(
        &self,
        rollout: &str,
        readings: &[GuardrailReading],
        epoch: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with(B::BEGIN_WRITE).await?;
        if let Some(epoch) = epoch {
            crate::state::fence::<B>(&mut tx, epoch).await?;
        }
        for r in readings {
            sqlx::query(
                "INSERT INTO guardrail_status (rollout, guardrail, status, consecutive, value, control_value, n, detail, \
                 evaluated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (rollout, guardrail) DO UPDATE SET \
                 status = excluded.status, consecutive = excluded.consecutive, value = excluded.value, \
                 control_value = excluded.control_value, n = excluded.n, detail = excluded.detail, \
                 evaluated_at = excluded.evaluated_at",
            )
            .bind(rollout)
            .bind(&r.guardrail)
            .bind(r.status.as_str())
            .bind(i64::from(r.consecutive))
            .bind(r.value)
            .bind(r.control_value)
            .bind(r.n as i64)
            .bind(&r.detail)
            .bind(r.evaluated_at)
            .execute(&mut *tx)
            .await?;
            // And the series the dashboard draws: one row per evaluation.
            sqlx::query(
                "INSERT INTO guardrail_readings (rollout, guardrail, status, consecutive, value, control_value, n, \
                 detail, evaluated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(rollout)
            .bind(&r.guardrail)
            .bind(r.status.as_str())
            .bind(i64::from(r.consecutive))
            .bind(r.value)
            .bind(r.control_value)
            .bind(r.n as i64)
            .bind(&r.detail)
            .bind(r.evaluated_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
