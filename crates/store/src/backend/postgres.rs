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
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const SHORT_LOCK_WAIT: Option<&'static str> = Some("SET LOCAL lock_timeout = '2s'");
    const END_SESSIONS: Option<&'static str> = Some(
        "WITH victims AS MATERIALIZED (SELECT pid FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = left($1, 63) \
         AND pid <> pg_backend_pid()) \
         SELECT COUNT(*) FROM victims WHERE pg_terminate_backend(pid)",
    );
    const END_STALLED_HOLDERS: Option<&'static str> = Some(
        "WITH victims AS MATERIALIZED (SELECT a.pid, format('%s (backend %s, idle in transaction for %s s)', \
         a.application_name, a.pid, EXTRACT(EPOCH FROM now() - a.state_change)::bigint) AS who \
         FROM pg_stat_activity a WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() \
         AND a.state = 'idle in transaction' AND now() - a.state_change >= $1 * INTERVAL '1 millisecond' \
         AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.granted \
         AND l.relation IN ('rollout_state'::regclass, 'rollout_flags_version'::regclass, \
         'rollout_leader'::regclass) AND l.mode = 'RowExclusiveLock')) \
         SELECT who FROM victims WHERE pg_terminate_backend(pid)",
    );
    const LOCK_HOLDERS: Option<&'static str> = Some(
        "SELECT format('%s (backend %s, %s for %s s)', a.application_name, a.pid, a.state, \
         COALESCE(EXTRACT(EPOCH FROM now() - a.state_change)::bigint, 0)) \
         FROM pg_stat_activity a WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() \
         AND a.xact_start IS NOT NULL AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid \
         AND l.granted AND l.relation IN ('rollout_state'::regclass, 'rollout_flags_version'::regclass, \
         'rollout_leader'::regclass) AND l.mode = 'RowExclusiveLock') ORDER BY a.xact_start",
    );
    const EXCLUDE_INGEST: Option<&'static str> =
        Some("LOCK TABLE observations IN SHARE ROW EXCLUSIVE MODE");
    const NOTIFY: bool = true;
    const UNREADABLE_HINT: &'static str = "; cast it to double precision, bigint, boolean or text";
    const LEARNING: LearningSql = LearningSql {
        discoveries: "learning.discovery_decisions",
        theses: "learning.thesis_decisions",
        outcomes: "learning.trade_outcomes",
        rejections: "learning.ingest_rejections",
        history: "learning.weights_history",
        within: "o.entry_timestamp <= d.discovery_timestamp + CAST($3 AS DOUBLE PRECISION) * INTERVAL '1 second'",
        regime: "market_conditions->>'regime'",
    };

    /// A lazily connecting pool; nothing is contacted until the first query.
    fn connect(url: &DatabaseUrl) -> Result<(PgPool, PgBackend), StoreError> {
        let DatabaseUrl::Postgres(_) = url else {
            return Err(BadUrl::driver(url, "expected a postgres:// URL").into());
        };
        let options = connect_options(url)?;
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

    /// Makes sure the role configured queries run as exists, may read rollout's tables and
    /// nothing else, and can be assumed by this login. Needs `CREATEROLE` (or a superuser)
    /// the first time; without it an administrator creates the role (README, "PostgreSQL").
    ///
    /// Only a login that changes state evaluates guardrails: the ingest role (`rollout db
    /// roles`) has nothing to set up.
    async fn after_migrate(&self, pool: &PgPool) {
        let evaluates: Result<bool, _> =
            sqlx::query_scalar("SELECT has_table_privilege('rollout_state', 'UPDATE')")
                .fetch_one(pool)
                .await;
        if matches!(evaluates, Ok(false)) {
            return;
        }
        // Roles are shared by every database of the server: processes setting it up at the
        // same time can collide ("already exists", "tuple concurrently updated"); again.
        let mut result = ensure_query_role(pool).await;
        for _ in 0..3 {
            if result.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            result = ensure_query_role(pool).await;
        }
        if let Err(e) = result {
            tracing::warn!(
                error = %e,
                role = QUERY_ROLE,
                "cannot set up the role configured queries run as; they fail (and hold their rollouts) until it exists with SELECT on rollout's tables"
            );
        }
    }

    /// `COPY ... FROM STDIN` into a temporary staging table (this session's, emptied at each
    /// commit); the caller moves the rows on with one set-based INSERT.
    async fn copy_observations(
        conn: &mut sqlx::PgConnection,
        text: &[u8],
    ) -> Result<bool, StoreError> {
        use sqlx::Executor;
        conn.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS observation_staging (\
             rollout TEXT, variant TEXT, unit TEXT, metric TEXT, value DOUBLE PRECISION, \
             observed_at TIMESTAMPTZ, event_id TEXT, ingested_at TIMESTAMPTZ, stage BIGINT, \
             stage_entered_at TIMESTAMPTZ) ON COMMIT DELETE ROWS",
        )
        .await?;
        let mut copy = conn
            .copy_in_raw("COPY observation_staging FROM STDIN WITH (FORMAT text)")
            .await?;
        if let Err(e) = copy.send(text).await {
            let _ = copy.abort("sending failed").await;
            return Err(e.into());
        }
        copy.finish().await?;
        Ok(true)
    }

    /// In a read-only transaction with a statement timeout, as the powerless role
    /// [`QUERY_ROLE`] (it can read rollout's tables; `pg_read_file`, `COPY ... TO`,
    /// `pg_terminate_backend` of other sessions, `pg_reload_conf` are refused), rolled back.
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
        sqlx::query(&format!("SET LOCAL ROLE {QUERY_ROLE}"))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::user_query)?;
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

/// How every connection of this process to `url` is made: named `rollout HOST:PID`, with
/// the server's idle-in-transaction timeout and keepalives.
fn connect_options(url: &DatabaseUrl) -> Result<PgConnectOptions, StoreError> {
    let options = PgConnectOptions::from_str(url.expose())
        .map_err(|e| BadUrl::driver(url, e))?
        // Names this process's sessions, so that a daemon taking over the lease can end
        // those of the one it replaces ([`session_name`]).
        .application_name(&own_session_name())
        // A process frozen (or cut off) inside a transaction must not hold its locks
        // for ever: the server ends such a transaction after 10 s, so a rollback or a
        // new leader waits at most that long.
        //
        // sqlx cannot set keepalives on its own socket; the server can: it probes an
        // idle client after 5 s, every 2 s, and drops it after 3 unanswered probes or
        // 10 s of unacknowledged data, so a dead or cut-off peer's session (and its
        // locks) goes in seconds. On the client side the daemon bounds every renewal
        // and pass by its lease (src/daemon.rs).
        .options([
            ("idle_in_transaction_session_timeout", "10s"),
            ("tcp_keepalives_idle", "5"),
            ("tcp_keepalives_interval", "2"),
            ("tcp_keepalives_count", "3"),
            ("tcp_user_timeout", "10000"),
        ]);
    Ok(options)
}

/// A pool of one connection for a `LISTEN`er (`sqlx::postgres::PgListener::connect_with`),
/// made as every other connection of this process is ([`connect_options`]); lazy.
pub fn listener_pool(url: &DatabaseUrl) -> Result<PgPool, StoreError> {
    let options = connect_options(url)?;
    Ok(PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy_with(options))
}

/// The `application_name` of the sessions of the process whose lease holder is `holder`
/// (`daemon@HOST:PID`), or `None` for a holder that names no process (a one-off `tick`).
pub fn session_name(holder: &str) -> Option<String> {
    holder
        .strip_prefix("daemon@")
        .map(|process| format!("rollout {process}"))
}

/// This process's `application_name`: `rollout HOST:PID`, as [`session_name`] derives it
/// from the daemon's lease holder.
fn own_session_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer it is given.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let host = if ok {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "unknown".to_owned()
    };
    format!("rollout {host}:{}", std::process::id())
}

/// The role configured queries (guardrail and safety-check `sql:`) run as.
pub const QUERY_ROLE: &str = "rollout_query";

async fn ensure_query_role(pool: &PgPool) -> Result<(), sqlx::Error> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(QUERY_ROLE)
            .fetch_one(pool)
            .await?;
    if !exists {
        sqlx::query(&format!(
            "CREATE ROLE {QUERY_ROLE} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT"
        ))
        .execute(pool)
        .await?;
    }
    // Grant only what is missing: a GRANT rewrites catalog rows, and processes starting
    // together would trip over each other's rewrites.
    let missing: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_tables WHERE schemaname IN ('public', 'learning') \
         AND NOT has_table_privilege($1, format('%I.%I', schemaname, tablename), 'SELECT')",
    )
    .bind(QUERY_ROLE)
    .fetch_one(pool)
    .await?;
    if missing > 0 {
        for schema in ["public", "learning"] {
            sqlx::query(&format!("GRANT USAGE ON SCHEMA {schema} TO {QUERY_ROLE}"))
                .execute(pool)
                .await?;
            sqlx::query(&format!(
                "GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {QUERY_ROLE}"
            ))
            .execute(pool)
            .await?;
        }
    }
    let member: bool = sqlx::query_scalar("SELECT pg_has_role(current_user, $1, 'MEMBER')")
        .bind(QUERY_ROLE)
        .fetch_one(pool)
        .await?;
    if !member {
        sqlx::query(&format!("GRANT {QUERY_ROLE} TO CURRENT_USER"))
            .execute(pool)
            .await?;
    }
    Ok(())
}
