//! Where the client reads the flags: SQLite or PostgreSQL directly (the same two queries
//! as every client: the table version, then the rows only if it moved), or the daemon's
//! HTTP API (`GET /v1/flags` with `If-None-Match`, and the event stream).

use std::str::FromStr;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};

use rollout_core::database_url::BadUrlReason;
use rollout_core::DatabaseUrl;

use super::snapshot::{Row, Table};
use super::ClientError;

const VERSION_SQL: &str = "SELECT version FROM rollout_flags_version";
const ROWS_SQL: &str = "SELECT key, value, rollout, version FROM rollout_flags";

/// The version, then the rows only if it moved; the same text on both databases.
macro_rules! read {
    ($conn:expr, $known:expr) => {{
        let (version,): (i64,) = sqlx::query_as(VERSION_SQL).fetch_one(&mut *$conn).await?;
        if $known == Some(version) {
            Ok(Load::Unchanged)
        } else {
            let rows: Vec<(String, String, String, i64)> =
                sqlx::query_as(ROWS_SQL).fetch_all(&mut *$conn).await?;
            Ok(Load::Table(Table {
                version,
                rows: rows
                    .into_iter()
                    .map(|(key, value, rollout, _)| {
                        (
                            key.clone(),
                            Row {
                                key,
                                value,
                                rollout,
                            },
                        )
                    })
                    .collect(),
            }))
        }
    }};
}

/// The result of one load.
#[derive(Debug)]
pub enum Load {
    /// The version is the one the caller already has.
    Unchanged,
    Table(Table),
}

pub enum Source {
    /// A new read-only connection per load: microseconds for a local file, and a moved or
    /// deleted file is noticed at once.
    Sqlite(Box<SqliteConnectOptions>),
    /// One pooled connection, re-established after an error.
    Postgres(PgPool),
    Http(HttpSource),
}

impl Source {
    /// `sqlite://PATH`, `postgres://...` or `http(s)://HOST:PORT[/PREFIX]`.
    pub fn parse(url: &str, timeout: Duration) -> Result<Source, ClientError> {
        if url.starts_with("http://") || url.starts_with("https://") {
            let client = reqwest::Client::builder()
                .connect_timeout(timeout)
                .build()
                .map_err(|e| ClientError::BadSource(format!("{url}: {e}")))?;
            return Ok(Source::Http(HttpSource {
                base: url.trim_end_matches('/').to_owned(),
                client,
            }));
        }
        // Errors show the URL with its password redacted.
        let db = DatabaseUrl::parse(url).map_err(|e| {
            ClientError::BadSource(match e.reason() {
                BadUrlReason::UnknownScheme => format!(
                    "{}: expected sqlite://, postgres:// or http(s)://",
                    e.redacted_url()
                ),
                _ => e.to_string(),
            })
        })?;
        let bad = |e: &dyn std::fmt::Display| ClientError::BadSource(format!("{db}: {e}"));
        match &db {
            DatabaseUrl::Sqlite(_) => {
                let opts = SqliteConnectOptions::from_str(db.expose())
                    .map_err(|e| bad(&e))?
                    .read_only(true)
                    .create_if_missing(false);
                Ok(Source::Sqlite(Box::new(opts)))
            }
            DatabaseUrl::Postgres(_) => {
                let opts = PgConnectOptions::from_str(db.expose()).map_err(|e| bad(&e))?;
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(timeout)
                    .connect_lazy_with(opts);
                Ok(Source::Postgres(pool))
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Source::Sqlite(_) => "sqlite",
            Source::Postgres(_) => "postgres",
            Source::Http(_) => "http",
        }
    }

    /// Reads the table unless its version is `known`. Not bounded here: the caller
    /// applies the timeout.
    pub async fn load(&self, known: Option<i64>, timeout: Duration) -> Result<Load, ClientError> {
        match self {
            Source::Sqlite(opts) => {
                let mut conn = SqliteConnection::connect_with(opts).await?;
                let mut tx = conn.begin().await?;
                let out: Result<Load, ClientError> = read!(tx, known);
                let _ = tx.rollback().await;
                let _ = conn.close().await;
                out
            }
            Source::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                let out: Result<Load, ClientError> = read!(tx, known);
                let _ = tx.rollback().await;
                out
            }
            Source::Http(h) => h.load(known, timeout).await,
        }
    }
}

pub struct HttpSource {
    base: String,
    client: reqwest::Client,
}

/// The body of `GET /v1/flags` and of a `snapshot` event.
#[derive(serde::Deserialize)]
pub struct FlagsBody {
    pub version: i64,
    pub flags: Vec<Row>,
}

impl FlagsBody {
    pub fn into_table(self) -> Table {
        Table {
            version: self.version,
            rows: self.flags.into_iter().map(|r| (r.key.clone(), r)).collect(),
        }
    }
}

impl HttpSource {
    async fn load(&self, known: Option<i64>, timeout: Duration) -> Result<Load, ClientError> {
        let mut req = self
            .client
            .get(format!("{}/v1/flags", self.base))
            .timeout(timeout);
        if let Some(v) = known {
            req = req.header(IF_NONE_MATCH, format!("\"{v}\""));
        }
        let resp = req.send().await?;
        match resp.status() {
            StatusCode::NOT_MODIFIED => Ok(Load::Unchanged),
            StatusCode::OK => {
                let etag = resp.headers().get(ETAG).cloned();
                let body: FlagsBody = resp.json().await?;
                if let Some(tag) = etag {
                    let expected = format!("\"{}\"", body.version);
                    if tag.to_str().ok() != Some(expected.as_str()) {
                        return Err(ClientError::BadResponse(format!(
                            "ETag {tag:?} does not match version {}",
                            body.version
                        )));
                    }
                }
                Ok(Load::Table(body.into_table()))
            }
            s => Err(ClientError::Status(s.as_u16())),
        }
    }

    /// Opens `GET /v1/flags/stream`, resuming after `last_id`. `NoStream` when the server
    /// has none (404/405/406/501 or not `text/event-stream`).
    pub async fn open_stream(
        &self,
        last_id: Option<i64>,
    ) -> Result<reqwest::Response, ClientError> {
        let mut req = self
            .client
            .get(format!("{}/v1/flags/stream", self.base))
            .header(ACCEPT, "text/event-stream");
        if let Some(v) = last_id {
            req = req.header("Last-Event-ID", v.to_string());
        }
        let resp = req.send().await?;
        let status = resp.status();
        if matches!(status.as_u16(), 404 | 405 | 406 | 501) {
            return Err(ClientError::NoStream(status.as_u16()));
        }
        if status != StatusCode::OK {
            return Err(ClientError::Status(status.as_u16()));
        }
        let is_sse = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !is_sse {
            return Err(ClientError::NoStream(status.as_u16()));
        }
        Ok(resp)
    }
}
