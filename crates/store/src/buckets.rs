//! The time-bucketed summaries of the observations (`metric_buckets`): maintained inside the
//! ingest transaction, read by the guardrails' windows in O(buckets).
//!
//! Concurrent ingests touching one bucket serialise on its row (locked on PostgreSQL, in key
//! order; SQLite's write transaction excludes other writers).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use rollout_core::experiment::{bucket_start, MetricSummary, StageEntry};
use rollout_core::stats::{Moments, Sketch};

use crate::backend::{Args, Backend, ColumnType, Conn, Db, DbRow};
use crate::StoreError;

/// (entry, metric, variant, bucket start): the key of one bucket.
pub(crate) type BucketKey = (StageEntry, String, String, DateTime<Utc>);

/// The new rows of one ingest, summarised per bucket.
#[derive(Default)]
pub(crate) struct NewBuckets(pub BTreeMap<BucketKey, MetricSummary>);

impl NewBuckets {
    pub fn add(
        &mut self,
        entry: StageEntry,
        metric: &str,
        variant: &str,
        observed_at: DateTime<Utc>,
        v: f64,
    ) {
        self.0
            .entry((
                entry,
                metric.to_owned(),
                variant.to_owned(),
                bucket_start(observed_at),
            ))
            .or_default()
            .add(v);
    }
}

/// A row of `metric_buckets`.
#[derive(sqlx::FromRow)]
pub(crate) struct BucketRow {
    pub variant: String,
    pub n: i64,
    pub nonzero: i64,
    pub mean: f64,
    pub m2: f64,
    pub sketch: Vec<u8>,
}

impl BucketRow {
    pub fn summary(&self) -> Result<MetricSummary, StoreError> {
        Ok(MetricSummary {
            moments: Moments::from_parts(self.n.max(0) as u64, self.mean, self.m2),
            nonzero: self.nonzero.max(0) as u64,
            // Empty when the reader did not ask for it.
            sketch: if self.sketch.is_empty() {
                Sketch::default()
            } else {
                Sketch::decode(&self.sketch).map_err(|e| StoreError::Corrupt(e.to_string()))?
            },
        })
    }
}

/// Merges `new` into the stored buckets, in the caller's transaction.
pub(crate) async fn update<B>(
    conn: &mut Conn<B>,
    rollout: &str,
    new: &NewBuckets,
) -> Result<(), StoreError>
where
    B: Backend,
    for<'c> &'c mut Conn<B>: Executor<'c, Database = Db<B>>,
    for<'q> Args<'q, B>: IntoArguments<'q, Db<B>>,
    for<'q> &'q str: Encode<'q, Db<B>> + Type<Db<B>>,
    for<'n> &'n str: ColumnIndex<DbRow<B>>,
    String: ColumnType<Db<B>>,
    i64: ColumnType<Db<B>>,
    f64: ColumnType<Db<B>>,
    Vec<u8>: ColumnType<Db<B>>,
    DateTime<Utc>: ColumnType<Db<B>>,
{
    // Keys are visited in order, so concurrent ingests lock shared buckets in one order.
    for ((entry, metric, variant, bucket), added) in &new.0 {
        let stage = entry.stage as i64;
        let stored: Option<BucketRow> = sqlx::query_as(&format!(
            "SELECT variant, n, nonzero, mean, m2, sketch FROM metric_buckets \
             WHERE rollout = $1 AND stage = $2 AND stage_entered_at = $3 AND metric = $4 \
             AND variant = $5 AND bucket_start = $6{}",
            B::FOR_UPDATE
        ))
        .bind(rollout)
        .bind(stage)
        .bind(entry.entered_at)
        .bind(metric.as_str())
        .bind(variant.as_str())
        .bind(*bucket)
        .fetch_optional(&mut *conn)
        .await?;
        let mut s = match &stored {
            Some(row) => row.summary()?,
            None => MetricSummary::default(),
        };
        s.merge(added);
        sqlx::query(
            "INSERT INTO metric_buckets (rollout, stage, stage_entered_at, metric, variant, bucket_start, \
             n, nonzero, mean, m2, sketch) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (rollout, stage, stage_entered_at, metric, variant, bucket_start) DO UPDATE SET \
             n = excluded.n, nonzero = excluded.nonzero, mean = excluded.mean, m2 = excluded.m2, \
             sketch = excluded.sketch",
        )
        .bind(rollout)
        .bind(stage)
        .bind(entry.entered_at)
        .bind(metric.as_str())
        .bind(variant.as_str())
        .bind(*bucket)
        .bind(s.n() as i64)
        .bind(s.nonzero as i64)
        .bind(if s.n() == 0 { 0.0 } else { s.moments.mean() })
        .bind(s.moments.m2())
        .bind(s.sketch.encode())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
