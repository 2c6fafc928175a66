//! The production store: PostgreSQL.

use std::fs::File;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::Postgres;

use rollout_core::records::QueryParam;
use rollout_core::{BadUrl, DatabaseUrl};

use super::configured;
use super::{Backend, CellKind, LearningSql};
use crate::StoreError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// PostgreSQL: a pool of up to 8 connections.
#[derive(Debug)]
pub struct PgBackend;

impl Backend for PgBackend {
    type Db = Postgres;

    const BEGIN_WRITE: &'static str = "BEGIN";
    const BEGIN_READ: &'static str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    const NOTIFY: bool = true;
    const UNREADABLE_HINT: &'static str = "; cast it to double precision, bigint, boolean or text";
    const LEARNING: LearningSql = LearningSql {
        discoveries: "learning.discovery_decisions",
        theses: "learning.thesis_decisions",
        outcomes: "learning.trade_outcomes",
        history: "learning.weights_history",
        within: "o.entry_timestamp <= d.discovery_timestamp + CAST($3 AS DOUBLE PRECISION) * INTERVAL '1 second'",
        regime: "market_conditions->>'regime'",
    };

    /// A lazily connecting pool; nothing is contacted until the first query.
    fn connect(url: &DatabaseUrl) -> Result<(PgPool, PgBackend), StoreError> {
        let DatabaseUrl::Postgres(_) = url else {
            return Err(BadUrl::driver(url, "expected a postgres:// URL").into());
        };
        let options = PgConnectOptions::from_str(url.expose())
            .map_err(|e| BadUrl::driver(url, e))?
            .application_name("rollout");
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(options);
        Ok((pool, PgBackend))
    }

    fn migrator() -> &'static sqlx::migrate::Migrator {
        &MIGRATOR
    }

    /// sqlx's PostgreSQL migrator takes an advisory lock itself.
    async fn migration_guard(&self) -> Result<Option<File>, StoreError> {
        Ok(None)
    }

    /// In a read-only transaction with a statement timeout, rolled back.
    async fn configured_rows<'a>(
        &'a self,
        pool: &'a PgPool,
        query: &'a str,
        params: &'a [QueryParam],
        timeout: Duration,
    ) -> Result<Vec<PgRow>, StoreError> {
        let mut tx = pool.begin_with("BEGIN READ ONLY").await?;
        sqlx::query(&format!(
            "SET LOCAL statement_timeout = {}",
            timeout.as_millis().max(1)
        ))
        .execute(&mut *tx)
        .await?;
        let rows = configured::bind(sqlx::query(query), params)
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::user_query)?;
        tx.rollback().await?;
        Ok(rows)
    }

    fn cell_kind(type_name: &str) -> Option<CellKind> {
        Some(match type_name {
            "BOOL" => CellKind::Bool,
            "INT2" => CellKind::I16,
            "INT4" => CellKind::I32,
            "INT8" => CellKind::I64,
            "FLOAT4" => CellKind::F32,
            "FLOAT8" => CellKind::F64,
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => CellKind::Text,
            _ => return None,
        })
    }

    fn rows_affected(result: &sqlx::postgres::PgQueryResult) -> u64 {
        result.rows_affected()
    }
}
