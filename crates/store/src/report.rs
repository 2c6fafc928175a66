//! What `rollout report` and the shadow exit criteria read: errors services reported,
//! learning rows refused at ingest, the learning records' times, the pairs with their
//! discovery times, the analysis runs, guardrail breaches and the last A/B verdict of a
//! stage entry. The same SQL text on both backends.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use rollout_core::learning::Kind;
use rollout_core::report::Verdict;
use rollout_core::shadow::{AnalysisRun, DatedPair, Rejection, ServiceError};

use crate::backend::{Args, Backend, ColumnType, Conn, Db, DbRow};
use crate::learning::pairs_sql;
use crate::rows::{from_json, JsonValue, WeightsHistoryRow};
use crate::store::multi_row_insert;
use crate::{ReportStore, SqlStore, StoreError, WeightsRecord};

/// Rows per multi-row INSERT (6 parameters each).
const CHUNK: usize = 1000;

#[derive(sqlx::FromRow)]
struct ServiceErrorRow {
    unit: String,
    kind: String,
    message: String,
    at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct RejectionRow {
    kind: String,
    at: DateTime<Utc>,
    row_count: i64,
    reason: String,
}

#[derive(sqlx::FromRow)]
struct TimeRow {
    kind: String,
    at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct DatedPairRow {
    discovered_at: DateTime<Utc>,
    discovery_features: JsonValue,
    return_pct: f64,
}

#[derive(sqlx::FromRow)]
struct RunRow {
    computed_at: DateTime<Utc>,
    fallback: bool,
}

#[derive(sqlx::FromRow)]
struct BreachRow {
    guardrail: String,
    n: i64,
}

#[derive(sqlx::FromRow)]
struct VerdictRow {
    verdict: String,
    taken_at: DateTime<Utc>,
}

#[async_trait]
impl<B> ReportStore for SqlStore<B>
where
    B: Backend,
    for<'c> &'c mut Conn<B>: Executor<'c, Database = Db<B>>,
    for<'q> Args<'q, B>: IntoArguments<'q, Db<B>>,
    for<'q> &'q str: Encode<'q, Db<B>> + Type<Db<B>>,
    for<'n> &'n str: ColumnIndex<DbRow<B>>,
    String: ColumnType<Db<B>>,
    i64: ColumnType<Db<B>>,
    f64: ColumnType<Db<B>>,
    bool: ColumnType<Db<B>>,
    DateTime<Utc>: ColumnType<Db<B>>,
    JsonValue: ColumnType<Db<B>>,
    Option<String>: ColumnType<Db<B>>,
    Option<f64>: ColumnType<Db<B>>,
{
    async fn record_service_errors(
        &self,
        rollout: &str,
        errors: &[ServiceError],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let head =
            "INSERT INTO rollout_service_errors (rollout, unit, kind, message, at, received_at) ";
        let mut tx = self.pool.begin().await?;
        let mut inserted = 0;
        for chunk in errors.chunks(CHUNK) {
            let insert = multi_row_insert(head, chunk.len(), 6, "");
            let mut q = sqlx::query(&insert);
            for e in chunk {
                q = q
                    .bind(rollout)
                    .bind(&e.unit)
                    .bind(&e.kind)
                    .bind(&e.message)
                    .bind(e.at)
                    .bind(now);
            }
            inserted += B::rows_affected(&q.execute(&mut *tx).await?);
        }
        tx.commit().await?;
        Ok(inserted)
    }

    async fn service_errors(
        &self,
        rollout: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ServiceError>, StoreError> {
        let rows: Vec<ServiceErrorRow> = sqlx::query_as(
            "SELECT unit, kind, message, at FROM rollout_service_errors \
             WHERE rollout = $1 AND at >= $2 AND at <= $3 ORDER BY at, id",
        )
        .bind(rollout)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| ServiceError {
                unit: r.unit,
                kind: r.kind,
                message: r.message,
                at: r.at,
            })
            .collect())
    }

    async fn record_rejections(&self, rejections: &[Rejection]) -> Result<(), StoreError> {
        let head = format!(
            "INSERT INTO {} (kind, at, row_count, reason) ",
            B::LEARNING.rejections
        );
        let mut tx = self.pool.begin().await?;
        for chunk in rejections.chunks(CHUNK) {
            let insert = multi_row_insert(&head, chunk.len(), 4, "");
            let mut q = sqlx::query(&insert);
            for r in chunk {
                q = q
                    .bind(&r.kind)
                    .bind(r.at)
                    .bind(r.rows.min(i64::MAX as u64) as i64)
                    .bind(&r.reason);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn rejections(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Rejection>, StoreError> {
        let q = format!(
            "SELECT kind, at, row_count, reason FROM {} WHERE at >= $1 AND at <= $2 ORDER BY at, id",
            B::LEARNING.rejections
        );
        let rows: Vec<RejectionRow> = sqlx::query_as(&q)
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| Rejection {
                kind: r.kind,
                at: r.at,
                rows: r.row_count.max(0) as u64,
                reason: r.reason,
            })
            .collect())
    }

    async fn learning_times(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(Kind, DateTime<Utc>)>, StoreError> {
        let sql = B::LEARNING;
        let q = format!(
            "SELECT 'discovery' AS kind, discovery_timestamp AS at FROM {d} \
               WHERE discovery_timestamp >= $1 AND discovery_timestamp <= $2 \
             UNION ALL SELECT 'thesis' AS kind, thesis_timestamp AS at FROM {t} \
               WHERE thesis_timestamp >= $1 AND thesis_timestamp <= $2 \
             UNION ALL SELECT 'outcome' AS kind, entry_timestamp AS at FROM {o} \
               WHERE entry_timestamp >= $1 AND entry_timestamp <= $2",
            d = sql.discoveries,
            t = sql.theses,
            o = sql.outcomes,
        );
        let rows: Vec<TimeRow> = sqlx::query_as(&q)
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|r| {
                let kind = r.kind.parse::<Kind>().map_err(StoreError::Corrupt)?;
                Ok((kind, r.at))
            })
            .collect()
    }

    async fn dated_pairs(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        match_window: std::time::Duration,
    ) -> Result<Vec<DatedPair>, StoreError> {
        let q = pairs_sql::<B>(
            "d.discovery_timestamp AS discovered_at, d.discovery_features AS discovery_features, \
             o.return_pct AS return_pct",
        );
        let rows: Vec<DatedPairRow> = sqlx::query_as(&q)
            .bind(from)
            .bind(to)
            .bind(match_window.as_secs_f64())
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(DatedPair {
                    discovered_at: r.discovered_at,
                    features: from_json(r.discovery_features, "discovery_features")?,
                    return_pct: r.return_pct,
                })
            })
            .collect()
    }

    async fn analysis_runs(
        &self,
        rollout: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AnalysisRun>, StoreError> {
        let q = format!(
            "SELECT computed_at, fallback FROM {} WHERE rollout = $1 AND computed_at >= $2 \
             AND computed_at <= $3 ORDER BY computed_at, id",
            B::LEARNING.history
        );
        let rows: Vec<RunRow> = sqlx::query_as(&q)
            .bind(rollout)
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| AnalysisRun {
                at: r.computed_at,
                fallback: r.fallback,
            })
            .collect())
    }

    async fn weights_at(
        &self,
        rollout: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<WeightsRecord>, StoreError> {
        let q = format!(
            "SELECT rollout, computed_at, current, suggested, final_weights, fallback, reason, \
             confidence, sample_size, regime, inputs FROM {} WHERE rollout = $1 AND computed_at <= $2 \
             ORDER BY computed_at DESC, id DESC LIMIT 1",
            B::LEARNING.history
        );
        let row: Option<WeightsHistoryRow> = sqlx::query_as(&q)
            .bind(rollout)
            .bind(at)
            .fetch_optional(&self.pool)
            .await?;
        row.map(WeightsRecord::try_from).transpose()
    }

    async fn guardrail_breaches(
        &self,
        rollout: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BTreeMap<String, u64>, StoreError> {
        let rows: Vec<BreachRow> = sqlx::query_as(
            "SELECT guardrail, COUNT(*) AS n FROM guardrail_readings WHERE rollout = $1 \
             AND status = 'breach' AND evaluated_at >= $2 AND evaluated_at <= $3 GROUP BY guardrail",
        )
        .bind(rollout)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.guardrail, r.n.max(0) as u64))
            .collect())
    }

    async fn last_verdict(
        &self,
        rollout: &str,
        stage: usize,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<Verdict>, StoreError> {
        let row: Option<VerdictRow> = sqlx::query_as(
            "SELECT verdict, taken_at FROM analysis_snapshots WHERE rollout = $1 AND stage_index = $2 \
             AND taken_at >= $3 AND taken_at <= $4 ORDER BY taken_at DESC, id DESC LIMIT 1",
        )
        .bind(rollout)
        .bind(stage as i64)
        .bind(from)
        .bind(to)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Verdict {
            verdict: r.verdict,
            taken_at: r.taken_at,
        }))
    }
}
