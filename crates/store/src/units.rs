//! The per-unit aggregates, maintained inside the ingest transaction: each unit's count and
//! running mean per (stage entry, metric, variant), the moments of the unit values for both
//! `per_unit` kinds (a unit whose value changes is removed with its old value and added with
//! its new one), and the units exposed per variant.
//!
//! Concurrent ingests of one (entry, metric) serialise on its `unit_moments` rows (locked
//! first, in key order, on PostgreSQL; SQLite's write transaction excludes other writers),
//! so the unit rows they read are current.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use rollout_core::config::PerUnit;
use rollout_core::experiment::{RankBins, StageEntry};
use rollout_core::stats::Moments;

use crate::backend::{Args, Backend, ColumnType, Conn, Db, DbRow};
use crate::rows::{ExposureRow, UnitMomentsRow, UnitValueRow};
use crate::store::{multi_row_insert, placeholders};
use crate::StoreError;

/// Units per multi-row statement.
const CHUNK: usize = 500;

pub(crate) const KINDS: [PerUnit; 2] = [PerUnit::Mean, PerUnit::Sum];

pub(crate) fn kind_str(k: PerUnit) -> &'static str {
    match k {
        PerUnit::Mean => "mean",
        PerUnit::Sum => "sum",
    }
}

/// A unit's value of its observations' (count, mean) for a kind.
pub(crate) fn unit_value(k: PerUnit, n: u64, mean: f64) -> f64 {
    match k {
        PerUnit::Mean => mean,
        PerUnit::Sum => mean * n as f64,
    }
}

/// The observations one ingest stored, grouped for the aggregates.
#[derive(Default)]
pub(crate) struct NewRows {
    /// (entry, metric) → (variant, unit) → the new values' count and mean.
    pub by_metric: BTreeMap<(StageEntry, String), BTreeMap<(String, String), Moments>>,
    /// entry → unit → variant bits (1 control, 2 treatment).
    pub exposures: BTreeMap<StageEntry, BTreeMap<String, i64>>,
}

impl NewRows {
    pub fn add(
        &mut self,
        entry: StageEntry,
        metric: String,
        variant: String,
        unit: String,
        v: f64,
    ) {
        let bit = if variant == "treatment" { 2 } else { 1 };
        *self
            .exposures
            .entry(entry)
            .or_default()
            .entry(unit.clone())
            .or_default() |= bit;
        self.by_metric
            .entry((entry, metric))
            .or_default()
            .entry((variant, unit))
            .or_default()
            .add(v);
    }
}

/// The maintained moments of one (entry, metric, variant, kind) while they are updated.
#[derive(Default, Clone, Copy)]
struct Acc {
    moments: Moments,
    observations: i64,
    events: i64,
}

/// Updates every aggregate for `rows`, in the caller's transaction.
pub(crate) async fn update<B>(
    conn: &mut Conn<B>,
    rollout: &str,
    rows: &NewRows,
) -> Result<(), StoreError>
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
    for ((entry, metric), units) in &rows.by_metric {
        update_metric::<B>(conn, rollout, entry, metric, units).await?;
    }
    for (entry, units) in &rows.exposures {
        update_exposures::<B>(conn, rollout, entry, units).await?;
    }
    Ok(())
}

async fn update_metric<B>(
    conn: &mut Conn<B>,
    rollout: &str,
    entry: &StageEntry,
    metric: &str,
    units: &BTreeMap<(String, String), Moments>,
) -> Result<(), StoreError>
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
    let stage = entry.stage as i64;
    // Make sure the four rows exist, then lock and read them.
    let sql = multi_row_insert(
        "INSERT INTO unit_moments (rollout, stage, stage_entered_at, metric, variant, per_unit, \
         units, observations, events, mean, m2) ",
        4,
        11,
        " ON CONFLICT (rollout, stage, stage_entered_at, metric, variant, per_unit) DO NOTHING",
    );
    let mut q = sqlx::query(&sql);
    for variant in ["control", "treatment"] {
        for k in KINDS {
            q = q
                .bind(rollout)
                .bind(stage)
                .bind(entry.entered_at)
                .bind(metric)
                .bind(variant)
                .bind(kind_str(k))
                .bind(0i64)
                .bind(0i64)
                .bind(0i64)
                .bind(0.0f64)
                .bind(0.0f64);
        }
    }
    q.execute(&mut *conn).await?;
    let current: Vec<UnitMomentsRow> = sqlx::query_as(&format!(
        "SELECT variant, per_unit, units, observations, events, mean, m2 FROM unit_moments \
         WHERE rollout = $1 AND stage = $2 AND stage_entered_at = $3 AND metric = $4 \
         ORDER BY variant, per_unit{}",
        B::FOR_UPDATE
    ))
    .bind(rollout)
    .bind(stage)
    .bind(entry.entered_at)
    .bind(metric)
    .fetch_all(&mut *conn)
    .await?;
    let mut acc: BTreeMap<(String, &'static str), Acc> = BTreeMap::new();
    for r in current {
        let kind = if r.per_unit == "sum" { "sum" } else { "mean" };
        acc.insert(
            (r.variant, kind),
            Acc {
                moments: Moments::from_parts(r.units.max(0) as u64, r.mean, r.m2),
                observations: r.observations,
                events: r.events,
            },
        );
    }

    let keys: Vec<&(String, String)> = units.keys().collect();
    // Each kind's rank bins, anchored at the group's first unit value.
    let mut anchors: BTreeMap<&'static str, RankBins> = BTreeMap::new();
    let stored_anchors: Vec<(String, f64)> = sqlx::query_as(
        "SELECT per_unit, anchor FROM unit_value_anchors WHERE rollout = $1 AND stage = $2 \
         AND stage_entered_at = $3 AND metric = $4",
    )
    .bind(rollout)
    .bind(stage)
    .bind(entry.entered_at)
    .bind(metric)
    .fetch_all(&mut *conn)
    .await?;
    for (kind, anchor) in stored_anchors {
        let kind = if kind == "sum" { "sum" } else { "mean" };
        anchors.insert(kind, RankBins::new(anchor));
    }
    let mut new_anchors: Vec<(&'static str, f64)> = Vec::new();
    // (kind, bin) → change of (control, treatment) units in it.
    let mut bin_moves: BTreeMap<(&'static str, i64), (i64, i64)> = BTreeMap::new();
    let mut upserts: Vec<(&str, &str, Moments)> = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(CHUNK) {
        // The stored (count, mean) of these units.
        let mut sql = String::from(
            "SELECT variant, unit, n, mean FROM unit_values WHERE rollout = $1 AND stage = $2 \
             AND stage_entered_at = $3 AND metric = $4 AND unit IN (",
        );
        sql.push_str(&placeholders(5, chunk.len()));
        sql.push(')');
        let mut q = sqlx::query_as::<_, UnitValueRow>(&sql)
            .bind(rollout)
            .bind(stage)
            .bind(entry.entered_at)
            .bind(metric);
        for (_, unit) in chunk {
            q = q.bind(unit.as_str());
        }
        let stored: BTreeMap<(String, String), (u64, f64)> = q
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|r| ((r.variant, r.unit), (r.n.max(0) as u64, r.mean)))
            .collect();
        for key in chunk {
            let added = units[*key];
            let old = stored.get(*key).copied();
            let mut unit = Moments::default();
            if let Some((n, mean)) = old {
                unit = Moments::from_parts(n, mean, 0.0);
            }
            unit.merge(&added);
            for k in KINDS {
                let Some(a) = acc.get_mut(&(key.0.clone(), kind_str(k))) else {
                    continue;
                };
                let step = if key.0 == "treatment" { (0, 1) } else { (1, 0) };
                let bins = *anchors.entry(kind_str(k)).or_insert_with(|| {
                    let first = unit_value(k, unit.n(), unit.mean());
                    new_anchors.push((kind_str(k), first));
                    RankBins::new(first)
                });
                if let Some((n, mean)) = old {
                    let v = unit_value(k, n, mean);
                    a.moments.remove(v);
                    a.events -= i64::from(v != 0.0);
                    let m = bin_moves.entry((kind_str(k), bins.bin(v))).or_default();
                    m.0 -= step.0;
                    m.1 -= step.1;
                }
                let v = unit_value(k, unit.n(), unit.mean());
                a.moments.add(v);
                a.events += i64::from(v != 0.0);
                a.observations += added.n() as i64;
                let m = bin_moves.entry((kind_str(k), bins.bin(v))).or_default();
                m.0 += step.0;
                m.1 += step.1;
            }
            upserts.push((key.0.as_str(), key.1.as_str(), unit));
        }
    }

    for chunk in upserts.chunks(CHUNK) {
        let sql = multi_row_insert(
            "INSERT INTO unit_values (rollout, stage, stage_entered_at, metric, variant, unit, n, mean) ",
            chunk.len(),
            8,
            " ON CONFLICT (rollout, stage, stage_entered_at, metric, variant, unit) \
             DO UPDATE SET n = excluded.n, mean = excluded.mean",
        );
        let mut q = sqlx::query(&sql);
        for (variant, unit, m) in chunk {
            q = q
                .bind(rollout)
                .bind(stage)
                .bind(entry.entered_at)
                .bind(metric)
                .bind(*variant)
                .bind(*unit)
                .bind(m.n() as i64)
                .bind(m.mean());
        }
        q.execute(&mut *conn).await?;
    }

    for (kind, anchor) in &new_anchors {
        sqlx::query(
            "INSERT INTO unit_value_anchors (rollout, stage, stage_entered_at, metric, per_unit, anchor) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(rollout)
        .bind(stage)
        .bind(entry.entered_at)
        .bind(metric)
        .bind(*kind)
        .bind(*anchor)
        .execute(&mut *conn)
        .await?;
    }
    let moves: Vec<_> = bin_moves.iter().filter(|(_, d)| **d != (0, 0)).collect();
    for chunk in moves.chunks(CHUNK) {
        let sql = multi_row_insert(
            "INSERT INTO unit_value_bins (rollout, stage, stage_entered_at, metric, per_unit, bin, control, treatment) ",
            chunk.len(),
            8,
            " ON CONFLICT (rollout, stage, stage_entered_at, metric, per_unit, bin) DO UPDATE SET \
             control = unit_value_bins.control + excluded.control, \
             treatment = unit_value_bins.treatment + excluded.treatment",
        );
        let mut q = sqlx::query(&sql);
        for ((kind, bin), (dc, dt)) in chunk {
            q = q
                .bind(rollout)
                .bind(stage)
                .bind(entry.entered_at)
                .bind(metric)
                .bind(*kind)
                .bind(*bin)
                .bind(*dc)
                .bind(*dt);
        }
        q.execute(&mut *conn).await?;
    }

    // The (locked) rows exist: one statement writes all four.
    let sql = multi_row_insert(
        "INSERT INTO unit_moments (rollout, stage, stage_entered_at, metric, variant, per_unit, \
         units, observations, events, mean, m2) ",
        acc.len(),
        11,
        " ON CONFLICT (rollout, stage, stage_entered_at, metric, variant, per_unit) DO UPDATE SET \
         units = excluded.units, observations = excluded.observations, events = excluded.events, \
         mean = excluded.mean, m2 = excluded.m2",
    );
    let mut q = sqlx::query(&sql);
    for ((variant, kind), a) in &acc {
        q = q
            .bind(rollout)
            .bind(stage)
            .bind(entry.entered_at)
            .bind(metric)
            .bind(variant.as_str())
            .bind(*kind)
            .bind(a.moments.n() as i64)
            .bind(a.observations)
            .bind(a.events)
            .bind(if a.moments.n() == 0 {
                0.0
            } else {
                a.moments.mean()
            })
            .bind(a.moments.m2());
    }
    if !acc.is_empty() {
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

async fn update_exposures<B>(
    conn: &mut Conn<B>,
    rollout: &str,
    entry: &StageEntry,
    units: &BTreeMap<String, i64>,
) -> Result<(), StoreError>
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
    let stage = entry.stage as i64;
    sqlx::query(
        "INSERT INTO exposure_counts (rollout, stage, stage_entered_at, control, treatment, multiple) \
         VALUES ($1, $2, $3, 0, 0, 0) ON CONFLICT (rollout, stage, stage_entered_at) DO NOTHING",
    )
    .bind(rollout)
    .bind(stage)
    .bind(entry.entered_at)
    .execute(&mut *conn)
    .await?;
    let (mut control, mut treatment, mut multiple): (i64, i64, i64) = {
        let r: ExposureRow = sqlx::query_as(&format!(
            "SELECT control, treatment, multiple FROM exposure_counts \
             WHERE rollout = $1 AND stage = $2 AND stage_entered_at = $3{}",
            B::FOR_UPDATE
        ))
        .bind(rollout)
        .bind(stage)
        .bind(entry.entered_at)
        .fetch_one(&mut *conn)
        .await?;
        (r.control, r.treatment, r.multiple)
    };
    let keys: Vec<(&String, &i64)> = units.iter().collect();
    for chunk in keys.chunks(CHUNK) {
        let mut sql = String::from(
            "SELECT unit, variants FROM unit_exposures WHERE rollout = $1 AND stage = $2 \
             AND stage_entered_at = $3 AND unit IN (",
        );
        sql.push_str(&placeholders(4, chunk.len()));
        sql.push(')');
        let mut q = sqlx::query_as::<_, (String, i64)>(&sql)
            .bind(rollout)
            .bind(stage)
            .bind(entry.entered_at);
        for (unit, _) in chunk {
            q = q.bind(unit.as_str());
        }
        let stored: BTreeMap<String, i64> = q.fetch_all(&mut *conn).await?.into_iter().collect();
        let mut changed: Vec<(&str, i64)> = Vec::new();
        for (unit, bits) in chunk {
            let old = stored.get(*unit).copied().unwrap_or(0);
            let new = old | **bits;
            if new == old {
                continue;
            }
            control += i64::from(new & 1 != 0 && old & 1 == 0);
            treatment += i64::from(new & 2 != 0 && old & 2 == 0);
            multiple += i64::from(new == 3 && old != 3);
            changed.push((unit.as_str(), new));
        }
        if changed.is_empty() {
            continue;
        }
        let sql = multi_row_insert(
            "INSERT INTO unit_exposures (rollout, stage, stage_entered_at, unit, variants) ",
            changed.len(),
            5,
            " ON CONFLICT (rollout, stage, stage_entered_at, unit) DO UPDATE SET variants = excluded.variants",
        );
        let mut q = sqlx::query(&sql);
        for (unit, bits) in &changed {
            q = q
                .bind(rollout)
                .bind(stage)
                .bind(entry.entered_at)
                .bind(*unit)
                .bind(*bits);
        }
        q.execute(&mut *conn).await?;
    }
    sqlx::query(
        "UPDATE exposure_counts SET control = $4, treatment = $5, multiple = $6 \
         WHERE rollout = $1 AND stage = $2 AND stage_entered_at = $3",
    )
    .bind(rollout)
    .bind(stage)
    .bind(entry.entered_at)
    .bind(control)
    .bind(treatment)
    .bind(multiple)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
