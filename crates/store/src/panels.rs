//! The dashboard's panels beside the series: a rollout's webhook deliveries (the outbox),
//! its weights history and the history rows that wrote its weights flag. Pages newest first.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use rollout_core::deliveries::Delivery;
use rollout_core::records::WeightsRecord;
use rollout_core::series::{WeightsFlagChange, WeightsPoint};

use crate::backend::{Args, Backend, ColumnType, Conn, Db, DbRow};
use crate::rows::{JsonValue, WeightsHistoryRow};
use crate::{PanelStore, SqlStore, StoreError};

/// A row of `rollout_outbox` with the action and time of the history row it announces.
#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: i64,
    event_id: i64,
    action: Option<String>,
    at: Option<DateTime<Utc>>,
    url: String,
    attempts: i64,
    last_error: Option<String>,
    next_attempt_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
    abandoned_at: Option<DateTime<Utc>>,
}

/// A row of the weights history with its id.
#[derive(sqlx::FromRow)]
struct WeightsPointRow {
    id: i64,
    #[sqlx(flatten)]
    record: WeightsHistoryRow,
}

/// A history row's id, time, action and the flags it wrote.
#[derive(sqlx::FromRow)]
struct FlagWriteRow {
    id: i64,
    at: DateTime<Utc>,
    action: String,
    flags: JsonValue,
}

/// The cursor as bound: no cursor reads from the newest row.
fn below(before: Option<i64>) -> i64 {
    before.unwrap_or(i64::MAX)
}

/// A `LIKE` pattern matching text that contains `"key"`, with `\` as the escape.
fn containing_key(key: &str) -> String {
    let mut p = String::from("%\"");
    for c in key.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push_str("\"%");
    p
}

#[async_trait]
impl<B> PanelStore for SqlStore<B>
where
    B: Backend,
    for<'c> &'c mut Conn<B>: Executor<'c, Database = Db<B>>,
    for<'q> Args<'q, B>: IntoArguments<'q, Db<B>>,
    for<'q> &'q str: Encode<'q, Db<B>> + Type<Db<B>>,
    for<'n> &'n str: ColumnIndex<DbRow<B>>,
    String: ColumnType<Db<B>>,
    i64: ColumnType<Db<B>>,
    f64: ColumnType<Db<B>>,
    bool: ColumnType<Db<B>>,
    DateTime<Utc>: ColumnType<Db<B>>,
    JsonValue: ColumnType<Db<B>>,
    Option<String>: ColumnType<Db<B>>,
    Option<i64>: ColumnType<Db<B>>,
    Option<f64>: ColumnType<Db<B>>,
    Option<DateTime<Utc>>: ColumnType<Db<B>>,
{
    async fn deliveries(
        &self,
        rollout: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let rows: Vec<DeliveryRow> = sqlx::query_as(
            "SELECT o.id, o.event_id, e.action, e.at, o.url, o.attempts, o.last_error, \
             o.next_attempt_at, o.delivered_at, o.abandoned_at FROM rollout_outbox o \
             LEFT JOIN rollout_events e ON e.id = o.event_id \
             WHERE o.rollout = $1 AND o.id < $2 ORDER BY o.id DESC LIMIT $3",
        )
        .bind(rollout)
        .bind(below(before))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                Delivery::shown(
                    r.id,
                    r.event_id,
                    r.action,
                    r.at,
                    &r.url,
                    r.attempts,
                    r.last_error,
                    r.next_attempt_at,
                    r.delivered_at,
                )
                .abandoned(r.abandoned_at)
            })
            .collect())
    }

    async fn weights_page(
        &self,
        rollout: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<WeightsPoint>, StoreError> {
        let q = format!(
            "SELECT id, rollout, computed_at, current, suggested, final_weights, fallback, reason, \
             confidence, sample_size, regime, inputs FROM {} WHERE rollout = $1 AND id < $2 \
             ORDER BY id DESC LIMIT $3",
            B::LEARNING.history
        );
        let rows: Vec<WeightsPointRow> = sqlx::query_as(&q)
            .bind(rollout)
            .bind(below(before))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(WeightsPoint {
                    id: r.id,
                    record: WeightsRecord::try_from(r.record)?,
                })
            })
            .collect()
    }

    async fn flag_writes(
        &self,
        rollout: &str,
        key: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<WeightsFlagChange>, StoreError> {
        let rows: Vec<FlagWriteRow> = sqlx::query_as(
            "SELECT id, at, action, flags FROM rollout_events WHERE rollout = $1 AND id < $2 \
             AND CAST(flags AS TEXT) LIKE $3 ESCAPE '\\' ORDER BY id DESC LIMIT $4",
        )
        .bind(rollout)
        .bind(below(before))
        .bind(containing_key(key))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                // The pattern may match the key inside a value: only rows writing it count.
                let written = r.flags.0.get(key)?;
                let weights = written
                    .as_str()
                    .map(|t| serde_json::from_str(t).unwrap_or_else(|_| t.into()));
                Some(WeightsFlagChange {
                    id: r.id,
                    at: r.at,
                    action: r.action,
                    weights,
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::containing_key;

    #[test]
    fn the_key_pattern_escapes_like_wildcards() {
        assert_eq!(containing_key("A_WEIGHTS"), "%\"A\\_WEIGHTS\"%");
        assert_eq!(containing_key("a%b\\"), "%\"a\\%b\\\\\"%");
    }
}
