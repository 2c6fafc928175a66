//! The time-bucketed summaries of the observations (`metric_buckets`): maintained inside the
//! ingest transaction, read by the guardrails' windows in O(buckets).
//!
//! Concurrent ingests touching one bucket are serialised before they get here: a bucket's
//! (entry, metric) is that of the `unit_moments` rows `units::update` locks first in the same
//! transaction (SQLite's write transaction excludes other writers anyway), so the stored
//! bucket read here is current even when it did not exist yet.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use rollout_core::experiment::{bucket_start, MetricSummary, StageEntry};
use rollout_core::stats::{Moments, Sketch};

use crate::backend::{Args, Backend, ColumnType, Conn, Db, DbRow};
use crate::store::multi_row_insert;
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

/// Buckets per statement (5 parameters each to read, 11 to write).
const CHUNK: usize = 200;

/// A stored bucket with its key.
#[derive(sqlx::FromRow)]
struct StoredBucket {
    stage: i64,
    stage_entered_at: DateTime<Utc>,
    metric: String,
    bucket_start: DateTime<Utc>,
    #[sqlx(flatten)]
    row: BucketRow,
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
    // One read of the stored buckets this ingest touches, one write of their merged values.
    for chunk in new.0.iter().collect::<Vec<_>>().chunks(CHUNK) {
        let mut sql = String::from(
            "SELECT stage, stage_entered_at, metric, variant, bucket_start, n, nonzero, mean, m2, sketch \
             FROM metric_buckets WHERE rollout = $1 AND (",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(" OR ");
            }
            let p = 2 + i * 5;
            sql.push_str(&format!(
                "(stage = ${p} AND stage_entered_at = ${} AND metric = ${} AND variant = ${} AND bucket_start = ${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4
            ));
        }
        sql.push(')');
        let mut q = sqlx::query_as::<_, StoredBucket>(&sql).bind(rollout);
        for ((entry, metric, variant, bucket), _) in chunk {
            q = q
                .bind(entry.stage as i64)
                .bind(entry.entered_at)
                .bind(metric.as_str())
                .bind(variant.as_str())
                .bind(*bucket);
        }
        let mut stored: BTreeMap<BucketKey, MetricSummary> = BTreeMap::new();
        for r in q.fetch_all(&mut *conn).await? {
            let key = (
                StageEntry {
                    stage: r.stage.max(0) as usize,
                    entered_at: r.stage_entered_at,
                },
                r.metric.clone(),
                r.row.variant.clone(),
                r.bucket_start,
            );
            stored.insert(key, r.row.summary()?);
        }
        let sql = multi_row_insert(
            "INSERT INTO metric_buckets (rollout, stage, stage_entered_at, metric, variant, bucket_start, \
             n, nonzero, mean, m2, sketch) ",
            chunk.len(),
            11,
            " ON CONFLICT (rollout, stage, stage_entered_at, metric, variant, bucket_start) DO UPDATE SET \
             n = excluded.n, nonzero = excluded.nonzero, mean = excluded.mean, m2 = excluded.m2, \
             sketch = excluded.sketch",
        );
        let mut q = sqlx::query(&sql);
        for (key, added) in chunk {
            let mut s = stored.remove(*key).unwrap_or_default();
            s.merge(added);
            let (entry, metric, variant, bucket) = key;
            q = q
                .bind(rollout)
                .bind(entry.stage as i64)
                .bind(entry.entered_at)
                .bind(metric.as_str())
                .bind(variant.as_str())
                .bind(*bucket)
                .bind(s.n() as i64)
                .bind(s.nonzero as i64)
                .bind(if s.n() == 0 { 0.0 } else { s.moments.mean() })
                .bind(s.moments.m2())
                .bind(s.sketch.encode());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}
