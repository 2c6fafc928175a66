//! [`SqlStore`]: the one implementation of the store traits, generic over the [`Backend`].
//! Its SQL is the same text on PostgreSQL and SQLite (`$N` placeholders, `ON CONFLICT`,
//! `RETURNING`); the capabilities are implemented in `state`, `observations`, `guardrails`,
//! `outbox` and `learning`.

use sqlx::Pool;

use rollout_core::DatabaseUrl;

use crate::backend::{Backend, PgBackend, SqliteBackend};
use crate::StoreError;

pub struct SqlStore<B: Backend> {
    pub(crate) pool: Pool<B::Db>,
    pub(crate) backend: B,
}

/// The production store.
pub type PgStore = SqlStore<PgBackend>;
/// The embedded default store: one file, WAL mode.
pub type SqliteStore = SqlStore<SqliteBackend>;

impl<B: Backend> SqlStore<B> {
    /// Opens the store `url` names; connects lazily. A URL of the other backend is refused.
    pub fn open(url: &str) -> Result<SqlStore<B>, StoreError> {
        SqlStore::open_url(&DatabaseUrl::parse(url)?)
    }

    pub fn open_url(url: &DatabaseUrl) -> Result<SqlStore<B>, StoreError> {
        let (pool, backend) = B::connect(url)?;
        Ok(SqlStore { pool, backend })
    }

    /// Opens the store `url` names with a pool of at most `max` connections (otherwise as
    /// [`SqlStore::open_url`] configures it): a second, smaller pool on the same database,
    /// e.g. for the HTTP API's reads.
    pub fn open_url_with_pool(url: &DatabaseUrl, max: u32) -> Result<SqlStore<B>, StoreError> {
        let (pool, backend) = B::connect(url)?;
        let options = pool.options().clone().max_connections(max.max(1));
        let pool = options.connect_lazy_with((*pool.connect_options()).clone());
        Ok(SqlStore { pool, backend })
    }

    pub fn pool(&self) -> &Pool<B::Db> {
        &self.pool
    }
}

/// `$first, $first+1, ...`: `n` numbered parameters, for an `IN (...)` list.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `head` + `VALUES ($1, ..., $cols), ..., (...)` for `rows` rows + `tail`: a multi-row
/// INSERT whose parameters are bound row by row, in column order.
///
/// (sqlx's `QueryBuilder` cannot be executed from code generic over the database: its
/// arguments would have to outlive the builder they are borrowed from.)
pub(crate) fn multi_row_insert(head: &str, rows: usize, cols: usize, tail: &str) -> String {
    use std::fmt::Write;
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * cols * 7 + 8);
    sql.push_str(head);
    sql.push_str("VALUES ");
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for col in 0..cols {
            if col > 0 {
                sql.push_str(", ");
            }
            let _ = write!(sql, "${}", row * cols + col + 1);
        }
        sql.push(')');
    }
    sql.push_str(tail);
    sql
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders() {
        assert_eq!(super::placeholders(4, 3), "$4, $5, $6");
        assert_eq!(super::placeholders(1, 0), "");
    }

    #[test]
    fn multi_row_insert() {
        assert_eq!(
            super::multi_row_insert("INSERT INTO t (a, b) ", 2, 2, " ON CONFLICT DO NOTHING"),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) ON CONFLICT DO NOTHING"
        );
    }
}
