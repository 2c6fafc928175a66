//! The dashboard's series: the history by page, the guardrail points (written by
//! `record_guardrails`, in its transaction), the analysis snapshots (one per look of the
//! design, written with the design's memory) and each rollout's latest analysis.

use async_trait::async_trait;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use rollout_core::experiment::StageEntry;
use rollout_core::records::{EventRow, GuardrailReading};
use rollout_core::series::{AnalysisSnapshot, GuardrailPoint, LatestAnalysis};

use crate::backend::{Args, Backend, ColumnType, Conn, Db, DbRow};
use crate::rows::{to_json, EventsRow, GuardrailStatusRow, JsonValue};
use crate::{SeriesStore, SqlStore, StoreError};

/// A row of `guardrail_readings`.
#[derive(sqlx::FromRow)]
struct PointRow {
    id: i64,
    #[sqlx(flatten)]
    reading: GuardrailStatusRow,
}

/// A row of `analysis_snapshots`.
#[derive(sqlx::FromRow)]
struct SnapshotRow {
    id: i64,
    rollout: String,
    stage_index: i64,
    verdict: String,
    taken_at: DateTime<Utc>,
    analysis: JsonValue,
}

/// A row of `analysis_latest`.
#[derive(sqlx::FromRow)]
struct LatestRow {
    rollout: String,
    stage_index: i64,
    verdict: String,
    computed_at: DateTime<Utc>,
    analysis: JsonValue,
}

impl LatestRow {
    fn latest(self) -> (String, LatestAnalysis) {
        (
            self.rollout,
            LatestAnalysis {
                stage_index: self.stage_index,
                verdict: self.verdict,
                computed_at: self.computed_at,
                analysis: self.analysis.0,
            },
        )
    }
}

const LATEST: &str =
    "SELECT rollout, stage_index, verdict, computed_at, analysis FROM analysis_latest";

/// The cursor as bound: no cursor reads from the newest row.
fn below(before: Option<i64>) -> i64 {
    before.unwrap_or(i64::MAX)
}

#[async_trait]
impl<B> SeriesStore for SqlStore<B>
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
    JsonValue: ColumnType<Db<B>>,
    Option<String>: ColumnType<Db<B>>,
    Option<i64>: ColumnType<Db<B>>,
    Option<f64>: ColumnType<Db<B>>,
{
    async fn history_page(
        &self,
        rollout: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        let rows: Vec<EventsRow> = sqlx::query_as(
            "SELECT id, rollout, at, actor, action, reason, from_stage, to_stage, from_status, to_status, \
             state_version, flags_version, flags, stage_entered_at FROM rollout_events WHERE rollout = $1 AND id < $2 \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(rollout)
        .bind(below(before))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(EventRow::try_from).collect()
    }

    async fn guardrail_points(
        &self,
        rollout: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<GuardrailPoint>, StoreError> {
        let rows: Vec<PointRow> = sqlx::query_as(
            "SELECT id, guardrail, status, consecutive, value, control_value, n, detail, evaluated_at \
             FROM guardrail_readings WHERE rollout = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(rollout)
        .bind(below(before))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(GuardrailPoint {
                    id: r.id,
                    reading: GuardrailReading::try_from(r.reading)?,
                })
            })
            .collect()
    }

    async fn analysis_snapshots(
        &self,
        rollout: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AnalysisSnapshot>, StoreError> {
        let rows: Vec<SnapshotRow> = sqlx::query_as(
            "SELECT id, rollout, stage_index, verdict, taken_at, analysis FROM analysis_snapshots \
             WHERE rollout = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(rollout)
        .bind(below(before))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| AnalysisSnapshot {
                id: r.id,
                rollout: r.rollout,
                stage_index: r.stage_index,
                verdict: r.verdict,
                taken_at: r.taken_at,
                analysis: r.analysis.0,
            })
            .collect())
    }

    async fn record_judgment(
        &self,
        rollout: &str,
        latest: &LatestAnalysis,
        memory: Option<(StageEntry, &str, bool)>,
        epoch: Option<i64>,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.pool.begin_with(B::BEGIN_WRITE).await?;
        if let Some(epoch) = epoch {
            crate::state::fence::<B>(&mut tx, epoch).await?;
        }
        sqlx::query(
            "INSERT INTO analysis_latest (rollout, stage_index, verdict, computed_at, analysis) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (rollout) DO UPDATE SET \
             stage_index = excluded.stage_index, verdict = excluded.verdict, \
             computed_at = excluded.computed_at, analysis = excluded.analysis",
        )
        .bind(rollout)
        .bind(latest.stage_index)
        .bind(&latest.verdict)
        .bind(latest.computed_at)
        .bind(to_json(&latest.analysis))
        .execute(&mut *tx)
        .await?;
        let mut id = None;
        if let Some((entry, memory, look)) = memory {
            sqlx::query(
                "INSERT INTO analysis_memory (rollout, stage, stage_entered_at, memory, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (rollout, stage, stage_entered_at) \
                 DO UPDATE SET memory = excluded.memory, updated_at = excluded.updated_at",
            )
            .bind(rollout)
            .bind(entry.stage as i64)
            .bind(entry.entered_at)
            .bind(memory)
            .bind(latest.computed_at)
            .execute(&mut *tx)
            .await?;
            if look {
                id = Some(
                    sqlx::query_scalar(
                        "INSERT INTO analysis_snapshots (rollout, stage_index, verdict, taken_at, analysis) \
                         VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    )
                    .bind(rollout)
                    .bind(latest.stage_index)
                    .bind(&latest.verdict)
                    .bind(latest.computed_at)
                    .bind(to_json(&latest.analysis))
                    .fetch_one(&mut *tx)
                    .await?,
                );
            }
        }
        tx.commit().await?;
        Ok(id)
    }

    async fn latest_analysis(&self, rollout: &str) -> Result<Option<LatestAnalysis>, StoreError> {
        let row: Option<LatestRow> = sqlx::query_as(&format!("{LATEST} WHERE rollout = $1"))
            .bind(rollout)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.latest().1))
    }

    async fn latest_analyses(&self) -> Result<BTreeMap<String, LatestAnalysis>, StoreError> {
        let rows: Vec<LatestRow> = sqlx::query_as(LATEST).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(LatestRow::latest).collect())
    }

    async fn thin_series(
        &self,
        rollout: &str,
        before: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError> {
        let mut tx = self.pool.begin_with(B::BEGIN_WRITE).await?;
        // A breach is what a report counts and a chart marks: it stays.
        let readings = sqlx::query(
            "DELETE FROM guardrail_readings WHERE rollout = $1 AND evaluated_at < $2 \
             AND status <> 'breach'",
        )
        .bind(rollout)
        .bind(before)
        .execute(&mut *tx)
        .await?;
        // The last look of each stage index is the verdict that stage ended with.
        let snapshots = sqlx::query(
            "DELETE FROM analysis_snapshots WHERE rollout = $1 AND taken_at < $2 \
             AND id NOT IN (SELECT MAX(id) FROM analysis_snapshots WHERE rollout = $1 \
             GROUP BY stage_index)",
        )
        .bind(rollout)
        .bind(before)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((B::rows_affected(&readings), B::rows_affected(&snapshots)))
    }

    async fn record_snapshot(&self, s: &AnalysisSnapshot) -> Result<i64, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO analysis_snapshots (rollout, stage_index, verdict, taken_at, analysis) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&s.rollout)
        .bind(s.stage_index)
        .bind(&s.verdict)
        .bind(s.taken_at)
        .bind(to_json(&s.analysis))
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }
}
