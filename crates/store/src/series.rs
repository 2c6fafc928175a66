//! The dashboard's series: the history by page, the guardrail points (written by
//! `record_guardrails`, in its transaction) and the analysis snapshots.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use rollout_core::records::{EventRow, GuardrailReading};
use rollout_core::series::{AnalysisSnapshot, GuardrailPoint};

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
