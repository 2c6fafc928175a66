//! The learning module's SQL: discovery, thesis and outcome rows, the pairing join and the
//! weights history. PostgreSQL keeps the tables in the `learning` schema (JSONB); SQLite as
//! plain tables (JSON text). One macro implements [`LearningStore`] for both; the pieces that
//! differ (table names, time arithmetic, JSON access) are its arguments.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use rollout_core::learning::{LearningIngest, Pair, Rows, Weights};
use rollout_core::records::{LearningCounts, WeightsRecord};

/// Rows per multi-row INSERT: at most 11 parameters each, well under both databases' limits.
const CHUNK: usize = 1000;

#[async_trait]
pub trait LearningStore: Send + Sync {
    /// Stores rows in one transaction; rows whose (symbol, timestamp) is stored are skipped.
    async fn ingest_learning(&self, rows: &Rows) -> Result<LearningIngest, StoreError>;
    /// Each discovery in `[from, to]` with the return of the first trade of its symbol entered
    /// within `match_window` after it — if that trade had closed with a return by `to`.
    async fn learning_pairs(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        match_window: std::time::Duration,
    ) -> Result<Vec<Pair>, StoreError>;
    async fn learning_counts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<LearningCounts, StoreError>;
    /// `market_conditions.regime` of the latest discovery in `[from, to]` that has conditions.
    async fn latest_regime(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError>;
    /// Stores a computation; with `epoch` (a daemon), only while that epoch leads, checked
    /// in the same transaction, so a deposed leader's row never becomes the next `current`.
    async fn record_weights(
        &self,
        record: &WeightsRecord,
        epoch: Option<i64>,
    ) -> Result<(), StoreError>;
    /// The latest computation for `rollout` (by `computed_at`, then insertion order).
    async fn latest_weights(&self, rollout: &str) -> Result<Option<WeightsRecord>, StoreError>;
}

use sqlx::types::Json;
type HistoryTuple = (
    String,
    DateTime<Utc>,
    Json<BTreeMap<String, f64>>,
    Json<BTreeMap<String, f64>>,
    Json<BTreeMap<String, f64>>,
    bool,
    String,
    Option<f64>,
    i64,
    Option<String>,
    Json<serde_json::Value>,
);

fn record_from_row(r: HistoryTuple) -> WeightsRecord {
    WeightsRecord {
        rollout: r.0,
        computed_at: r.1,
        current: Weights::rounded(&r.2 .0),
        suggested: Weights::rounded(&r.3 .0),
        final_weights: Weights::rounded(&r.4 .0),
        fallback: r.5,
        reason: r.6,
        confidence: r.7,
        sample_size: r.8.max(0) as u64,
        regime: r.9,
        inputs: r.10 .0,
    }
}

macro_rules! impl_learning_store {
    ($store:ty, $db:ty, discoveries = $d:literal, theses = $t:literal, outcomes = $o:literal,
     history = $h:literal, within = $within:literal, regime = $regime:literal) => {
        #[async_trait]
        impl LearningStore for $store {
            async fn ingest_learning(&self, rows: &Rows) -> Result<LearningIngest, StoreError> {
                let mut tx = self.pool.begin().await?;
                let mut inserted = 0u64;
                match rows {
                    Rows::Discovery(v) => {
                        for chunk in v.chunks(CHUNK) {
                            let mut q = sqlx::QueryBuilder::<$db>::new(concat!(
                                "INSERT INTO ", $d, " (symbol, discovery_timestamp, discovery_features, \
                                 discovery_score, action_tag, market_conditions, universe_size) "
                            ));
                            q.push_values(chunk, |mut b, r| {
                                b.push_bind(&r.symbol)
                                    .push_bind(r.discovery_timestamp)
                                    .push_bind(Json(&r.discovery_features))
                                    .push_bind(r.discovery_score)
                                    .push_bind(&r.action_tag)
                                    .push_bind(r.market_conditions.as_ref().map(Json))
                                    .push_bind(r.universe_size);
                            });
                            q.push(" ON CONFLICT (symbol, discovery_timestamp) DO NOTHING");
                            inserted += q.build().execute(&mut *tx).await?.rows_affected();
                        }
                    }
                    Rows::Thesis(v) => {
                        for chunk in v.chunks(CHUNK) {
                            let mut q = sqlx::QueryBuilder::<$db>::new(concat!(
                                "INSERT INTO ", $t, " (symbol, thesis_timestamp, recommendation, confidence_score, \
                                 thesis_text, reasoning, ai_generated, market_regime) "
                            ));
                            q.push_values(chunk, |mut b, r| {
                                b.push_bind(&r.symbol)
                                    .push_bind(r.thesis_timestamp)
                                    .push_bind(&r.recommendation)
                                    .push_bind(r.confidence_score)
                                    .push_bind(&r.thesis_text)
                                    .push_bind(r.reasoning.as_ref().map(Json))
                                    .push_bind(r.ai_generated)
                                    .push_bind(&r.market_regime);
                            });
                            q.push(" ON CONFLICT (symbol, thesis_timestamp) DO NOTHING");
                            inserted += q.build().execute(&mut *tx).await?.rows_affected();
                        }
                    }
                    Rows::Outcome(v) => {
                        for chunk in v.chunks(CHUNK) {
                            let mut q = sqlx::QueryBuilder::<$db>::new(concat!(
                                "INSERT INTO ", $o, " (symbol, entry_timestamp, exit_timestamp, entry_price, exit_price, \
                                 position_size_pct, return_pct, holding_period_days, max_favorable_excursion, \
                                 max_adverse_excursion, exit_reason) "
                            ));
                            q.push_values(chunk, |mut b, r| {
                                b.push_bind(&r.symbol)
                                    .push_bind(r.entry_timestamp)
                                    .push_bind(r.exit_timestamp)
                                    .push_bind(r.entry_price)
                                    .push_bind(r.exit_price)
                                    .push_bind(r.position_size_pct)
                                    .push_bind(r.return_pct)
                                    .push_bind(r.holding_period_days.map(|d| d.min(i32::MAX as i64) as i32))
                                    .push_bind(r.max_favorable_excursion)
                                    .push_bind(r.max_adverse_excursion)
                                    .push_bind(&r.exit_reason);
                            });
                            q.push(" ON CONFLICT (symbol, entry_timestamp) DO NOTHING");
                            inserted += q.build().execute(&mut *tx).await?.rows_affected();
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
                // The first trade of the symbol entered at or after the discovery (a running
                // minimum over the symbol's events in reverse time order) decides, if it was
                // entered within the match window; it counts once closed with a return.
                let rows: Vec<(Json<BTreeMap<String, f64>>, f64)> = sqlx::query_as(concat!(
                    "SELECT d.discovery_features, o.return_pct FROM (\
                       SELECT kind, id, symbol, ts, MIN(CASE WHEN kind = 1 THEN ts END) OVER \
                         (PARTITION BY symbol ORDER BY ts DESC, kind DESC ROWS UNBOUNDED PRECEDING) AS next_entry \
                       FROM (SELECT 0 AS kind, id, symbol, discovery_timestamp AS ts FROM ", $d, " \
                             WHERE discovery_timestamp >= $1 AND discovery_timestamp <= $2 \
                             UNION ALL \
                             SELECT 1 AS kind, id, symbol, entry_timestamp AS ts FROM ", $o, " \
                             WHERE entry_timestamp >= $1 AND entry_timestamp <= $2) ev) n \
                     JOIN ", $d, " d ON d.id = n.id \
                     JOIN ", $o, " o ON o.symbol = n.symbol AND o.entry_timestamp = n.next_entry \
                     WHERE n.kind = 0 AND ", $within, " \
                     AND o.exit_timestamp <= $2 AND o.return_pct IS NOT NULL \
                     ORDER BY n.ts, n.id"
                ))
                .bind(from)
                .bind(to)
                .bind(match_window.as_secs_f64())
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(f, r)| Pair { features: f.0, return_pct: r })
                    .collect())
            }

            async fn learning_counts(
                &self,
                from: DateTime<Utc>,
                to: DateTime<Utc>,
            ) -> Result<LearningCounts, StoreError> {
                let (d, t, o, p): (i64, i64, i64, i64) = sqlx::query_as(concat!(
                    "SELECT (SELECT COUNT(*) FROM ", $d, " WHERE discovery_timestamp >= $1 AND discovery_timestamp <= $2), \
                     (SELECT COUNT(*) FROM ", $t, " WHERE thesis_timestamp >= $1 AND thesis_timestamp <= $2), \
                     (SELECT COUNT(*) FROM ", $o, " WHERE exit_timestamp >= $1 AND exit_timestamp <= $2 AND return_pct IS NOT NULL), \
                     (SELECT COUNT(*) FROM ", $o, " WHERE exit_timestamp >= $1 AND exit_timestamp <= $2 AND return_pct > 0)"
                ))
                .bind(from)
                .bind(to)
                .fetch_one(&self.pool)
                .await?;
                let u = |v: i64| v.max(0) as u64;
                Ok(LearningCounts {
                    discoveries: u(d),
                    theses: u(t),
                    outcomes: u(o),
                    positive_outcomes: u(p),
                })
            }

            async fn latest_regime(
                &self,
                from: DateTime<Utc>,
                to: DateTime<Utc>,
            ) -> Result<Option<String>, StoreError> {
                let row: Option<(Option<String>,)> = sqlx::query_as(concat!(
                    "SELECT ", $regime, " FROM ", $d, " WHERE market_conditions IS NOT NULL \
                     AND discovery_timestamp >= $1 AND discovery_timestamp <= $2 \
                     ORDER BY discovery_timestamp DESC, id DESC LIMIT 1"
                ))
                .bind(from)
                .bind(to)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.and_then(|r| r.0))
            }

            async fn record_weights(&self, r: &WeightsRecord, epoch: Option<i64>) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                if let Some(epoch) = epoch {
                    let rows = sqlx::query("UPDATE rollout_leader SET epoch = epoch WHERE id = 1 AND epoch = $1")
                        .bind(epoch)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if rows != 1 {
                        return Err(StoreError::Fenced { epoch });
                    }
                }
                sqlx::query(concat!(
                    "INSERT INTO ", $h, " (rollout, computed_at, current, suggested, final_weights, fallback, \
                     reason, confidence, sample_size, regime, inputs) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                ))
                .bind(&r.rollout)
                .bind(r.computed_at)
                .bind(Json(r.current.map()))
                .bind(Json(r.suggested.map()))
                .bind(Json(r.final_weights.map()))
                .bind(r.fallback)
                .bind(&r.reason)
                .bind(r.confidence)
                .bind(r.sample_size as i64)
                .bind(&r.regime)
                .bind(Json(&r.inputs))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn latest_weights(&self, rollout: &str) -> Result<Option<WeightsRecord>, StoreError> {
                let row: Option<HistoryTuple> = sqlx::query_as(concat!(
                    "SELECT rollout, computed_at, current, suggested, final_weights, fallback, reason, \
                     confidence, sample_size, regime, inputs FROM ", $h, " WHERE rollout = $1 \
                     ORDER BY computed_at DESC, id DESC LIMIT 1"
                ))
                .bind(rollout)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(record_from_row))
            }
        }
    };
}

impl_learning_store!(
    super::PgStore,
    sqlx::Postgres,
    discoveries = "learning.discovery_decisions",
    theses = "learning.thesis_decisions",
    outcomes = "learning.trade_outcomes",
    history = "learning.weights_history",
    within = "n.next_entry <= n.ts + CAST($3 AS DOUBLE PRECISION) * INTERVAL '1 second'",
    regime = "market_conditions->>'regime'"
);

impl_learning_store!(
    super::SqliteStore,
    sqlx::Sqlite,
    discoveries = "discovery_decisions",
    theses = "thesis_decisions",
    outcomes = "trade_outcomes",
    history = "learning_weights_history",
    within = "julianday(n.next_entry) <= julianday(n.ts) + $3 / 86400.0",
    regime = "CAST(json_extract(market_conditions, '$.regime') AS TEXT)"
);
