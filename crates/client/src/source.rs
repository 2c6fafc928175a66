//! Where the client reads the flags: SQLite or PostgreSQL directly (the same two queries
//! as every client: the table version, then the rows only if it moved), or the daemon's
//! HTTP API (`GET /v1/flags` with `If-None-Match`, and the event stream). Each kind of
//! source is behind the cargo feature of the same name (`sqlite`, `postgres`, `http`).

#[cfg(any(feature = "postgres", feature = "sqlite"))]
use std::str::FromStr;
use std::time::Duration;

#[cfg(feature = "http")]
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, ETAG, IF_NONE_MATCH, RETRY_AFTER};
#[cfg(feature = "http")]
use reqwest::StatusCode;
#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
#[cfg(feature = "sqlite")]
use sqlx::sqlite::SqliteConnectOptions;
#[cfg(feature = "sqlite")]
use sqlx::{Connection, SqliteConnection};

#[cfg(any(feature = "http", feature = "postgres", feature = "sqlite"))]
use super::snapshot::Row;
use super::snapshot::Table;
use super::ClientError;

#[cfg(any(feature = "postgres", feature = "sqlite"))]
const VERSION_SQL: &str = "SELECT version FROM rollout_flags_version";
#[cfg(any(feature = "postgres", feature = "sqlite"))]
const ROWS_SQL: &str = "SELECT key, value, rollout, version FROM rollout_flags";

/// The version, then the rows only if it moved; the same text on both databases.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
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

/// Where the flags come from. Without any of the features `sqlite`, `postgres` and `http`
/// it has no variant, and [`Source::parse`] refuses every URL.
pub enum Source {
    /// A new read-only connection per load: microseconds for a local file, and a moved or
    /// deleted file is noticed at once.
    #[cfg(feature = "sqlite")]
    Sqlite(Box<SqliteConnectOptions>),
    /// One pooled connection, re-established after an error.
    #[cfg(feature = "postgres")]
    Postgres(PgPool),
    #[cfg(feature = "http")]
    Http(HttpSource),
}

impl Source {
    /// `sqlite://PATH`, `postgres://...` or `http(s)://HOST:PORT[/PREFIX]`; a URL whose
    /// feature is not enabled is a [`ClientError::BadSource`] that names the feature.
    pub fn parse(url: &str, timeout: Duration) -> Result<Source, ClientError> {
        // Errors show the URL with its password redacted.
        let shown = match rollout_core::DatabaseUrl::parse(url) {
            Ok(db) => db.to_string(),
            Err(e) => e.redacted_url().to_owned(),
        };
        let bad = |e: &dyn std::fmt::Display| ClientError::BadSource(format!("{shown}: {e}"));
        let _ = timeout;
        if url.starts_with("sqlite:") {
            #[cfg(feature = "sqlite")]
            {
                let opts = SqliteConnectOptions::from_str(url)
                    .map_err(|e| bad(&e))?
                    .read_only(true)
                    .create_if_missing(false);
                Ok(Source::Sqlite(Box::new(opts)))
            }
            #[cfg(not(feature = "sqlite"))]
            Err(bad(
                &"rollout-client was built without its `sqlite` feature",
            ))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            {
                let opts = PgConnectOptions::from_str(url).map_err(|e| bad(&e))?;
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(timeout)
                    .connect_lazy_with(opts);
                Ok(Source::Postgres(pool))
            }
            #[cfg(not(feature = "postgres"))]
            Err(bad(
                &"rollout-client was built without its `postgres` feature",
            ))
        } else if url.starts_with("http://") || url.starts_with("https://") {
            #[cfg(feature = "http")]
            {
                let client = reqwest::Client::builder()
                    .connect_timeout(timeout)
                    .build()
                    .map_err(|e| bad(&e))?;
                // host:port of the daemon, for the probe while it refuses connections.
                let authority = reqwest::Url::parse(url)
                    .ok()
                    .and_then(|u| Some(format!("{}:{}", u.host()?, u.port_or_known_default()?)));
                Ok(Source::Http(HttpSource {
                    base: url.trim_end_matches('/').to_owned(),
                    authority,
                    client,
                }))
            }
            #[cfg(not(feature = "http"))]
            Err(bad(&"rollout-client was built without its `http` feature"))
        } else {
            Err(bad(&"expected sqlite://, postgres:// or http(s)://"))
        }
    }

    pub fn kind(&self) -> &'static str {
        match *self {
            #[cfg(feature = "sqlite")]
            Source::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Source::Postgres(_) => "postgres",
            #[cfg(feature = "http")]
            Source::Http(_) => "http",
        }
    }

    /// Whether the source can stream changes (HTTP); the others are polled.
    pub fn streams(&self) -> bool {
        match *self {
            #[cfg(feature = "http")]
            Source::Http(_) => true,
            #[cfg(feature = "sqlite")]
            Source::Sqlite(_) => false,
            #[cfg(feature = "postgres")]
            Source::Postgres(_) => false,
        }
    }

    /// Reads the table unless its version is `known`. Not bounded here: the caller
    /// applies the timeout.
    pub async fn load(&self, known: Option<i64>, timeout: Duration) -> Result<Load, ClientError> {
        let _ = (known, timeout);
        match *self {
            #[cfg(feature = "sqlite")]
            Source::Sqlite(ref opts) => {
                let mut conn = SqliteConnection::connect_with(opts).await?;
                let mut tx = conn.begin().await?;
                let out: Result<Load, ClientError> = read!(tx, known);
                let _ = tx.rollback().await;
                let _ = conn.close().await;
                out
            }
            #[cfg(feature = "postgres")]
            Source::Postgres(ref pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                let out: Result<Load, ClientError> = read!(tx, known);
                let _ = tx.rollback().await;
                out
            }
            #[cfg(feature = "http")]
            Source::Http(ref h) => h.load(known, timeout).await,
        }
    }
}

#[cfg(feature = "http")]
pub struct HttpSource {
    base: String,
    authority: Option<String>,
    client: reqwest::Client,
}

/// A status the caller cannot use: `Unavailable` when a 429 or 503 says when to come back.
#[cfg(feature = "http")]
fn status_error(status: StatusCode, headers: &HeaderMap) -> ClientError {
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match retry_after {
        Some(secs) if matches!(status.as_u16(), 429 | 503) => ClientError::Unavailable {
            status: status.as_u16(),
            retry_after: Duration::from_secs(secs),
        },
        _ => ClientError::Status(status.as_u16()),
    }
}

/// The body of `GET /v1/flags` and of a `snapshot` event.
#[cfg(feature = "http")]
#[derive(serde::Deserialize)]
pub struct FlagsBody {
    pub version: i64,
    pub flags: Vec<Row>,
}

#[cfg(feature = "http")]
impl FlagsBody {
    pub fn into_table(self) -> Table {
        Table {
            version: self.version,
            rows: self.flags.into_iter().map(|r| (r.key.clone(), r)).collect(),
        }
    }
}

#[cfg(feature = "http")]
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
            s => Err(status_error(s, resp.headers())),
        }
    }

    /// Whether the daemon's port accepts a TCP connection within `timeout`. Nothing is
    /// sent; the connection is closed at once.
    pub async fn probe(&self, timeout: Duration) -> bool {
        let Some(authority) = &self.authority else {
            return false;
        };
        matches!(
            tokio::time::timeout(timeout, tokio::net::TcpStream::connect(authority.as_str())).await,
            Ok(Ok(_))
        )
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
            return Err(status_error(status, resp.headers()));
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
