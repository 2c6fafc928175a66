//! Rollout state, flags and history, and the one transaction that changes them:
//! compare-and-set on the state ▸ epoch fence ▸ flag diff ▸ history row ▸ outbox rows ▸
//! `pg_notify` (PostgreSQL).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrate;
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use rollout_core::controller::{RolloutState, Transition};
use rollout_core::records::{
    Committed, EventRow, FlagChange, FlagTable, LeaderRecord, Lease, PendingHold, RecordedConfig,
    Writer,
};

use crate::backend::{Args, Backend, ColumnType, Conn, Db, DbRow};
use crate::rows::{
    to_json, EventsRow, FlagChangeRow, FlagsRow, HoldRow, JsonValue, KeyValueRow, LeaderRow,
    LeaseRow, RecordedConfigRow, StateRow, STATE_COLUMNS,
};
use crate::{SqlStore, StateStore, StoreError};

#[async_trait]
impl<B> StateStore for SqlStore<B>
where
    B: Backend,
    Conn<B>: Migrate,
    for<'c> &'c mut Conn<B>: Executor<'c, Database = Db<B>>,
    for<'q> Args<'q, B>: IntoArguments<'q, Db<B>>,
    for<'q> &'q str: Encode<'q, Db<B>> + Type<Db<B>>,
    usize: ColumnIndex<DbRow<B>>,
    for<'n> &'n str: ColumnIndex<DbRow<B>>,
    String: ColumnType<Db<B>>,
    i64: ColumnType<Db<B>>,
    DateTime<Utc>: ColumnType<Db<B>>,
    JsonValue: ColumnType<Db<B>>,
    Option<String>: ColumnType<Db<B>>,
    Option<i64>: ColumnType<Db<B>>,
    Option<DateTime<Utc>>: ColumnType<Db<B>>,
    for<'q> Option<&'q str>: Encode<'q, Db<B>>,
    f64: ColumnType<Db<B>>,
    Vec<u8>: ColumnType<Db<B>>,
{
    /// A store already at this release's schema is left alone: a role that may not create
    /// tables (the ingest role) can still open it. Otherwise the migrations run.
    async fn migrate(&self) -> Result<(), StoreError> {
        if !self.up_to_date().await {
            let _guard = self.backend.migration_guard().await?;
            self.run_migrations(B::migrator()).await?;
            crate::rebuild::pending::<B>(&self.pool).await?;
        } else {
            crate::rebuild::pending::<B>(&self.pool).await?;
        }
        self.backend.after_migrate(&self.pool).await;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn state(&self, rollout: &str) -> Result<Option<RolloutState>, StoreError> {
        let q = format!("SELECT {STATE_COLUMNS} FROM rollout_state WHERE rollout = $1");
        let row: Option<StateRow> = sqlx::query_as(&q)
            .bind(rollout)
            .fetch_optional(&self.pool)
            .await?;
        row.map(RolloutState::try_from).transpose()
    }

    async fn states(&self) -> Result<Vec<RolloutState>, StoreError> {
        let q = format!("SELECT {STATE_COLUMNS} FROM rollout_state ORDER BY rollout");
        let rows: Vec<StateRow> = sqlx::query_as(&q).fetch_all(&self.pool).await?;
        rows.into_iter().map(RolloutState::try_from).collect()
    }

    async fn commit(
        &self,
        t: &Transition,
        writer: &Writer,
        now: DateTime<Utc>,
    ) -> Result<Committed, StoreError> {
        let s = &t.to;
        let mut tx = self.pool.begin_with(B::BEGIN_WRITE).await?;
        if writer.epoch.is_none() {
            // A person's action (a rollback) does not queue behind a frozen transaction
            // for long: it fails fast and the caller retries, saying what blocks it.
            if let Some(sql) = B::SHORT_LOCK_WAIT {
                sqlx::query(sql).execute(&mut *tx).await?;
            }
        }
        // Compare-and-set first: it is a write, so SQLite takes its lock here.
        let cas = match t.expected_version() {
            None => sqlx::query(
                "INSERT INTO rollout_state (rollout, stage_index, stage_label, stage_entered_at, status, reason, \
                 paused_at, paused_ms, version, updated_at, weights) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (rollout) DO NOTHING",
            ),
            Some(_) => sqlx::query(
                "UPDATE rollout_state SET stage_index = $2, stage_label = $3, stage_entered_at = $4, status = $5, \
                 reason = $6, paused_at = $7, paused_ms = $8, version = $9, updated_at = $10, weights = $11 \
                 WHERE rollout = $1 AND version = $12",
            ),
        };
        let mut cas = cas
            .bind(&s.rollout)
            .bind(s.stage_index as i64)
            .bind(&s.stage_label)
            .bind(s.stage_entered_at)
            .bind(s.status().as_str())
            .bind(s.reason())
            .bind(s.paused_at())
            .bind(s.paused_ms)
            .bind(s.version)
            .bind(now)
            .bind(s.weights_json());
        if let Some(expected) = t.expected_version() {
            cas = cas.bind(expected);
        }
        if B::rows_affected(&cas.execute(&mut *tx).await?) != 1 {
            return Err(StoreError::Conflict {
                rollout: s.rollout.clone(),
                expected: t.expected_version(),
            });
        }
        if let Some(epoch) = writer.epoch {
            fence::<B>(&mut tx, epoch).await?;
        }
        if t.expected_version().is_none() {
            // Started: whatever held it pending is over.
            sqlx::query("DELETE FROM rollout_holds WHERE rollout = $1")
                .bind(&s.rollout)
                .execute(&mut *tx)
                .await?;
        }
        let current: Vec<KeyValueRow> =
            sqlx::query_as("SELECT key, value FROM rollout_flags WHERE rollout = $1")
                .bind(&s.rollout)
                .fetch_all(&mut *tx)
                .await?;
        let current = current.into_iter().map(|r| (r.key, r.value)).collect();
        let changed = diff(&current, &t.flags);
        let flags_version: i64 = if changed.is_empty() {
            sqlx::query_scalar("SELECT version FROM rollout_flags_version WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?
        } else {
            sqlx::query_scalar(
                "UPDATE rollout_flags_version SET version = version + 1 WHERE id = 1 RETURNING version",
            )
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
        let event_id: i64 = sqlx::query_scalar(
            "INSERT INTO rollout_events (rollout, at, actor, action, reason, from_stage, to_stage, from_status, \
             to_status, state_version, flags_version, flags, stage_entered_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(&s.rollout)
        .bind(now)
        .bind(&writer.actor)
        .bind(t.action.as_str())
        .bind(&t.reason)
        .bind(from.map(|f| f.stage_index as i64))
        .bind(s.stage_index as i64)
        .bind(from.map(|f| f.status().as_str()))
        .bind(s.status().as_str())
        .bind(s.version)
        .bind(flags_version)
        .bind(to_json(&changed))
        .bind(s.stage_entered_at)
        .fetch_one(&mut *tx)
        .await?;
        if !t.notify.is_empty() {
            let payload = webhook_payload(event_id, t, writer, now, flags_version, &changed);
            for url in &t.notify {
                sqlx::query(
                    "INSERT INTO rollout_outbox (event_id, rollout, url, payload, next_attempt_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(event_id)
                .bind(&s.rollout)
                .bind(url)
                .bind(&payload)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        if B::NOTIFY && !changed.is_empty() {
            sqlx::query("SELECT pg_notify('rollout_flags', $1)")
                .bind(flags_version.to_string())
                .execute(&mut *tx)
                .await?;
        }
        crate::test_hook::hold_commit(&s.rollout, t.action.as_str()).await;
        tx.commit().await?;
        Ok(Committed {
            state_version: s.version,
            flags_version,
            changed,
        })
    }

    async fn flags(&self) -> Result<FlagTable, StoreError> {
        let mut tx = self.pool.begin_with(B::BEGIN_READ).await?;
        let version: i64 =
            sqlx::query_scalar("SELECT version FROM rollout_flags_version WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?;
        let rows: Vec<FlagsRow> = sqlx::query_as(
            "SELECT key, value, rollout, version, updated_at, updated_by, reason FROM rollout_flags ORDER BY key",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(FlagTable {
            version,
            flags: rows.into_iter().map(Into::into).collect(),
        })
    }

    async fn rollout_flags(&self, rollout: &str) -> Result<BTreeMap<String, String>, StoreError> {
        let rows: Vec<KeyValueRow> =
            sqlx::query_as("SELECT key, value FROM rollout_flags WHERE rollout = $1")
                .bind(rollout)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|r| (r.key, r.value)).collect())
    }

    async fn history(&self, rollout: &str) -> Result<Vec<EventRow>, StoreError> {
        let rows: Vec<EventsRow> = sqlx::query_as(
            "SELECT id, rollout, at, actor, action, reason, from_stage, to_stage, from_status, to_status, \
             state_version, flags_version, flags, stage_entered_at FROM rollout_events WHERE rollout = $1 ORDER BY id",
        )
        .bind(rollout)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(EventRow::try_from).collect()
    }

    async fn events_since(
        &self,
        rollout: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<EventRow>, StoreError> {
        let rows: Vec<EventsRow> = sqlx::query_as(
            "SELECT id, rollout, at, actor, action, reason, from_stage, to_stage, from_status, to_status, \
             state_version, flags_version, flags, stage_entered_at FROM rollout_events WHERE rollout = $1 \
             AND id >= COALESCE((SELECT MAX(id) FROM rollout_events WHERE rollout = $1 AND at <= $2), 0) \
             ORDER BY id",
        )
        .bind(rollout)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(EventRow::try_from).collect()
    }

    async fn flags_version(&self) -> Result<i64, StoreError> {
        let v: i64 = sqlx::query_scalar("SELECT version FROM rollout_flags_version WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(v)
    }

    async fn flag_changes_since(
        &self,
        version: i64,
        limit: i64,
    ) -> Result<Vec<FlagChange>, StoreError> {
        // Commits that changed no flag share the previous version; they are skipped.
        let rows: Vec<FlagChangeRow> = sqlx::query_as(
            "SELECT flags_version, rollout, flags FROM rollout_events WHERE flags_version > $1 \
             ORDER BY flags_version, id LIMIT $2",
        )
        .bind(version)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut changes = Vec::with_capacity(rows.len());
        for row in rows {
            let change = FlagChange::try_from(row)?;
            if !change.changed.is_empty() {
                changes.push(change);
            }
        }
        Ok(changes)
    }

    async fn new_epoch(&self, holder: &str, now: DateTime<Utc>) -> Result<i64, StoreError> {
        let epoch: i64 = sqlx::query_scalar(
            "UPDATE rollout_leader SET epoch = epoch + 1, holder = $1, acquired_at = $2 WHERE id = 1 RETURNING epoch",
        )
        .bind(holder)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(epoch)
    }

    async fn claim_lease(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        fresh_epoch: bool,
    ) -> Result<Lease, StoreError> {
        let until =
            now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(10));
        let mut tx = self.pool.begin_with(B::BEGIN_WRITE).await?;
        if let Some(sql) = B::SHORT_LOCK_WAIT {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        let row: LeaseRow = sqlx::query_as(&format!(
            "SELECT epoch, holder, lease_until FROM rollout_leader WHERE id = 1{}",
            B::FOR_UPDATE
        ))
        .fetch_one(&mut *tx)
        .await?;
        let mine = row.holder.as_deref() == Some(holder);
        let free = row.lease_until.is_none_or(|t| t < now);
        if !mine && !free {
            tx.commit().await?;
            return Ok(Lease::Elsewhere {
                holder: row.holder,
                until: row.lease_until.unwrap_or(now),
            });
        }
        let fresh = !mine || fresh_epoch;
        let epoch = if fresh { row.epoch + 1 } else { row.epoch };
        let sql = if fresh {
            "UPDATE rollout_leader SET epoch = $1, holder = $2, lease_until = $3, acquired_at = $4 WHERE id = 1"
        } else {
            "UPDATE rollout_leader SET epoch = $1, holder = $2, lease_until = $3 WHERE id = 1 AND $4 IS NOT NULL"
        };
        sqlx::query(sql)
            .bind(epoch)
            .bind(holder)
            .bind(until)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Lease::Held {
            epoch,
            fresh,
            until,
            took_over_from: if mine { None } else { row.holder },
        })
    }

    async fn release_lease(&self, holder: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE rollout_leader SET lease_until = NULL WHERE id = 1 AND holder = $1")
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn end_sessions(&self, holder: &str) -> Result<u64, StoreError> {
        let (Some(sql), Some(name)) = (B::END_SESSIONS, crate::backend::session_name(holder))
        else {
            return Ok(0);
        };
        let ended: i64 = sqlx::query_scalar(sql)
            .bind(name.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(ended).unwrap_or(0))
    }

    async fn lock_holders(&self) -> Result<Vec<String>, StoreError> {
        let Some(sql) = B::LOCK_HOLDERS else {
            return Ok(Vec::new());
        };
        Ok(sqlx::query_scalar(sql).fetch_all(&self.pool).await?)
    }

    async fn end_stalled_lock_holders(
        &self,
        idle: std::time::Duration,
    ) -> Result<Vec<String>, StoreError> {
        let Some(sql) = B::END_STALLED_HOLDERS else {
            return Ok(Vec::new());
        };
        let ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
        Ok(sqlx::query_scalar(sql)
            .bind(ms)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn record_config(&self, c: &RecordedConfig) -> Result<bool, StoreError> {
        let written = sqlx::query(
            "INSERT INTO rollout_config (id, content, hash, source, recorded_at, recorded_by) \
             VALUES (1, $1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET content = excluded.content, \
             hash = excluded.hash, source = excluded.source, recorded_at = excluded.recorded_at, \
             recorded_by = excluded.recorded_by WHERE rollout_config.hash <> excluded.hash",
        )
        .bind(c.content.as_str())
        .bind(c.hash.as_str())
        .bind(c.source.as_str())
        .bind(c.recorded_at)
        .bind(c.recorded_by.as_str())
        .execute(&self.pool)
        .await?;
        Ok(B::rows_affected(&written) > 0)
    }

    async fn recorded_config(&self) -> Result<Option<RecordedConfig>, StoreError> {
        let row: Option<RecordedConfigRow> = sqlx::query_as(
            "SELECT content, hash, source, recorded_at, recorded_by FROM rollout_config WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| RecordedConfig {
            content: r.content,
            hash: r.hash,
            source: r.source,
            recorded_at: r.recorded_at,
            recorded_by: r.recorded_by,
        }))
    }

    async fn leader(&self) -> Result<LeaderRecord, StoreError> {
        let row: LeaderRow = sqlx::query_as(
            "SELECT epoch, holder, acquired_at, last_tick_at, tick_interval_secs, lease_until FROM rollout_leader WHERE id = 1",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.into())
    }

    async fn record_tick(
        &self,
        epoch: i64,
        at: DateTime<Utc>,
        interval_secs: Option<u64>,
    ) -> Result<(), StoreError> {
        let interval = interval_secs.map(|s| i64::try_from(s).unwrap_or(i64::MAX));
        let done = sqlx::query(
            "UPDATE rollout_leader SET last_tick_at = $1, tick_interval_secs = $2 WHERE id = 1 AND epoch = $3",
        )
        .bind(at)
        .bind(interval)
        .bind(epoch)
        .execute(&self.pool)
        .await?;
        if B::rows_affected(&done) == 1 {
            Ok(())
        } else {
            Err(StoreError::Fenced { epoch })
        }
    }

    async fn hold_pending(
        &self,
        rollout: &str,
        reason: &str,
        writer: &Writer,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with(B::BEGIN_WRITE).await?;
        // The fence first, as in `commit`: the leader row, then the hold.
        if let Some(epoch) = writer.epoch {
            fence::<B>(&mut tx, epoch).await?;
        }
        sqlx::query(
            "INSERT INTO rollout_holds (rollout, reason, since, checked_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (rollout) DO UPDATE SET reason = excluded.reason, checked_at = excluded.checked_at, \
             since = CASE WHEN rollout_holds.reason = excluded.reason THEN rollout_holds.since ELSE excluded.since END",
        )
        .bind(rollout)
        .bind(reason)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn pending_holds(&self) -> Result<Vec<PendingHold>, StoreError> {
        let rows: Vec<HoldRow> = sqlx::query_as(
            "SELECT rollout, reason, since, checked_at FROM rollout_holds ORDER BY rollout",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(PendingHold::from).collect())
    }
}

/// The epoch fence, inside a writing transaction: a no-op write on the leader row that
/// matches only while `epoch` is the current one, so a deposed leader's transaction writes
/// nothing ([`StoreError::Fenced`]); a newer leader's `new_epoch` waits for it or wins.
pub(crate) async fn fence<B>(conn: &mut Conn<B>, epoch: i64) -> Result<(), StoreError>
where
    B: Backend,
    for<'c> &'c mut Conn<B>: Executor<'c, Database = Db<B>>,
    for<'q> Args<'q, B>: IntoArguments<'q, Db<B>>,
    i64: ColumnType<Db<B>>,
{
    let fenced = sqlx::query("UPDATE rollout_leader SET epoch = epoch WHERE id = 1 AND epoch = $1")
        .bind(epoch)
        .execute(conn)
        .await?;
    if B::rows_affected(&fenced) == 1 {
        Ok(())
    } else {
        Err(StoreError::Fenced { epoch })
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

/// The JSON body a webhook receives for one history row.
fn webhook_payload(
    event_id: i64,
    t: &Transition,
    writer: &Writer,
    now: DateTime<Utc>,
    flags_version: i64,
    changed: &BTreeMap<String, Option<String>>,
) -> String {
    serde_json::json!({
        "event_id": event_id,
        "rollout": t.to.rollout,
        "action": t.action.as_str(),
        "reason": t.reason,
        "actor": writer.actor,
        "at": now.to_rfc3339(),
        "from_stage": t.from.as_ref().map(|f| f.stage_index),
        "to_stage": t.to.stage_index,
        "from_status": t.from.as_ref().map(|f| f.status().as_str()),
        "to_status": t.to.status().as_str(),
        "state_version": t.to.version,
        "flags_version": flags_version,
        "flags": changed,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn diff_sets_changed_and_new_flags_and_deletes_dropped_ones() {
        let current = map(&[("A", "1"), ("B", "2"), ("C", "3")]);
        let desired = map(&[("A", "1"), ("B", "20"), ("D", "4")]);
        let changes = super::diff(&current, &desired);
        let expected: BTreeMap<String, Option<String>> = [
            ("B".to_string(), Some("20".to_string())),
            ("C".to_string(), None),
            ("D".to_string(), Some("4".to_string())),
        ]
        .into_iter()
        .collect();
        assert_eq!(changes, expected);
        assert!(super::diff(&current, &current).is_empty());
    }
}
