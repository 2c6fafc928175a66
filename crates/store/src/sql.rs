//! The SQL both backends share. The statements are the same text on PostgreSQL and
//! SQLite (`$N` placeholders, `ON CONFLICT`, `RETURNING`); only the pool type, the
//! migrations and how a transaction begins differ, so one macro implements [`Store`] for both.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::StoreError;
use rollout_core::controller::{RolloutState, StateParts, Status};

pub(super) const STATE_COLUMNS: &str =
    "rollout, stage_index, stage_label, stage_entered_at, status, reason, paused_at, paused_ms, version, weights";

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
    Option<String>,
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
        weights,
    ) = row;
    RolloutState::from_parts(StateParts {
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
        weights,
    })
    .map_err(StoreError::Corrupt)
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

/// Observations per multi-row INSERT: 7 parameters each, well under both databases' limits.
pub(super) const INSERT_CHUNK: usize = 1000;

/// Sums and new units of the rows an INSERT reported back, keyed for the upserts.
#[derive(Default)]
pub(super) struct IngestTotals {
    pub sums: BTreeMap<(String, String), rollout_core::stats::Moments>,
    pub units: BTreeMap<String, String>,
}

impl IngestTotals {
    pub fn add(&mut self, variant: String, metric: String, value: f64, unit: String) {
        let m = self.sums.entry((metric, variant.clone())).or_default();
        m.n += 1;
        m.sum += value;
        m.sum_sq += value * value;
        self.units.entry(unit).or_insert(variant);
    }
}

/// The SQL expression of an aggregate that SQL computes directly (percentiles are ranked).
pub(super) fn aggregate_expr(a: rollout_core::config::Aggregate) -> &'static str {
    use rollout_core::config::Aggregate;
    match a {
        Aggregate::Mean | Aggregate::P95 | Aggregate::P99 => "CAST(AVG(value) AS DOUBLE PRECISION)",
        Aggregate::Rate => "CAST(AVG(CASE WHEN value <> 0 THEN 1 ELSE 0 END) AS DOUBLE PRECISION)",
        Aggregate::Sum => "CAST(SUM(value) AS DOUBLE PRECISION)",
        Aggregate::Count => "CAST(COUNT(*) AS DOUBLE PRECISION)",
    }
}

/// The zero-based offset of the nearest-rank `q` quantile among `n` sorted values.
pub(super) fn quantile_offset(q: f64, n: u64) -> i64 {
    ((q * n as f64).ceil() as i64 - 1).clamp(0, n.saturating_sub(1) as i64)
}

/// The JSON body a webhook receives for one history row.
pub(super) fn webhook_payload(
    event_id: i64,
    t: &rollout_core::controller::Transition,
    writer: &super::Writer,
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

macro_rules! impl_sql_store {
    ($store:ty, $db:ty, $migrator:expr, begin_write = $begin_write:expr, begin_read = $begin_read:expr, pg_notify = $pg_notify:expr) => {
        #[async_trait::async_trait]
        impl $crate::Store for $store {
            async fn migrate(&self) -> Result<(), $crate::StoreError> {
                let _guard = self.migration_guard().await?;
                $migrator.run(&self.pool).await.map_err(|e| match e {
                    sqlx::migrate::MigrateError::Execute(inner) => $crate::StoreError::from(inner),
                    other => $crate::StoreError::Migrate(other),
                })
            }

            async fn state(&self, rollout: &str) -> Result<Option<rollout_core::controller::RolloutState>, $crate::StoreError> {
                let q = format!("SELECT {} FROM rollout_state WHERE rollout = $1", $crate::sql::STATE_COLUMNS);
                let row: Option<$crate::sql::StateTuple> =
                    sqlx::query_as(&q).bind(rollout).fetch_optional(&self.pool).await?;
                row.map($crate::sql::state_from_row).transpose()
            }

            async fn states(&self) -> Result<Vec<rollout_core::controller::RolloutState>, $crate::StoreError> {
                let q = format!("SELECT {} FROM rollout_state ORDER BY rollout", $crate::sql::STATE_COLUMNS);
                let rows: Vec<$crate::sql::StateTuple> = sqlx::query_as(&q).fetch_all(&self.pool).await?;
                rows.into_iter().map($crate::sql::state_from_row).collect()
            }

            async fn commit(
                &self,
                t: &rollout_core::controller::Transition,
                writer: &$crate::Writer,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::Committed, $crate::StoreError> {
                use $crate::StoreError;
                let s = &t.to;
                let mut tx = self.pool.begin_with($begin_write).await?;
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
                let changed = $crate::diff(&current, &t.flags);
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
                let event_id: i64 = sqlx::query_scalar(
                    "INSERT INTO rollout_events (rollout, at, actor, action, reason, from_stage, to_stage, from_status, \
                     to_status, state_version, flags_version, flags) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                     RETURNING id",
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
                .bind(sqlx::types::Json(&changed))
                .fetch_one(&mut *tx)
                .await?;
                if !t.notify.is_empty() {
                    let payload = $crate::sql::webhook_payload(event_id, t, writer, now, flags_version, &changed);
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
                if $pg_notify && !changed.is_empty() {
                    sqlx::query("SELECT pg_notify('rollout_flags', $1)")
                        .bind(flags_version.to_string())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok($crate::Committed {
                    state_version: s.version,
                    flags_version,
                    changed,
                })
            }

            async fn flags(&self) -> Result<$crate::FlagTable, $crate::StoreError> {
                let mut tx = self.pool.begin_with($begin_read).await?;
                let version: i64 = sqlx::query_scalar("SELECT version FROM rollout_flags_version WHERE id = 1")
                    .fetch_one(&mut *tx)
                    .await?;
                let rows: Vec<$crate::sql::FlagTuple> = sqlx::query_as(
                    "SELECT key, value, rollout, version, updated_at, updated_by, reason FROM rollout_flags ORDER BY key",
                )
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let flags = rows
                    .into_iter()
                    .map(|(key, value, rollout, version, updated_at, updated_by, reason)| $crate::FlagRow {
                        key,
                        value,
                        rollout,
                        version,
                        updated_at,
                        updated_by,
                        reason,
                    })
                    .collect();
                Ok($crate::FlagTable { version, flags })
            }

            async fn rollout_flags(
                &self,
                rollout: &str,
            ) -> Result<std::collections::BTreeMap<String, String>, $crate::StoreError> {
                let rows: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM rollout_flags WHERE rollout = $1")
                    .bind(rollout)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().collect())
            }

            async fn history(&self, rollout: &str) -> Result<Vec<$crate::EventRow>, $crate::StoreError> {
                let rows: Vec<$crate::sql::EventTuple> = sqlx::query_as(
                    "SELECT id, rollout, at, actor, action, reason, from_stage, to_stage, from_status, to_status, \
                     state_version, flags_version, flags FROM rollout_events WHERE rollout = $1 ORDER BY id",
                )
                .bind(rollout)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| $crate::EventRow {
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

            async fn flags_version(&self) -> Result<i64, $crate::StoreError> {
                let v: i64 = sqlx::query_scalar("SELECT version FROM rollout_flags_version WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(v)
            }

            async fn flag_changes_since(
                &self,
                version: i64,
                limit: i64,
            ) -> Result<Vec<$crate::FlagChange>, $crate::StoreError> {
                // Commits that changed no flag share the previous version; they are skipped.
                let rows: Vec<(i64, String, sqlx::types::Json<std::collections::BTreeMap<String, Option<String>>>)> =
                    sqlx::query_as(
                        "SELECT flags_version, rollout, flags FROM rollout_events WHERE flags_version > $1 \
                         ORDER BY flags_version, id LIMIT $2",
                    )
                    .bind(version)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .into_iter()
                    .filter(|(_, _, changed)| !changed.0.is_empty())
                    .map(|(version, rollout, changed)| $crate::FlagChange { version, rollout, changed: changed.0 })
                    .collect())
            }

            async fn new_epoch(&self, holder: &str, now: chrono::DateTime<chrono::Utc>) -> Result<i64, $crate::StoreError> {
                let epoch: i64 = sqlx::query_scalar(
                    "UPDATE rollout_leader SET epoch = epoch + 1, holder = $1, acquired_at = $2 WHERE id = 1 RETURNING epoch",
                )
                .bind(holder)
                .bind(now)
                .fetch_one(&self.pool)
                .await?;
                Ok(epoch)
            }

            async fn ping(&self) -> Result<(), $crate::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn ingest(
                &self,
                rollout: &str,
                rows: &[rollout_core::experiment::Observation],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<rollout_core::experiment::IngestReport, $crate::StoreError> {
                let mut tx = self.pool.begin_with($begin_write).await?;
                let mut totals = $crate::sql::IngestTotals::default();
                for chunk in rows.chunks($crate::sql::INSERT_CHUNK) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO observations (rollout, variant, unit, metric, value, observed_at, event_id, ingested_at) ",
                    );
                    q.push_values(chunk, |mut b, o| {
                        b.push_bind(rollout)
                            .push_bind(o.variant.as_str())
                            .push_bind(&o.unit)
                            .push_bind(&o.metric)
                            .push_bind(o.value)
                            .push_bind(o.observed_at)
                            .push_bind(&o.event_id)
                            .push_bind(now);
                    });
                    q.push(" ON CONFLICT (rollout, event_id) DO NOTHING RETURNING variant, metric, value, unit");
                    let inserted: Vec<(String, String, f64, String)> = q.build_query_as().fetch_all(&mut *tx).await?;
                    for (variant, metric, value, unit) in inserted {
                        totals.add(variant, metric, value, unit);
                    }
                }
                let inserted: u64 = totals.sums.values().map(|m| m.n).sum();
                for ((metric, variant), m) in &totals.sums {
                    sqlx::query(
                        "INSERT INTO observation_sums (rollout, metric, variant, n, sum, sum_sq) VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (rollout, metric, variant) DO UPDATE SET n = observation_sums.n + excluded.n, \
                         sum = observation_sums.sum + excluded.sum, sum_sq = observation_sums.sum_sq + excluded.sum_sq",
                    )
                    .bind(rollout)
                    .bind(metric)
                    .bind(variant)
                    .bind(m.n as i64)
                    .bind(m.sum)
                    .bind(m.sum_sq)
                    .execute(&mut *tx)
                    .await?;
                }
                let units: Vec<(&String, &String)> = totals.units.iter().collect();
                let mut new_units = $crate::PerVariant::<i64>::default();
                for chunk in units.chunks($crate::sql::INSERT_CHUNK) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("INSERT INTO observation_units (rollout, unit, variant, first_seen) ");
                    q.push_values(chunk, |mut b, (unit, variant)| {
                        b.push_bind(rollout).push_bind(*unit).push_bind(*variant).push_bind(now);
                    });
                    q.push(" ON CONFLICT (rollout, unit) DO NOTHING RETURNING variant");
                    let added: Vec<(String,)> = q.build_query_as().fetch_all(&mut *tx).await?;
                    for (variant,) in added {
                        if let Some(c) = new_units.get_mut(&variant) {
                            *c += 1;
                        }
                    }
                }
                for (variant, count) in [("control", new_units.control), ("treatment", new_units.treatment)] {
                    if count == 0 {
                        continue;
                    }
                    sqlx::query(
                        "INSERT INTO observation_unit_counts (rollout, variant, units) VALUES ($1, $2, $3) \
                         ON CONFLICT (rollout, variant) DO UPDATE SET units = observation_unit_counts.units + excluded.units",
                    )
                    .bind(rollout)
                    .bind(variant)
                    .bind(count)
                    .execute(&mut *tx)
                    .await?;
                }
                if $pg_notify && inserted > 0 {
                    sqlx::query("SELECT pg_notify('rollout_observations', $1)")
                        .bind(rollout)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(rollout_core::experiment::IngestReport {
                    inserted,
                    duplicates: rows.len() as u64 - inserted,
                })
            }

            async fn moments(
                &self,
                rollout: &str,
                metric: &str,
            ) -> Result<$crate::PerVariant<rollout_core::stats::Moments>, $crate::StoreError> {
                let rows: Vec<(String, i64, f64, f64)> = sqlx::query_as(
                    "SELECT variant, n, sum, sum_sq FROM observation_sums WHERE rollout = $1 AND metric = $2",
                )
                .bind(rollout)
                .bind(metric)
                .fetch_all(&self.pool)
                .await?;
                let mut out = $crate::PerVariant::default();
                for (variant, n, sum, sum_sq) in rows {
                    if let Some(m) = out.get_mut(&variant) {
                        *m = rollout_core::stats::Moments { n: n.max(0) as u64, sum, sum_sq };
                    }
                }
                Ok(out)
            }

            async fn rank_sums(&self, rollout: &str, metric: &str) -> Result<rollout_core::stats::RankSums, $crate::StoreError> {
                // One pass: group equal values (tie groups), then a running count gives each
                // group's average rank, below + (t + 1) / 2. Counts are doubles: exact below 2^53.
                let row: (Option<f64>, Option<f64>, Option<f64>, Option<f64>) = sqlx::query_as(
                    "WITH g AS (SELECT value, \
                       CAST(SUM(CASE WHEN variant = 'treatment' THEN 1 ELSE 0 END) AS DOUBLE PRECISION) AS nt, \
                       CAST(COUNT(*) AS DOUBLE PRECISION) AS t \
                       FROM observations WHERE rollout = $1 AND metric = $2 GROUP BY value), \
                     r AS (SELECT nt, t, SUM(t) OVER (ORDER BY value) - t AS below FROM g) \
                     SELECT SUM(nt), SUM(t), SUM(nt * (below + (t + 1) / 2.0)), SUM(t * t * t - t) FROM r",
                )
                .bind(rollout)
                .bind(metric)
                .fetch_one(&self.pool)
                .await?;
                let (nt, total, rank_sum_a, tie_term) = row;
                let (nt, total) = (nt.unwrap_or(0.0), total.unwrap_or(0.0));
                Ok(rollout_core::stats::RankSums {
                    n_a: nt as u64,
                    n_b: (total - nt) as u64,
                    rank_sum_a: rank_sum_a.unwrap_or(0.0),
                    tie_term: tie_term.unwrap_or(0.0),
                })
            }

            async fn unit_counts(&self, rollout: &str) -> Result<$crate::PerVariant<u64>, $crate::StoreError> {
                let rows: Vec<(String, i64)> =
                    sqlx::query_as("SELECT variant, units FROM observation_unit_counts WHERE rollout = $1")
                        .bind(rollout)
                        .fetch_all(&self.pool)
                        .await?;
                let mut out = $crate::PerVariant::default();
                for (variant, units) in rows {
                    if let Some(c) = out.get_mut(&variant) {
                        *c = units.max(0) as u64;
                    }
                }
                Ok(out)
            }

            async fn window_aggregate(
                &self,
                rollout: &str,
                metric: &str,
                since: chrono::DateTime<chrono::Utc>,
                aggregate: rollout_core::config::Aggregate,
            ) -> Result<$crate::PerVariant<$crate::WindowValue>, $crate::StoreError> {
                let mut tx = self.pool.begin_with($begin_read).await?;
                let q = format!(
                    "SELECT variant, COUNT(*), {} FROM observations WHERE rollout = $1 AND metric = $2 AND observed_at >= $3 \
                     GROUP BY variant",
                    $crate::sql::aggregate_expr(aggregate)
                );
                let rows: Vec<(String, i64, Option<f64>)> =
                    sqlx::query_as(&q).bind(rollout).bind(metric).bind(since).fetch_all(&mut *tx).await?;
                let mut out = $crate::PerVariant::<$crate::WindowValue>::default();
                for (variant, n, value) in rows {
                    let n = n.max(0) as u64;
                    let value = match aggregate.quantile() {
                        Some(q) if n > 0 => sqlx::query_scalar(
                            "SELECT value FROM observations WHERE rollout = $1 AND metric = $2 AND observed_at >= $3 \
                             AND variant = $4 ORDER BY value LIMIT 1 OFFSET $5",
                        )
                        .bind(rollout)
                        .bind(metric)
                        .bind(since)
                        .bind(&variant)
                        .bind($crate::sql::quantile_offset(q, n))
                        .fetch_optional(&mut *tx)
                        .await?,
                        _ => value,
                    };
                    if let Some(slot) = out.get_mut(&variant) {
                        *slot = $crate::WindowValue { n, value };
                    }
                }
                tx.commit().await?;
                Ok(out)
            }

            async fn last_ingested_at(
                &self,
                rollout: &str,
            ) -> Result<Option<chrono::DateTime<chrono::Utc>>, $crate::StoreError> {
                let at: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
                    "SELECT ingested_at FROM observations WHERE rollout = $1 ORDER BY ingested_at DESC LIMIT 1",
                )
                .bind(rollout)
                .fetch_optional(&self.pool)
                .await?;
                Ok(at)
            }

            async fn run_query(
                &self,
                query: &str,
                params: &[$crate::QueryParam],
                timeout: std::time::Duration,
            ) -> Result<Vec<Vec<$crate::SqlValue>>, $crate::StoreError> {
                self.read_only_query(query, params, timeout).await
            }

            async fn guardrail_status(
                &self,
                rollout: &str,
            ) -> Result<Vec<$crate::GuardrailReading>, $crate::StoreError> {
                let rows: Vec<(String, String, i64, Option<f64>, Option<f64>, i64, String, chrono::DateTime<chrono::Utc>)> =
                    sqlx::query_as(
                        "SELECT guardrail, status, consecutive, value, control_value, n, detail, evaluated_at \
                         FROM guardrail_status WHERE rollout = $1 ORDER BY guardrail",
                    )
                    .bind(rollout)
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter()
                    .map(|(guardrail, status, consecutive, value, control_value, n, detail, evaluated_at)| {
                        Ok($crate::GuardrailReading {
                            status: $crate::ReadingStatus::parse(&status)
                                .ok_or_else(|| $crate::StoreError::Corrupt(format!("guardrail status {status:?}")))?,
                            guardrail,
                            consecutive: u32::try_from(consecutive.max(0)).unwrap_or(u32::MAX),
                            value,
                            control_value,
                            n: n.max(0) as u64,
                            detail,
                            evaluated_at,
                        })
                    })
                    .collect()
            }

            async fn record_guardrails(
                &self,
                rollout: &str,
                readings: &[$crate::GuardrailReading],
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.pool.begin_with($begin_write).await?;
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
                }
                tx.commit().await?;
                Ok(())
            }

            async fn claim_webhooks(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                lease_until: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::OutboxRow>, $crate::StoreError> {
                // The oldest undelivered row of each URL, if due: a failing receiver blocks only
                // its own queue and never sees events out of order. Moving `next_attempt_at`
                // to the lease's end is the claim; a concurrent sender's UPDATE finds the row
                // no longer due.
                let mut rows: Vec<(i64, i64, String, String, String, i64)> = sqlx::query_as(
                    "UPDATE rollout_outbox SET next_attempt_at = $2 \
                     WHERE id IN (SELECT MIN(id) FROM rollout_outbox WHERE delivered_at IS NULL GROUP BY url) \
                     AND next_attempt_at <= $1 AND delivered_at IS NULL \
                     RETURNING id, event_id, rollout, url, payload, attempts",
                )
                .bind(now)
                .bind(lease_until)
                .fetch_all(&self.pool)
                .await?;
                rows.sort_by_key(|r| r.0);
                Ok(rows
                    .into_iter()
                    .map(|(id, event_id, rollout, url, payload, attempts)| $crate::OutboxRow {
                        id,
                        event_id,
                        rollout,
                        url,
                        payload,
                        attempts,
                    })
                    .collect())
            }

            async fn webhook_attempt(
                &self,
                id: i64,
                outcome: Result<(), String>,
                now: chrono::DateTime<chrono::Utc>,
                retry_at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::StoreError> {
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
    };
}

pub(crate) use impl_sql_store;
