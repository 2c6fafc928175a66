//! Configured queries (guardrails and safety checks written as SQL in the configuration):
//! binding their parameters and reading their cells, for both backends. Running them
//! isolated and bounded is the backend's ([`Backend::configured_rows`]).

use chrono::{DateTime, Utc};
use sqlx::query::Query;
use sqlx::{ColumnIndex, Database, Decode, Encode, Row, Type, TypeInfo, ValueRef};

use rollout_core::records::{QueryParam, SqlValue};

use super::{Backend, CellKind, DbRow};
use crate::error::QueryError;
use crate::StoreError;

/// Binds `params` to `$1`, `$2`, ... in order: text as text, times as timestamps.
pub(crate) fn bind<'q, DB>(
    mut q: Query<'q, DB, DB::Arguments<'q>>,
    params: &'q [QueryParam],
) -> Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    DateTime<Utc>: Encode<'q, DB> + Type<DB>,
{
    for p in params {
        q = match p {
            QueryParam::Text(t) => q.bind(t.as_str()),
            QueryParam::Time(t) => q.bind(*t),
        };
    }
    q
}

/// One row's cells: NULL, booleans, numbers (every integer and float width) and text;
/// any other column type fails the query with [`QueryError::UnreadableColumn`].
pub(crate) fn cells<B>(row: &DbRow<B>) -> Result<Vec<SqlValue>, StoreError>
where
    B: Backend,
    usize: ColumnIndex<DbRow<B>>,
    for<'r> bool: Decode<'r, B::Db>,
    for<'r> i16: Decode<'r, B::Db>,
    for<'r> i32: Decode<'r, B::Db>,
    for<'r> i64: Decode<'r, B::Db>,
    for<'r> f32: Decode<'r, B::Db>,
    for<'r> f64: Decode<'r, B::Db>,
    for<'r> String: Decode<'r, B::Db>,
{
    (0..row.columns().len())
        .map(|i| {
            let raw = row.try_get_raw(i).map_err(StoreError::user_query)?;
            if raw.is_null() {
                return Ok(SqlValue::Null);
            }
            let type_name = raw.type_info().name().to_owned();
            let Some(kind) = B::cell_kind(&type_name) else {
                return Err(StoreError::UserQuery(QueryError::UnreadableColumn {
                    column: i + 1,
                    type_name,
                    hint: B::UNREADABLE_HINT,
                }));
            };
            // The type is known from its name, so the value is decoded without sqlx's
            // compatibility check (SQLite reports the value's storage class, not the
            // column's declared type).
            let bad = |e: sqlx::Error| StoreError::UserQuery(QueryError::Sql(e));
            Ok(match kind {
                CellKind::Bool => SqlValue::Bool(row.try_get_unchecked::<bool, _>(i).map_err(bad)?),
                CellKind::I16 => {
                    SqlValue::Number(f64::from(row.try_get_unchecked::<i16, _>(i).map_err(bad)?))
                }
                CellKind::I32 => {
                    SqlValue::Number(f64::from(row.try_get_unchecked::<i32, _>(i).map_err(bad)?))
                }
                CellKind::I64 => {
                    SqlValue::Number(row.try_get_unchecked::<i64, _>(i).map_err(bad)? as f64)
                }
                CellKind::F32 => {
                    SqlValue::Number(f64::from(row.try_get_unchecked::<f32, _>(i).map_err(bad)?))
                }
                CellKind::F64 => SqlValue::Number(row.try_get_unchecked::<f64, _>(i).map_err(bad)?),
                CellKind::Text => {
                    SqlValue::Text(row.try_get_unchecked::<String, _>(i).map_err(bad)?)
                }
            })
        })
        .collect()
}
