//! Which rollouts got observations since the last look ([`ArrivalStore`]): the leading
//! daemon's cheap poll on SQLite, which has no `NOTIFY`. Reads the primary key only.

use async_trait::async_trait;
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use crate::backend::{Args, Backend, ColumnType, Conn, Db, DbRow};
use crate::traits::{ArrivalStore, Arrivals};
use crate::{SqlStore, StoreError};

#[async_trait]
impl<B> ArrivalStore for SqlStore<B>
where
    B: Backend,
    for<'c> &'c mut Conn<B>: Executor<'c, Database = Db<B>>,
    for<'q> Args<'q, B>: IntoArguments<'q, Db<B>>,
    for<'q> &'q str: Encode<'q, Db<B>> + Type<Db<B>>,
    usize: ColumnIndex<DbRow<B>>,
    String: ColumnType<Db<B>>,
    i64: ColumnType<Db<B>>,
    Option<i64>: ColumnType<Db<B>>,
{
    async fn arrivals(&self, after: Option<i64>) -> Result<Arrivals, StoreError> {
        let Some(after) = after else {
            let last: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM observations")
                .fetch_one(&self.pool)
                .await?;
            return Ok(Arrivals {
                last_id: last.unwrap_or(0),
                rollouts: Vec::new(),
            });
        };
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT rollout, MAX(id) FROM observations WHERE id > $1 GROUP BY rollout ORDER BY rollout",
        )
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        let last_id = rows.iter().map(|(_, id)| *id).max().unwrap_or(after);
        Ok(Arrivals {
            last_id,
            rollouts: rows.into_iter().map(|(r, _)| r).collect(),
        })
    }
}
