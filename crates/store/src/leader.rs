//! Who may run the daemon's writes: one leader per database.
//!
//! PostgreSQL: a session advisory lock held on a dedicated connection, re-checked every
//! tick. SQLite: an exclusive lock on `DB_FILE.lock`. Losing the lock (or the connection)
//! makes the process a standby; the epoch in `rollout_leader` fences any write it still
//! had in flight.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use rollout_core::{BadUrl, DatabaseUrl};

use crate::backend::lock_path;
use crate::StoreError;

/// `pg_advisory_lock` key: the bytes of "rollout".
const ADVISORY_KEY: i64 = 0x0072_6f6c_6c6f_7574;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaderCheck {
    /// This process leads; `fresh` when it has just become leader (start a new epoch).
    Leader {
        fresh: bool,
    },
    Standby,
}

pub enum Leadership {
    Postgres {
        options: Box<PgConnectOptions>,
        conn: Option<PgConnection>,
    },
    File {
        path: PathBuf,
        file: Option<File>,
    },
    /// An in-memory SQLite database lives in one process; there is nobody to compete with.
    Memory {
        held: bool,
    },
}

impl Leadership {
    /// The leadership of the database `url` names: an advisory lock on PostgreSQL, a lock
    /// file beside a SQLite file, nothing to compete for in memory.
    pub fn for_url(url: &DatabaseUrl) -> Result<Leadership, StoreError> {
        match url {
            DatabaseUrl::Sqlite(sqlite) => {
                let options = SqliteConnectOptions::from_str(url.expose())
                    .map_err(|e| BadUrl::driver(url, e))?;
                Ok(match lock_path(sqlite, &options, ".lock") {
                    Some(path) => Leadership::File { path, file: None },
                    None => Leadership::Memory { held: false },
                })
            }
            DatabaseUrl::Postgres(_) => {
                let options =
                    PgConnectOptions::from_str(url.expose()).map_err(|e| BadUrl::driver(url, e))?;
                Ok(Leadership::Postgres {
                    options: Box::new(options.application_name("rollout-leader")),
                    conn: None,
                })
            }
        }
    }

    /// Acquires leadership if free, or confirms that it is still held.
    pub async fn check(&mut self) -> Result<LeaderCheck, StoreError> {
        match self {
            Leadership::Memory { held } => {
                let fresh = !*held;
                *held = true;
                Ok(LeaderCheck::Leader { fresh })
            }
            Leadership::File { path, file } => {
                if file.is_some() {
                    return Ok(LeaderCheck::Leader { fresh: false });
                }
                let f = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&*path)
                    .map_err(|e| StoreError::Unavailable(sqlx::Error::Io(e)))?;
                match f.try_lock() {
                    Ok(()) => {
                        *file = Some(f);
                        Ok(LeaderCheck::Leader { fresh: true })
                    }
                    Err(TryLockError::WouldBlock) => Ok(LeaderCheck::Standby),
                    Err(TryLockError::Error(e)) => Err(StoreError::Unavailable(sqlx::Error::Io(e))),
                }
            }
            Leadership::Postgres { options, conn } => {
                if let Some(c) = conn.as_mut() {
                    let alive = tokio::time::timeout(
                        Duration::from_secs(5),
                        sqlx::query("SELECT 1").execute(&mut *c),
                    )
                    .await;
                    if matches!(alive, Ok(Ok(_))) {
                        return Ok(LeaderCheck::Leader { fresh: false });
                    }
                    // The session (and with it the lock) is gone or unusable.
                    *conn = None;
                }
                let mut c = tokio::time::timeout(Duration::from_secs(5), options.connect())
                    .await
                    .map_err(|_| StoreError::Unavailable(sqlx::Error::PoolTimedOut))??;
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(ADVISORY_KEY)
                    .fetch_one(&mut c)
                    .await?;
                if got {
                    *conn = Some(c);
                    Ok(LeaderCheck::Leader { fresh: true })
                } else {
                    let _ = c.close().await;
                    Ok(LeaderCheck::Standby)
                }
            }
        }
    }

    /// Gives leadership up (after being fenced, or on shutdown).
    pub async fn release(&mut self) {
        match self {
            Leadership::Memory { held } => *held = false,
            Leadership::File { file, .. } => {
                if let Some(f) = file.take() {
                    let _ = f.unlock();
                }
            }
            Leadership::Postgres { conn, .. } => {
                if let Some(c) = conn.take() {
                    let _ = c.close().await;
                }
            }
        }
    }
}
