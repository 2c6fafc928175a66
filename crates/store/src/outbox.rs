//! The webhook outbox: claiming due deliveries and recording attempts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use rollout_core::records::OutboxRow;

use crate::backend::{Args, Backend, ColumnType, Conn, Db, DbRow};
use crate::rows::OutboxClaimRow;
use crate::{OutboxStore, SqlStore, StoreError};

#[async_trait]
impl<B> OutboxStore for SqlStore<B>
where
    B: Backend,
    for<'c> &'c mut Conn<B>: Executor<'c, Database = Db<B>>,
    for<'q> Args<'q, B>: IntoArguments<'q, Db<B>>,
    for<'q> &'q str: Encode<'q, Db<B>> + Type<Db<B>>,
    for<'n> &'n str: ColumnIndex<DbRow<B>>,
    String: ColumnType<Db<B>>,
    i64: ColumnType<Db<B>>,
    DateTime<Utc>: ColumnType<Db<B>>,
{
    async fn claim_webhooks(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        // The oldest undelivered row of each URL, if due: a failing receiver blocks only
        // its own queue and never sees events out of order. Moving `next_attempt_at`
        // to the lease's end is the claim; a concurrent sender's UPDATE finds the row
        // no longer due.
        let mut rows: Vec<OutboxClaimRow> = sqlx::query_as(
            "UPDATE rollout_outbox SET next_attempt_at = $2 \
             WHERE id IN (SELECT MIN(id) FROM rollout_outbox WHERE delivered_at IS NULL \
             AND abandoned_at IS NULL GROUP BY url) \
             AND next_attempt_at <= $1 AND delivered_at IS NULL AND abandoned_at IS NULL \
             RETURNING id, event_id, rollout, url, payload, attempts",
        )
        .bind(now)
        .bind(lease_until)
        .fetch_all(&self.pool)
        .await?;
        rows.sort_by_key(|r| r.id);
        Ok(rows.into_iter().map(OutboxRow::from).collect())
    }

    async fn abandon_webhooks(
        &self,
        rollout: &str,
        url: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE rollout_outbox SET abandoned_at = $3, last_error = $4 \
             WHERE rollout = $1 AND url = $2 AND delivered_at IS NULL AND abandoned_at IS NULL",
        )
        .bind(rollout)
        .bind(url)
        .bind(now)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(B::rows_affected(&done))
    }

    async fn webhook_attempt(
        &self,
        id: i64,
        outcome: Result<(), String>,
        now: DateTime<Utc>,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match outcome {
            Ok(()) => sqlx::query(
                "UPDATE rollout_outbox SET attempts = attempts + 1, delivered_at = $2, last_error = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?,
            Err(e) => sqlx::query(
                "UPDATE rollout_outbox SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(retry_at)
            .bind(e)
            .execute(&self.pool)
            .await?,
        };
        Ok(())
    }
}
