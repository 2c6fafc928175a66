//! The SQL both backends share. The statements are the same text on PostgreSQL and
//! SQLite (`$N` placeholders, `ON CONFLICT`, `RETURNING`); only the pool type, the
//! migrations and how a transaction begins differ, so one macro implements [`Store`] for both.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::controller::{RolloutState, Status};

pub(super) const STATE_COLUMNS: &str =
    "rollout, stage_index, stage_label, stage_entered_at, status, reason, paused_at, paused_ms, version";

/// The raw columns of a `rollout_state` row.
pub(super) type StateTuple = (
    String,
    i64,
    String,
    DateTime<Utc>,
    String,
    Option<String>,
    Option<DateTime<Utc>>,
    i64,
    i64,
);

pub(super) fn state_from_row(row: StateTuple) -> Result<RolloutState, StoreError> {
    let (
        rollout,
        stage_index,
        stage_label,
        stage_entered_at,
        status,
        reason,
        paused_at,
        paused_ms,
        version,
    ) = row;
    Ok(RolloutState {
        rollout,
        stage_index: usize::try_from(stage_index)
            .map_err(|_| StoreError::Corrupt(format!("stage_index {stage_index}")))?,
        stage_label,
        stage_entered_at,
        status: status.parse::<Status>().map_err(StoreError::Corrupt)?,
        reason,
        paused_at,
        paused_ms,
        version,
    })
}

pub(super) type FlagTuple = (String, String, String, i64, DateTime<Utc>, String, String);
pub(super) type EventTuple = (
    i64,
    String,
    DateTime<Utc>,
    String,
    String,
    String,
    Option<i64>,
    i64,
    Option<String>,
    String,
    i64,
    i64,
    sqlx::types::Json<BTreeMap<String, Option<String>>>,
);

macro_rules! impl_sql_store {
    ($store:ty, $migrator:expr, begin_write = $begin_write:expr, begin_read = $begin_read:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn migrate(&self) -> Result<(), $crate::store::StoreError> {
                let _guard = self.migration_guard().await?;
                $migrator.run(&self.pool).await.map_err(|e| match e {
                    sqlx::migrate::MigrateError::Execute(inner) => $crate::store::StoreError::from(inner),
                    other => $crate::store::StoreError::Migrate(other),
                })
            }

            async fn state(&self, rollout: &str) -> Result<Option<$crate::controller::RolloutState>, $crate::store::StoreError> {
                let q = format!("SELECT {} FROM rollout_state WHERE rollout = $1", $crate::store::sql::STATE_COLUMNS);
                let row: Option<$crate::store::sql::StateTuple> =
                    sqlx::query_as(&q).bind(rollout).fetch_optional(&self.pool).await?;
                row.map($crate::store::sql::state_from_row).transpose()
            }

            async fn states(&self) -> Result<Vec<$crate::controller::RolloutState>, $crate::store::StoreError> {
                let q = format!("SELECT {} FROM rollout_state ORDER BY rollout", $crate::store::sql::STATE_COLUMNS);
                let rows: Vec<$crate::store::sql::StateTuple> = sqlx::query_as(&q).fetch_all(&self.pool).await?;
                rows.into_iter().map($crate::store::sql::state_from_row).collect()
            }

            async fn commit(
                &self,
                t: &$crate::controller::Transition,
                writer: &$crate::store::Writer,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::store::Committed, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let s = &t.to;
                let mut tx = self.pool.begin_with($begin_write).await?;
                // Compare-and-set first: it is a write, so SQLite takes its lock here.
                let cas = match t.expected_version() {
                    None => sqlx::query(
                        "INSERT INTO rollout_state (rollout, stage_index, stage_label, stage_entered_at, status, reason, \
                         paused_at, paused_ms, version, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                         ON CONFLICT (rollout) DO NOTHING",
                    ),
                    Some(_) => sqlx::query(
                        "UPDATE rollout_state SET stage_index = $2, stage_label = $3, stage_entered_at = $4, status = $5, \
                         reason = $6, paused_at = $7, paused_ms = $8, version = $9, updated_at = $10 \
                         WHERE rollout = $1 AND version = $11",
                    ),
                };
                let mut cas = cas
                    .bind(&s.rollout)
                    .bind(s.stage_index as i64)
                    .bind(&s.stage_label)
                    .bind(s.stage_entered_at)
                    .bind(s.status.as_str())
                    .bind(&s.reason)
                    .bind(s.paused_at)
                    .bind(s.paused_ms)
                    .bind(s.version)
                    .bind(now);
                if let Some(expected) = t.expected_version() {
                    cas = cas.bind(expected);
                }
                let rows = cas.execute(&mut *tx).await?.rows_affected();
                if rows != 1 {
                    return Err(StoreError::Conflict {
                        rollout: s.rollout.clone(),
                        expected: t.expected_version(),
                    });
                }
                if let Some(epoch) = writer.epoch {
                    let rows = sqlx::query("UPDATE rollout_leader SET epoch = epoch WHERE id = 1 AND epoch = $1")
                        .bind(epoch)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if rows != 1 {
                        return Err(StoreError::Fenced { epoch });
                    }
                }
                let current: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM rollout_flags WHERE rollout = $1")
                    .bind(&s.rollout)
                    .fetch_all(&mut *tx)
                    .await?;
                let current = current.into_iter().collect();
                let changed = $crate::store::diff(&current, &t.flags);
                let flags_version: i64 = if changed.is_empty() {
                    sqlx::query_scalar("SELECT version FROM rollout_flags_version WHERE id = 1")
                        .fetch_one(&mut *tx)
                        .await?
                } else {
                    sqlx::query_scalar("UPDATE rollout_flags_version SET version = version + 1 WHERE id = 1 RETURNING version")
                        .fetch_one(&mut *tx)
                        .await?
                };
                for (key, value) in &changed {
                    match value {
                        Some(v) => {
                            sqlx::query(
                                "INSERT INTO rollout_flags (key, value, rollout, version, updated_at, updated_by, reason) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key) DO UPDATE SET \
                                 value = excluded.value, rollout = excluded.rollout, version = excluded.version, \
                                 updated_at = excluded.updated_at, updated_by = excluded.updated_by, reason = excluded.reason",
                            )
                            .bind(key)
                            .bind(v)
                            .bind(&s.rollout)
                            .bind(flags_version)
                            .bind(now)
                            .bind(&writer.actor)
                            .bind(&t.reason)
                            .execute(&mut *tx)
                            .await?;
                        }
                        None => {
                            sqlx::query("DELETE FROM rollout_flags WHERE key = $1")
                                .bind(key)
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                }
                let from = t.from.as_ref();
                sqlx::query(
                    "INSERT INTO rollout_events (rollout, at, actor, action, reason, from_stage, to_stage, from_status, \
                     to_status, state_version, flags_version, flags) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(&s.rollout)
                .bind(now)
                .bind(&writer.actor)
                .bind(t.action.as_str())
                .bind(&t.reason)
                .bind(from.map(|f| f.stage_index as i64))
                .bind(s.stage_index as i64)
                .bind(from.map(|f| f.status.as_str()))
                .bind(s.status.as_str())
                .bind(s.version)
                .bind(flags_version)
                .bind(sqlx::types::Json(&changed))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok($crate::store::Committed {
                    state_version: s.version,
                    flags_version,
                    changed,
                })
            }

            async fn flags(&self) -> Result<$crate::store::FlagTable, $crate::store::StoreError> {
                let mut tx = self.pool.begin_with($begin_read).await?;
                let version: i64 = sqlx::query_scalar("SELECT version FROM rollout_flags_version WHERE id = 1")
                    .fetch_one(&mut *tx)
                    .await?;
                let rows: Vec<$crate::store::sql::FlagTuple> = sqlx::query_as(
                    "SELECT key, value, rollout, version, updated_at, updated_by, reason FROM rollout_flags ORDER BY key",
                )
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let flags = rows
                    .into_iter()
                    .map(|(key, value, rollout, version, updated_at, updated_by, reason)| $crate::store::FlagRow {
                        key,
                        value,
                        rollout,
                        version,
                        updated_at,
                        updated_by,
                        reason,
                    })
                    .collect();
                Ok($crate::store::FlagTable { version, flags })
            }

            async fn rollout_flags(
                &self,
                rollout: &str,
            ) -> Result<std::collections::BTreeMap<String, String>, $crate::store::StoreError> {
                let rows: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM rollout_flags WHERE rollout = $1")
                    .bind(rollout)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().collect())
            }

            async fn history(&self, rollout: &str) -> Result<Vec<$crate::store::EventRow>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::sql::EventTuple> = sqlx::query_as(
                    "SELECT id, rollout, at, actor, action, reason, from_stage, to_stage, from_status, to_status, \
                     state_version, flags_version, flags FROM rollout_events WHERE rollout = $1 ORDER BY id",
                )
                .bind(rollout)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| $crate::store::EventRow {
                        id: r.0,
                        rollout: r.1,
                        at: r.2,
                        actor: r.3,
                        action: r.4,
                        reason: r.5,
                        from_stage: r.6,
                        to_stage: r.7,
                        from_status: r.8,
                        to_status: r.9,
                        state_version: r.10,
                        flags_version: r.11,
                        flags: r.12 .0,
                    })
                    .collect())
            }

            async fn new_epoch(&self, holder: &str, now: chrono::DateTime<chrono::Utc>) -> Result<i64, $crate::store::StoreError> {
                let epoch: i64 = sqlx::query_scalar(
                    "UPDATE rollout_leader SET epoch = epoch + 1, holder = $1, acquired_at = $2 WHERE id = 1 RETURNING epoch",
                )
                .bind(holder)
                .bind(now)
                .fetch_one(&self.pool)
                .await?;
                Ok(epoch)
            }

            async fn ping(&self) -> Result<(), $crate::store::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_sql_store;
