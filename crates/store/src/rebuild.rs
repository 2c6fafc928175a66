//! Aggregates computed once from the stored rows after a migration introduced them
//! (`aggregate_rebuilds` names the pending ones): the minute buckets of the observations and
//! the rank test's histogram of unit values (anchored at each group's first unit value
//! read), computed in Rust exactly as ingest computes
//! them. Runs under the migration guard, in one transaction that excludes ingest.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use rollout_core::experiment::{RankBins, StageEntry};

use crate::backend::{Args, Backend, ColumnType, Conn, Db, DbRow};
use crate::buckets::{self, NewBuckets};
use crate::store::multi_row_insert;
use crate::units::{kind_str, unit_value, KINDS};
use crate::StoreError;

/// Rows read per page.
const PAGE: i64 = 10_000;

#[derive(sqlx::FromRow)]
struct ObservationRow {
    id: i64,
    rollout: String,
    variant: String,
    metric: String,
    value: f64,
    observed_at: DateTime<Utc>,
    stage: i64,
    stage_entered_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct GroupRow {
    rollout: String,
    stage: i64,
    stage_entered_at: DateTime<Utc>,
    metric: String,
    variant: String,
}

/// Runs the pending rebuilds, if any.
pub(crate) async fn pending<B>(pool: &sqlx::Pool<Db<B>>) -> Result<(), StoreError>
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
    Vec<u8>: ColumnType<Db<B>>,
    DateTime<Utc>: ColumnType<Db<B>>,
{
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM aggregate_rebuilds ORDER BY name")
            .fetch_all(pool)
            .await?;
    if names.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin_with(B::BEGIN_WRITE).await?;
    if let Some(lock) = B::EXCLUDE_INGEST {
        sqlx::query(lock).execute(&mut *tx).await?;
    }
    let rows: Option<i64> = sqlx::query_scalar("SELECT id FROM observations LIMIT 1")
        .fetch_optional(&mut *tx)
        .await?;
    for name in &names {
        if rows.is_none() {
            // A new database: nothing to compute.
            sqlx::query("DELETE FROM aggregate_rebuilds WHERE name = $1")
                .bind(name.as_str())
                .execute(&mut *tx)
                .await?;
            continue;
        }
        tracing::info!(aggregate = %name, "computing maintained aggregates from the stored rows (once, after an upgrade)");
        match name.as_str() {
            "metric_buckets" => metric_buckets::<B>(&mut tx).await?,
            "unit_value_bins" => unit_value_bins::<B>(&mut tx).await?,
            _ => {}
        }
        sqlx::query("DELETE FROM aggregate_rebuilds WHERE name = $1")
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn metric_buckets<B>(conn: &mut Conn<B>) -> Result<(), StoreError>
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
    sqlx::query("DELETE FROM metric_buckets")
        .execute(&mut *conn)
        .await?;
    let mut by_rollout: BTreeMap<String, NewBuckets> = BTreeMap::new();
    let mut after = i64::MIN;
    loop {
        let rows: Vec<ObservationRow> = sqlx::query_as(
            "SELECT id, rollout, variant, metric, value, observed_at, stage, stage_entered_at \
             FROM observations WHERE id > $1 AND stage IS NOT NULL AND stage_entered_at IS NOT NULL \
             ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(PAGE)
        .fetch_all(&mut *conn)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        for r in &rows {
            let entry = StageEntry {
                stage: r.stage.max(0) as usize,
                entered_at: r.stage_entered_at,
            };
            by_rollout.entry(r.rollout.clone()).or_default().add(
                entry,
                &r.metric,
                &r.variant,
                r.observed_at,
                r.value,
            );
        }
    }
    for (rollout, new) in &by_rollout {
        buckets::update::<B>(conn, rollout, new).await?;
    }
    Ok(())
}

async fn unit_value_bins<B>(conn: &mut Conn<B>) -> Result<(), StoreError>
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
{
    for table in ["unit_value_bins", "unit_value_anchors"] {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *conn)
            .await?;
    }
    let groups: Vec<GroupRow> = sqlx::query_as(
        "SELECT DISTINCT rollout, stage, stage_entered_at, metric, variant FROM unit_values",
    )
    .fetch_all(&mut *conn)
    .await?;
    // (rollout, stage, entered, metric, kind) → its bins (anchored at its first unit value)
    type Group = (String, i64, DateTime<Utc>, String, &'static str);
    let mut anchors: BTreeMap<Group, RankBins> = BTreeMap::new();
    // (group, bin) → (control, treatment)
    let mut counts: BTreeMap<(Group, i64), (i64, i64)> = BTreeMap::new();
    for g in &groups {
        let mut after = String::new();
        loop {
            let page: Vec<(String, i64, f64)> = sqlx::query_as(
                "SELECT unit, n, mean FROM unit_values WHERE rollout = $1 AND stage = $2 \
                 AND stage_entered_at = $3 AND metric = $4 AND variant = $5 AND unit > $6 \
                 ORDER BY unit LIMIT $7",
            )
            .bind(g.rollout.as_str())
            .bind(g.stage)
            .bind(g.stage_entered_at)
            .bind(g.metric.as_str())
            .bind(g.variant.as_str())
            .bind(after.as_str())
            .bind(PAGE)
            .fetch_all(&mut *conn)
            .await?;
            let Some(last) = page.last() else { break };
            after = last.0.clone();
            for (_, n, mean) in &page {
                for k in KINDS {
                    let v = unit_value(k, n.max(&0).unsigned_abs(), *mean);
                    let group = (
                        g.rollout.clone(),
                        g.stage,
                        g.stage_entered_at,
                        g.metric.clone(),
                        kind_str(k),
                    );
                    let bins = *anchors
                        .entry(group.clone())
                        .or_insert_with(|| RankBins::new(v));
                    let c = counts.entry((group, bins.bin(v))).or_default();
                    if g.variant == "treatment" {
                        c.1 += 1;
                    } else {
                        c.0 += 1;
                    }
                }
            }
        }
    }
    for ((rollout, stage, entered, metric, kind), bins) in &anchors {
        sqlx::query(
            "INSERT INTO unit_value_anchors (rollout, stage, stage_entered_at, metric, per_unit, anchor) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(rollout.as_str())
        .bind(*stage)
        .bind(*entered)
        .bind(metric.as_str())
        .bind(*kind)
        .bind(bins.anchor())
        .execute(&mut *conn)
        .await?;
    }
    let rows: Vec<_> = counts.iter().collect();
    for chunk in rows.chunks(500) {
        let sql = multi_row_insert(
            "INSERT INTO unit_value_bins (rollout, stage, stage_entered_at, metric, per_unit, bin, control, treatment) ",
            chunk.len(),
            8,
            "",
        );
        let mut q = sqlx::query(&sql);
        for (((rollout, stage, entered, metric, kind), bin), (c, t)) in chunk {
            q = q
                .bind(rollout.as_str())
                .bind(*stage)
                .bind(*entered)
                .bind(metric.as_str())
                .bind(*kind)
                .bind(*bin)
                .bind(*c)
                .bind(*t);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}
