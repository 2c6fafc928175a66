//! Backups on PostgreSQL: each row rendered by `row_to_json` in one `REPEATABLE READ`
//! snapshot, loaded back by `json_populate_recordset` (the table's own column types parse
//! the values), identity sequences set past the loaded ids.

use async_trait::async_trait;
use futures_util::TryStreamExt;

use rollout_core::backup::TableRows;

use super::{not_empty, write_line, Batches, PG_TABLES, REPLACED};
use crate::backend::{Backend, PgBackend};
use crate::{AdminStore, Dumped, PgStore, StoreError};

#[async_trait]
impl AdminStore for PgStore {
    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    fn latest_schema(&self) -> i64 {
        crate::migrations::latest::<PgBackend>()
    }

    async fn dump(&self, out: &mut (dyn std::io::Write + Send)) -> Result<Dumped, StoreError> {
        let mut tx = self.pool.begin_with(PgBackend::BEGIN_READ).await?;
        // Every float as the exact shortest text that reads back the same.
        sqlx::query("SET LOCAL extra_float_digits = 3")
            .execute(&mut *tx)
            .await?;
        let schema_version: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&mut *tx)
        .await?;
        let flags_version: i64 = sqlx::query_scalar("SELECT version FROM rollout_flags_version")
            .fetch_one(&mut *tx)
            .await?;
        let mut tables = Vec::with_capacity(PG_TABLES.len());
        for table in PG_TABLES.iter() {
            let sql = format!("SELECT row_to_json(x)::text FROM {table} x");
            let mut rows = sqlx::query_scalar::<_, String>(&sql).fetch(&mut *tx);
            let mut n = 0;
            while let Some(row) = rows.try_next().await? {
                write_line(out, table, &row)?;
                n += 1;
            }
            tables.push(TableRows {
                table: (*table).to_owned(),
                rows: n,
            });
        }
        tx.rollback().await?;
        Ok(Dumped {
            schema_version,
            flags_version,
            tables,
        })
    }

    async fn load(
        &self,
        schema_version: i64,
        lines: &mut (dyn Iterator<Item = std::io::Result<String>> + Send),
        force: bool,
    ) -> Result<u64, StoreError> {
        let current = self.schema_version().await?;
        if current > schema_version {
            return Err(StoreError::Refused(format!(
                "the target store has schema version {current}, newer than the backup's {schema_version}; restore into a new database"
            )));
        }
        self.migrate_to(schema_version).await?;
        let mut tx = self.pool.begin().await?;
        if force {
            // TRUNCATE fires no row trigger: the history's append-only guard stays.
            sqlx::query(&format!(
                "TRUNCATE {} RESTART IDENTITY",
                PG_TABLES.join(", ")
            ))
            .execute(&mut *tx)
            .await?;
        } else {
            for table in PG_TABLES.iter().filter(|t| !REPLACED.contains(t)) {
                let used: bool =
                    sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM {table})"))
                        .fetch_one(&mut *tx)
                        .await?;
                if used {
                    return Err(not_empty(table));
                }
            }
            for table in REPLACED {
                sqlx::query(&format!("DELETE FROM {table}"))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let mut batches = Batches::new(lines, &PG_TABLES);
        let mut loaded = 0;
        while let Some((table, rows, n)) = batches.next_batch()? {
            sqlx::query(&format!(
                "INSERT INTO {table} SELECT * FROM json_populate_recordset(NULL::{table}, $1::json)"
            ))
            .bind(rows)
            .execute(&mut *tx)
            .await?;
            loaded += n;
        }
        // Later inserts must not collide with the loaded ids.
        for table in PG_TABLES.iter() {
            let seq: Option<Option<String>> = sqlx::query_scalar(
                "SELECT pg_get_serial_sequence($1, 'id') FROM pg_attribute \
                 WHERE attrelid = $1::regclass AND attname = 'id' AND NOT attisdropped",
            )
            .bind(table)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(Some(seq)) = seq {
                sqlx::query(&format!(
                    "SELECT setval($1::regclass, COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                ))
                .bind(seq)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        (self as &dyn crate::StateStore).migrate().await?;
        Ok(loaded)
    }

    async fn apply_roles(&self, prefix: &str) -> Result<(), StoreError> {
        crate::roles::apply(self, prefix).await
    }
}
