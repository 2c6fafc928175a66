//! The learning module's SQL: discovery, thesis and outcome rows, the pairing join and the
//! weights history. The statements are built once from [`Backend::LEARNING`]: the table
//! names, the time arithmetic and the JSON access are the backend's.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use rollout_core::learning::{LearningIngest, Pair, Rows};
use rollout_core::records::{LearningCounts, WeightsRecord};

use crate::backend::{Args, Backend, ColumnType, Conn, Db, DbRow};
use crate::rows::{to_json, JsonValue, LearningCountsRow, PairRow, RegimeRow, WeightsHistoryRow};
use crate::state::fence;
use crate::store::multi_row_insert;
use crate::{LearningStore, SqlStore, StoreError};

/// Rows per multi-row INSERT: at most 11 parameters each, well under both databases' limits.
const CHUNK: usize = 1000;

/// The pairing join, selecting `columns` (of `d`, the discovery, and `o`, the trade), in
/// trade order; binds `$1` from, `$2` to, `$3` the match window in seconds. Each closed
/// trade counts once: it is paired with the latest discovery of its symbol at or before its
/// entry (a scanner that re-reports a symbol does not multiply the trade), if that
/// discovery is in the window and within the match window.
pub(crate) fn pairs_sql<B: Backend>(columns: &str) -> String {
    let sql = B::LEARNING;
    format!(
        "SELECT {columns} \
         FROM {o} o JOIN {d} d ON d.symbol = o.symbol AND d.discovery_timestamp = (\
           SELECT MAX(d2.discovery_timestamp) FROM {d} d2 WHERE d2.symbol = o.symbol \
           AND d2.discovery_timestamp <= o.entry_timestamp AND d2.discovery_timestamp >= $1) \
         WHERE o.entry_timestamp >= $1 AND o.entry_timestamp <= $2 \
         AND o.exit_timestamp <= $2 AND o.return_pct IS NOT NULL AND {within} \
         ORDER BY o.entry_timestamp, o.id",
        d = sql.discoveries,
        o = sql.outcomes,
        within = sql.within,
    )
}

#[async_trait]
impl<B> LearningStore for SqlStore<B>
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
    Option<i64>: ColumnType<Db<B>>,
    Option<i32>: ColumnType<Db<B>>,
    Option<f64>: ColumnType<Db<B>>,
    Option<DateTime<Utc>>: ColumnType<Db<B>>,
    Option<JsonValue>: ColumnType<Db<B>>,
{
    async fn ingest_learning(&self, rows: &Rows) -> Result<LearningIngest, StoreError> {
        let sql = B::LEARNING;
        let mut tx = self.pool.begin().await?;
        let mut inserted = 0u64;
        match rows {
            Rows::Discovery(v) => {
                let head = format!(
                    "INSERT INTO {} (symbol, discovery_timestamp, discovery_features, discovery_score, \
                     action_tag, market_conditions, universe_size) ",
                    sql.discoveries
                );
                for chunk in v.chunks(CHUNK) {
                    let insert = multi_row_insert(
                        &head,
                        chunk.len(),
                        7,
                        " ON CONFLICT (symbol, discovery_timestamp) DO NOTHING",
                    );
                    let mut q = sqlx::query(&insert);
                    for r in chunk {
                        q = q
                            .bind(&r.symbol)
                            .bind(r.discovery_timestamp)
                            .bind(to_json(&r.discovery_features))
                            .bind(r.discovery_score)
                            .bind(&r.action_tag)
                            .bind(r.market_conditions.as_ref().map(to_json))
                            .bind(r.universe_size);
                    }
                    inserted += B::rows_affected(&q.execute(&mut *tx).await?);
                }
            }
            Rows::Thesis(v) => {
                let head = format!(
                    "INSERT INTO {} (symbol, thesis_timestamp, recommendation, confidence_score, \
                     thesis_text, reasoning, ai_generated, market_regime) ",
                    sql.theses
                );
                for chunk in v.chunks(CHUNK) {
                    let insert = multi_row_insert(
                        &head,
                        chunk.len(),
                        8,
                        " ON CONFLICT (symbol, thesis_timestamp) DO NOTHING",
                    );
                    let mut q = sqlx::query(&insert);
                    for r in chunk {
                        q = q
                            .bind(&r.symbol)
                            .bind(r.thesis_timestamp)
                            .bind(&r.recommendation)
                            .bind(r.confidence_score)
                            .bind(&r.thesis_text)
                            .bind(r.reasoning.as_ref().map(to_json))
                            .bind(r.ai_generated)
                            .bind(&r.market_regime);
                    }
                    inserted += B::rows_affected(&q.execute(&mut *tx).await?);
                }
            }
            Rows::Outcome(v) => {
                let head = format!(
                    "INSERT INTO {} (symbol, entry_timestamp, exit_timestamp, entry_price, exit_price, \
                     position_size_pct, return_pct, holding_period_days, max_favorable_excursion, \
                     max_adverse_excursion, exit_reason) ",
                    sql.outcomes
                );
                for chunk in v.chunks(CHUNK) {
                    let insert = multi_row_insert(
                        &head,
                        chunk.len(),
                        11,
                        " ON CONFLICT (symbol, entry_timestamp) DO NOTHING",
                    );
                    let mut q = sqlx::query(&insert);
                    for r in chunk {
                        q = q
                            .bind(&r.symbol)
                            .bind(r.entry_timestamp)
                            .bind(r.exit_timestamp)
                            .bind(r.entry_price)
                            .bind(r.exit_price)
                            .bind(r.position_size_pct)
                            .bind(r.return_pct)
                            .bind(r.holding_period_days.map(|d| d.min(i32::MAX as i64) as i32))
                            .bind(r.max_favorable_excursion)
                            .bind(r.max_adverse_excursion)
                            .bind(&r.exit_reason);
                    }
                    inserted += B::rows_affected(&q.execute(&mut *tx).await?);
                }
            }
        }
        tx.commit().await?;
        Ok(LearningIngest {
            inserted,
            duplicates: rows.len() as u64 - inserted,
        })
    }

    async fn learning_pairs(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        match_window: std::time::Duration,
    ) -> Result<Vec<Pair>, StoreError> {
        let q = pairs_sql::<B>(
            "d.discovery_features AS discovery_features, o.return_pct AS return_pct",
        );
        let rows: Vec<PairRow> = sqlx::query_as(&q)
            .bind(from)
            .bind(to)
            .bind(match_window.as_secs_f64())
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(Pair::try_from).collect()
    }

    async fn learning_counts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<LearningCounts, StoreError> {
        let sql = B::LEARNING;
        let q = format!(
            "SELECT (SELECT COUNT(*) FROM {d} WHERE discovery_timestamp >= $1 AND discovery_timestamp <= $2) \
               AS discoveries, \
             (SELECT COUNT(*) FROM {t} WHERE thesis_timestamp >= $1 AND thesis_timestamp <= $2) AS theses, \
             (SELECT COUNT(*) FROM {o} WHERE exit_timestamp >= $1 AND exit_timestamp <= $2 \
               AND return_pct IS NOT NULL) AS outcomes, \
             (SELECT COUNT(*) FROM {o} WHERE exit_timestamp >= $1 AND exit_timestamp <= $2 \
               AND return_pct > 0) AS positive_outcomes",
            d = sql.discoveries,
            t = sql.theses,
            o = sql.outcomes,
        );
        let c: LearningCountsRow = sqlx::query_as(&q)
            .bind(from)
            .bind(to)
            .fetch_one(&self.pool)
            .await?;
        let u = |v: i64| v.max(0) as u64;
        Ok(LearningCounts {
            discoveries: u(c.discoveries),
            theses: u(c.theses),
            outcomes: u(c.outcomes),
            positive_outcomes: u(c.positive_outcomes),
        })
    }

    async fn latest_regime(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let sql = B::LEARNING;
        let q = format!(
            "SELECT {regime} AS regime FROM {d} WHERE market_conditions IS NOT NULL \
             AND discovery_timestamp >= $1 AND discovery_timestamp <= $2 \
             ORDER BY discovery_timestamp DESC, id DESC LIMIT 1",
            regime = sql.regime,
            d = sql.discoveries,
        );
        let row: Option<RegimeRow> = sqlx::query_as(&q)
            .bind(from)
            .bind(to)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|r| r.regime))
    }

    async fn record_weights(
        &self,
        r: &WeightsRecord,
        epoch: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if let Some(epoch) = epoch {
            fence::<B>(&mut tx, epoch).await?;
        }
        let q = format!(
            "INSERT INTO {} (rollout, computed_at, current, suggested, final_weights, fallback, \
             reason, confidence, sample_size, regime, inputs) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            B::LEARNING.history
        );
        sqlx::query(&q)
            .bind(&r.rollout)
            .bind(r.computed_at)
            .bind(to_json(r.current.map()))
            .bind(to_json(r.suggested.map()))
            .bind(to_json(r.final_weights.map()))
            .bind(r.fallback)
            .bind(&r.reason)
            .bind(r.confidence)
            .bind(r.sample_size as i64)
            .bind(&r.regime)
            .bind(to_json(&r.inputs))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn latest_weights(&self, rollout: &str) -> Result<Option<WeightsRecord>, StoreError> {
        let q = format!(
            "SELECT rollout, computed_at, current, suggested, final_weights, fallback, reason, \
             confidence, sample_size, regime, inputs FROM {} WHERE rollout = $1 \
             ORDER BY computed_at DESC, id DESC LIMIT 1",
            B::LEARNING.history
        );
        let row: Option<WeightsHistoryRow> = sqlx::query_as(&q)
            .bind(rollout)
            .fetch_optional(&self.pool)
            .await?;
        row.map(WeightsRecord::try_from).transpose()
    }

    async fn weights_since(
        &self,
        rollout: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<WeightsRecord>, StoreError> {
        let columns = "rollout, computed_at, current, suggested, final_weights, fallback, reason, \
             confidence, sample_size, regime, inputs";
        let history = B::LEARNING.history;
        let before = format!(
            "SELECT {columns} FROM {history} WHERE rollout = $1 AND computed_at <= $2 \
             ORDER BY computed_at DESC, id DESC LIMIT 1"
        );
        let after = format!(
            "SELECT {columns} FROM {history} WHERE rollout = $1 AND computed_at > $2 \
             ORDER BY computed_at, id"
        );
        // One snapshot for both reads.
        let mut tx = self.pool.begin_with(B::BEGIN_READ).await?;
        let mut rows: Vec<WeightsHistoryRow> = sqlx::query_as(&before)
            .bind(rollout)
            .bind(since)
            .fetch_all(&mut *tx)
            .await?;
        rows.extend(
            sqlx::query_as::<_, WeightsHistoryRow>(&after)
                .bind(rollout)
                .bind(since)
                .fetch_all(&mut *tx)
                .await?,
        );
        tx.commit().await?;
        rows.into_iter().map(WeightsRecord::try_from).collect()
    }
}
