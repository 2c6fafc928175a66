//! The experiment's observations: ingest (with the per-unit aggregates of [`crate::units`]
//! maintained in the same transaction) and the statistics read back.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use rollout_core::config::{Aggregate, PerUnit};
use rollout_core::experiment::{
    bucket_start, rank_sums_of_bins, ExposureCounts, IngestReport, MetricSummary, Observation,
    StageEntry, UnitAggregate,
};
use rollout_core::records::{PerVariant, WindowValue};
use rollout_core::stats::{Moments, RankSums};

use crate::backend::{Args, Backend, ColumnType, Conn, Db, DbRow};
use crate::buckets::{self, BucketRow, NewBuckets};
use crate::copy;
use crate::rows::{ExposureRow, InsertedObservation, UnitMomentsRow};
use crate::store::multi_row_insert;
use crate::units::{self, kind_str, NewRows};
use crate::{ObservationStore, SqlStore, StoreError};

/// Observations per multi-row INSERT: 10 parameters each, well under both databases' limits.
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
    Option<i64>: ColumnType<Db<B>>,
    Option<DateTime<Utc>>: ColumnType<Db<B>>,
    Vec<u8>: ColumnType<Db<B>>,
{
    async fn ingest(
        &self,
        rollout: &str,
        rows: &[Observation],
        now: DateTime<Utc>,
    ) -> Result<IngestReport, StoreError> {
        let mut tx = self.pool.begin_with(B::BEGIN_WRITE).await?;
        // Rows observed before the compaction watermark are summarised already: their raw
        // rows (and event ids) are gone, so they count as re-delivered.
        let compacted_before: Option<DateTime<Utc>> =
            sqlx::query_scalar::<_, Option<DateTime<Utc>>>(
                "SELECT compacted_before FROM observation_marks WHERE rollout = $1",
            )
            .bind(rollout)
            .fetch_optional(&mut *tx)
            .await?
            .flatten();
        let kept: Vec<&Observation> = rows
            .iter()
            .filter(|o| compacted_before.is_none_or(|c| o.observed_at >= c))
            .collect();
        let mut inserted = 0u64;
        let mut new_rows = NewRows::default();
        let mut new_buckets = NewBuckets::default();
        let mut stored: Vec<InsertedObservation> = Vec::new();
        if kept.len() >= copy::BULK_MIN
            && B::copy_observations(&mut tx, &copy::render(rollout, &kept, now)).await?
        {
            // One set-based insert from the staging table.
            stored = sqlx::query_as(
                "INSERT INTO observations (rollout, variant, unit, metric, value, observed_at, event_id, \
                 ingested_at, stage, stage_entered_at) SELECT rollout, variant, unit, metric, value, \
                 observed_at, event_id, ingested_at, stage, stage_entered_at FROM observation_staging \
                 ON CONFLICT (rollout, event_id) DO NOTHING \
                 RETURNING variant, metric, value, unit, observed_at, stage, stage_entered_at",
            )
            .fetch_all(&mut *tx)
            .await?;
        } else {
            for chunk in kept.chunks(INSERT_CHUNK) {
                let sql = multi_row_insert(
                    "INSERT INTO observations (rollout, variant, unit, metric, value, observed_at, event_id, \
                     ingested_at, stage, stage_entered_at) ",
                    chunk.len(),
                    10,
                    " ON CONFLICT (rollout, event_id) DO NOTHING \
                     RETURNING variant, metric, value, unit, observed_at, stage, stage_entered_at",
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
                        .bind(now)
                        .bind(o.entry.map(|e| e.stage as i64))
                        .bind(o.entry.map(|e| e.entered_at));
                }
                stored.extend(q.fetch_all(&mut *tx).await?);
            }
        }
        for o in stored {
            inserted += 1;
            if let (Some(stage), Some(entered_at)) = (o.stage, o.stage_entered_at) {
                let entry = StageEntry {
                    stage: stage.max(0) as usize,
                    entered_at,
                };
                new_buckets.add(entry, &o.metric, &o.variant, o.observed_at, o.value);
                new_rows.add(entry, o.metric, o.variant, o.unit, o.value);
            }
        }
        units::update::<B>(&mut tx, rollout, &new_rows).await?;
        buckets::update::<B>(&mut tx, rollout, &new_buckets).await?;
        if inserted > 0 {
            sqlx::query(
                "INSERT INTO observation_marks (rollout, last_ingested_at) VALUES ($1, $2) \
                 ON CONFLICT (rollout) DO UPDATE SET last_ingested_at = excluded.last_ingested_at",
            )
            .bind(rollout)
            .bind(now)
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

    async fn unit_aggregate(
        &self,
        rollout: &str,
        entry: StageEntry,
        metric: &str,
        per_unit: PerUnit,
    ) -> Result<UnitAggregate, StoreError> {
        let rows: Vec<UnitMomentsRow> = sqlx::query_as(
            "SELECT variant, per_unit, units, observations, events, mean, m2 FROM unit_moments \
             WHERE rollout = $1 AND stage = $2 AND stage_entered_at = $3 AND metric = $4 AND per_unit = $5",
        )
        .bind(rollout)
        .bind(entry.stage as i64)
        .bind(entry.entered_at)
        .bind(metric)
        .bind(kind_str(per_unit))
        .fetch_all(&self.pool)
        .await?;
        let mut out = UnitAggregate::default();
        for r in rows {
            let count = |v: i64| v.max(0) as u64;
            if let Some(m) = out.moments.get_mut(&r.variant) {
                *m = Moments::from_parts(count(r.units), r.mean, r.m2);
            }
            if let Some(o) = out.observations.get_mut(&r.variant) {
                *o = count(r.observations);
            }
            if let Some(e) = out.events.get_mut(&r.variant) {
                *e = count(r.events);
            }
        }
        Ok(out)
    }

    async fn unit_rank_sums(
        &self,
        rollout: &str,
        entry: StageEntry,
        metric: &str,
        per_unit: PerUnit,
    ) -> Result<RankSums, StoreError> {
        let kind = kind_str(per_unit);
        // The state of the bins, told by the observation count of the metric's moments:
        // every batch that moves a bin adds observations in the same transaction.
        let observations: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(observations), 0) AS BIGINT) FROM unit_moments WHERE rollout = $1 \
             AND stage = $2 AND stage_entered_at = $3 AND metric = $4 AND per_unit = $5",
        )
        .bind(rollout)
        .bind(entry.stage as i64)
        .bind(entry.entered_at)
        .bind(metric)
        .bind(kind)
        .fetch_one(&self.pool)
        .await?;
        let cached: Option<(i64, i64, i64, f64, f64)> = sqlx::query_as(
            "SELECT observations, n_a, n_b, rank_sum_a, tie_term FROM unit_rank_cache \
             WHERE rollout = $1 AND stage = $2 AND stage_entered_at = $3 AND metric = $4 \
             AND per_unit = $5",
        )
        .bind(rollout)
        .bind(entry.stage as i64)
        .bind(entry.entered_at)
        .bind(metric)
        .bind(kind)
        .fetch_optional(&self.pool)
        .await?;
        if let Some((seen, n_a, n_b, rank_sum_a, tie_term)) = cached {
            if seen == observations {
                return Ok(RankSums {
                    n_a: n_a.max(0) as u64,
                    n_b: n_b.max(0) as u64,
                    rank_sum_a,
                    tie_term,
                });
            }
        }
        // The histogram of unit values (`unit_value_bins`: O(bins), never the units or the
        // rows), in bin order; each bin is a tie group.
        let bins: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT control, treatment FROM unit_value_bins WHERE rollout = $1 AND stage = $2 \
             AND stage_entered_at = $3 AND metric = $4 AND per_unit = $5 \
             AND control + treatment > 0 ORDER BY bin",
        )
        .bind(rollout)
        .bind(entry.stage as i64)
        .bind(entry.entered_at)
        .bind(metric)
        .bind(kind)
        .fetch_all(&self.pool)
        .await?;
        let sums = rank_sums_of_bins(
            bins.into_iter()
                .map(|(c, t)| (c.max(0) as u64, t.max(0) as u64)),
        );
        // Kept for the count read above. Bins read after a newer commit are kept under the
        // older count, which never comes back (counts only grow): at worst a recomputation.
        // Only a cache: a failure to keep it (a read-only login) changes nothing.
        if let Err(e) = sqlx::query(
            "INSERT INTO unit_rank_cache (rollout, stage, stage_entered_at, metric, per_unit, \
             observations, n_a, n_b, rank_sum_a, tie_term) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (rollout, stage, stage_entered_at, metric, per_unit) DO UPDATE SET \
             observations = excluded.observations, n_a = excluded.n_a, n_b = excluded.n_b, \
             rank_sum_a = excluded.rank_sum_a, tie_term = excluded.tie_term",
        )
        .bind(rollout)
        .bind(entry.stage as i64)
        .bind(entry.entered_at)
        .bind(metric)
        .bind(kind)
        .bind(observations)
        .bind(sums.n_a as i64)
        .bind(sums.n_b as i64)
        .bind(sums.rank_sum_a)
        .bind(sums.tie_term)
        .execute(&self.pool)
        .await
        {
            tracing::debug!(error = %e, "rank sums not cached");
        }
        Ok(sums)
    }

    async fn exposure(
        &self,
        rollout: &str,
        entry: StageEntry,
    ) -> Result<ExposureCounts, StoreError> {
        let row: Option<ExposureRow> = sqlx::query_as(
            "SELECT control, treatment, multiple FROM exposure_counts \
             WHERE rollout = $1 AND stage = $2 AND stage_entered_at = $3",
        )
        .bind(rollout)
        .bind(entry.stage as i64)
        .bind(entry.entered_at)
        .fetch_optional(&self.pool)
        .await?;
        let count = |v: i64| v.max(0) as u64;
        Ok(
            row.map_or_else(ExposureCounts::default, |r| ExposureCounts {
                units: PerVariant {
                    control: count(r.control),
                    treatment: count(r.treatment),
                },
                multiple: count(r.multiple),
            }),
        )
    }

    async fn analysis_memory(
        &self,
        rollout: &str,
        entry: StageEntry,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT memory FROM analysis_memory WHERE rollout = $1 AND stage = $2 AND stage_entered_at = $3",
        )
        .bind(rollout)
        .bind(entry.stage as i64)
        .bind(entry.entered_at)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn window_aggregate(
        &self,
        rollout: &str,
        entry: StageEntry,
        metric: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        aggregate: Aggregate,
    ) -> Result<PerVariant<WindowValue>, StoreError> {
        // The buckets of the minutes the window touches (O(buckets)); the sketches only when
        // a quantile is asked for.
        let sketch = if aggregate.quantile().is_some() {
            "sketch"
        } else {
            "SUBSTR(sketch, 1, 0) AS sketch"
        };
        let rows: Vec<BucketRow> = sqlx::query_as(&format!(
            "SELECT variant, n, nonzero, mean, m2, {} FROM metric_buckets \
             WHERE rollout = $1 AND stage = $2 AND stage_entered_at = $3 AND metric = $4 \
             AND bucket_start >= $5 AND bucket_start <= $6",
            sketch
        ))
        .bind(rollout)
        .bind(entry.stage as i64)
        .bind(entry.entered_at)
        .bind(metric)
        .bind(bucket_start(since))
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        let mut sums = PerVariant::<MetricSummary>::default();
        for r in rows {
            if let Some(slot) = sums.get_mut(&r.variant) {
                slot.merge(&r.summary()?);
            }
        }
        let value = |m: &MetricSummary| WindowValue {
            n: m.n(),
            value: m.value(aggregate),
        };
        Ok(PerVariant {
            control: value(&sums.control),
            treatment: value(&sums.treatment),
        })
    }

    async fn last_ingested_at(&self, rollout: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let at: Option<Option<DateTime<Utc>>> =
            sqlx::query_scalar("SELECT last_ingested_at FROM observation_marks WHERE rollout = $1")
                .bind(rollout)
                .fetch_optional(&self.pool)
                .await?;
        Ok(at.flatten())
    }

    async fn compacted_at(&self, rollout: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let at: Option<Option<DateTime<Utc>>> =
            sqlx::query_scalar("SELECT compacted_at FROM observation_marks WHERE rollout = $1")
                .bind(rollout)
                .fetch_optional(&self.pool)
                .await?;
        Ok(at.flatten())
    }

    async fn compact(
        &self,
        rollout: &str,
        before: DateTime<Utc>,
        current: Option<StageEntry>,
        now: DateTime<Utc>,
    ) -> Result<(u64, DateTime<Utc>), StoreError> {
        // Everything observed before the watermark belongs to an ended stage: it never
        // reaches past the current entry's start.
        let watermark = current.map_or(before, |c| before.min(c.entered_at));
        let mut tx = self.pool.begin_with(B::BEGIN_WRITE).await?;
        let stored: Option<DateTime<Utc>> = sqlx::query_scalar::<_, Option<DateTime<Utc>>>(
            "SELECT compacted_before FROM observation_marks WHERE rollout = $1",
        )
        .bind(rollout)
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
        let watermark = stored.map_or(watermark, |s| s.max(watermark));
        let (stage, entered) = match current {
            Some(c) => (c.stage as i64, Some(c.entered_at)),
            None => (-1, None),
        };
        let result = sqlx::query(
            "DELETE FROM observations WHERE rollout = $1 AND observed_at < $2 \
             AND (stage IS NULL OR stage_entered_at IS NULL OR stage <> $3 \
                  OR $4 IS NULL OR stage_entered_at <> $4)",
        )
        .bind(rollout)
        .bind(watermark)
        .bind(stage)
        .bind(entered)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO observation_marks (rollout, compacted_before, compacted_at) VALUES ($1, $2, $3) \
             ON CONFLICT (rollout) DO UPDATE SET compacted_before = excluded.compacted_before, \
             compacted_at = excluded.compacted_at",
        )
        .bind(rollout)
        .bind(watermark)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((B::rows_affected(&result), watermark))
    }
}
