//! The experiment's observations: ingest (with the maintained sums and unit counts in the
//! same transaction) and the statistics read back.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use rollout_core::config::Aggregate;
use rollout_core::experiment::{IngestReport, Observation};
use rollout_core::records::{PerVariant, WindowValue};
use rollout_core::stats::{Moments, RankSums};

use crate::backend::{Args, Backend, ColumnType, Conn, Db, DbRow};
use crate::rows::{InsertedObservation, RankSumsRow, SumsRow, VariantCountRow, WindowRow};
use crate::store::multi_row_insert;
use crate::{ObservationStore, SqlStore, StoreError};

/// Observations per multi-row INSERT: 8 parameters each, well under both databases' limits.
const INSERT_CHUNK: usize = 1000;

#[async_trait]
impl<B> ObservationStore for SqlStore<B>
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
    Option<String>: ColumnType<Db<B>>,
{
    async fn ingest(
        &self,
        rollout: &str,
        rows: &[Observation],
        now: DateTime<Utc>,
    ) -> Result<IngestReport, StoreError> {
        let mut tx = self.pool.begin_with(B::BEGIN_WRITE).await?;
        let mut totals = IngestTotals::default();
        for chunk in rows.chunks(INSERT_CHUNK) {
            let sql = multi_row_insert(
                "INSERT INTO observations (rollout, variant, unit, metric, value, observed_at, event_id, ingested_at) ",
                chunk.len(),
                8,
                " ON CONFLICT (rollout, event_id) DO NOTHING RETURNING variant, metric, value, unit",
            );
            let mut q = sqlx::query_as::<_, InsertedObservation>(&sql);
            for o in chunk {
                q = q
                    .bind(rollout)
                    .bind(o.variant.as_str())
                    .bind(&o.unit)
                    .bind(&o.metric)
                    .bind(o.value)
                    .bind(o.observed_at)
                    .bind(&o.event_id)
                    .bind(now);
            }
            for o in q.fetch_all(&mut *tx).await? {
                totals.add(o);
            }
        }
        let inserted: u64 = totals.sums.values().map(|m| m.n()).sum();
        for ((metric, variant), m) in &totals.sums {
            sqlx::query(
                "INSERT INTO observation_sums (rollout, metric, variant, n, sum, sum_sq) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (rollout, metric, variant) DO UPDATE SET n = observation_sums.n + excluded.n, \
                 sum = observation_sums.sum + excluded.sum, sum_sq = observation_sums.sum_sq + excluded.sum_sq",
            )
            .bind(rollout)
            .bind(metric)
            .bind(variant)
            .bind(m.n() as i64)
            .bind(m.sum())
            .bind(m.m2() + m.sum() * m.mean())
            .execute(&mut *tx)
            .await?;
        }
        let units: Vec<(&String, &String)> = totals.units.iter().collect();
        let mut new_units = PerVariant::<i64>::default();
        for chunk in units.chunks(INSERT_CHUNK) {
            let sql = multi_row_insert(
                "INSERT INTO observation_units (rollout, unit, variant, first_seen) ",
                chunk.len(),
                4,
                " ON CONFLICT (rollout, unit) DO NOTHING RETURNING variant",
            );
            let mut q = sqlx::query_scalar::<_, String>(&sql);
            for (unit, variant) in chunk {
                q = q.bind(rollout).bind(*unit).bind(*variant).bind(now);
            }
            for variant in q.fetch_all(&mut *tx).await? {
                if let Some(c) = new_units.get_mut(&variant) {
                    *c += 1;
                }
            }
        }
        for (variant, count) in [
            ("control", new_units.control),
            ("treatment", new_units.treatment),
        ] {
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
        if B::NOTIFY && inserted > 0 {
            sqlx::query("SELECT pg_notify('rollout_observations', $1)")
                .bind(rollout)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(IngestReport {
            inserted,
            duplicates: rows.len() as u64 - inserted,
        })
    }

    async fn moments(
        &self,
        rollout: &str,
        metric: &str,
    ) -> Result<PerVariant<Moments>, StoreError> {
        let rows: Vec<SumsRow> = sqlx::query_as(
            "SELECT variant, n, sum, sum_sq FROM observation_sums WHERE rollout = $1 AND metric = $2",
        )
        .bind(rollout)
        .bind(metric)
        .fetch_all(&self.pool)
        .await?;
        let mut out = PerVariant::default();
        for r in rows {
            if let Some(m) = out.get_mut(&r.variant) {
                let n = r.n.max(0) as u64;
                let mean = r.sum / n.max(1) as f64;
                *m = Moments::from_parts(n, mean, r.sum_sq - r.sum * mean);
            }
        }
        Ok(out)
    }

    async fn rank_sums(&self, rollout: &str, metric: &str) -> Result<RankSums, StoreError> {
        // One pass: group equal values (tie groups), then a running count gives each
        // group's average rank, below + (t + 1) / 2. Counts are doubles: exact below 2^53.
        let row: RankSumsRow = sqlx::query_as(
            "WITH g AS (SELECT value, \
               CAST(SUM(CASE WHEN variant = 'treatment' THEN 1 ELSE 0 END) AS DOUBLE PRECISION) AS nt, \
               CAST(COUNT(*) AS DOUBLE PRECISION) AS t \
               FROM observations WHERE rollout = $1 AND metric = $2 GROUP BY value), \
             r AS (SELECT nt, t, SUM(t) OVER (ORDER BY value) - t AS below FROM g) \
             SELECT SUM(nt) AS nt, SUM(t) AS total, SUM(nt * (below + (t + 1) / 2.0)) AS rank_sum_a, \
             SUM(t * t * t - t) AS tie_term FROM r",
        )
        .bind(rollout)
        .bind(metric)
        .fetch_one(&self.pool)
        .await?;
        let (nt, total) = (row.nt.unwrap_or(0.0), row.total.unwrap_or(0.0));
        Ok(RankSums {
            n_a: nt as u64,
            n_b: (total - nt) as u64,
            rank_sum_a: row.rank_sum_a.unwrap_or(0.0),
            tie_term: row.tie_term.unwrap_or(0.0),
        })
    }

    async fn unit_counts(&self, rollout: &str) -> Result<PerVariant<u64>, StoreError> {
        let rows: Vec<VariantCountRow> = sqlx::query_as(
            "SELECT variant, units AS count FROM observation_unit_counts WHERE rollout = $1",
        )
        .bind(rollout)
        .fetch_all(&self.pool)
        .await?;
        let mut out = PerVariant::default();
        for r in rows {
            if let Some(c) = out.get_mut(&r.variant) {
                *c = r.count.max(0) as u64;
            }
        }
        Ok(out)
    }

    async fn window_aggregate(
        &self,
        rollout: &str,
        metric: &str,
        since: DateTime<Utc>,
        aggregate: Aggregate,
    ) -> Result<PerVariant<WindowValue>, StoreError> {
        let mut tx = self.pool.begin_with(B::BEGIN_READ).await?;
        let q = format!(
            "SELECT variant, COUNT(*) AS n, {} AS value FROM observations WHERE rollout = $1 AND metric = $2 \
             AND observed_at >= $3 GROUP BY variant",
            aggregate_expr(aggregate)
        );
        let rows: Vec<WindowRow> = sqlx::query_as(&q)
            .bind(rollout)
            .bind(metric)
            .bind(since)
            .fetch_all(&mut *tx)
            .await?;
        let mut out = PerVariant::<WindowValue>::default();
        for r in rows {
            let n = r.n.max(0) as u64;
            let value = match aggregate.quantile() {
                Some(q) if n > 0 => {
                    sqlx::query_scalar(
                        "SELECT value FROM observations WHERE rollout = $1 AND metric = $2 AND observed_at >= $3 \
                         AND variant = $4 ORDER BY value LIMIT 1 OFFSET $5",
                    )
                    .bind(rollout)
                    .bind(metric)
                    .bind(since)
                    .bind(&r.variant)
                    .bind(quantile_offset(q, n))
                    .fetch_optional(&mut *tx)
                    .await?
                }
                _ => r.value,
            };
            if let Some(slot) = out.get_mut(&r.variant) {
                *slot = WindowValue { n, value };
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn last_ingested_at(&self, rollout: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let at: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT ingested_at FROM observations WHERE rollout = $1 ORDER BY ingested_at DESC LIMIT 1",
        )
        .bind(rollout)
        .fetch_optional(&self.pool)
        .await?;
        Ok(at)
    }
}

/// Sums and new units of the rows an INSERT reported back, keyed for the upserts.
#[derive(Default)]
struct IngestTotals {
    /// (metric, variant) → moments.
    sums: BTreeMap<(String, String), Moments>,
    /// unit → the variant it was first seen in.
    units: BTreeMap<String, String>,
}

impl IngestTotals {
    fn add(&mut self, o: InsertedObservation) {
        let m = self.sums.entry((o.metric, o.variant.clone())).or_default();
        m.add(o.value);
        self.units.entry(o.unit).or_insert(o.variant);
    }
}

/// The SQL expression of an aggregate that SQL computes directly (percentiles are ranked).
fn aggregate_expr(a: Aggregate) -> &'static str {
    match a {
        Aggregate::Mean | Aggregate::P95 | Aggregate::P99 => "CAST(AVG(value) AS DOUBLE PRECISION)",
        Aggregate::Rate => "CAST(AVG(CASE WHEN value <> 0 THEN 1 ELSE 0 END) AS DOUBLE PRECISION)",
        Aggregate::Sum => "CAST(SUM(value) AS DOUBLE PRECISION)",
        Aggregate::Count => "CAST(COUNT(*) AS DOUBLE PRECISION)",
    }
}

/// The zero-based offset of the nearest-rank `q` quantile among `n` sorted values.
fn quantile_offset(q: f64, n: u64) -> i64 {
    ((q * n as f64).ceil() as i64 - 1).clamp(0, n.saturating_sub(1) as i64)
}
