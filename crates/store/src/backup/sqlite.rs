//! Backups on SQLite: each row rendered by `json_object` in one read transaction (WAL: a
//! snapshot while the daemon writes; floats through `quote`, which SQLite renders exactly,
//! blobs as hex),
//! loaded back by `json_each` (the column affinities turn the values back into their types).

use std::collections::HashMap;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use sqlx::SqliteConnection;

use rollout_core::backup::TableRows;

use super::{not_empty, write_line, Batches, REPLACED, SQLITE_TABLES};
use crate::backend::{Backend, SqliteBackend};
use crate::{AdminStore, Dumped, SqliteStore, StoreError};

/// A table's columns and whether each is declared `BLOB`.
async fn columns(
    conn: &mut SqliteConnection,
    table: &str,
) -> Result<Vec<(String, bool)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT name, upper(type) = 'BLOB' FROM pragma_table_info($1) ORDER BY cid")
            .bind(table)
            .fetch_all(conn)
            .await?,
    )
}

fn quoted(column: &str) -> String {
    format!("\"{}\"", column.replace('"', "\"\""))
}

#[async_trait]
impl AdminStore for SqliteStore {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    fn latest_schema(&self) -> i64 {
        crate::migrations::latest::<SqliteBackend>()
    }

    async fn dump(&self, out: &mut (dyn std::io::Write + Send)) -> Result<Dumped, StoreError> {
        let mut tx = self.pool.begin_with(SqliteBackend::BEGIN_READ).await?;
        // The first read fixes the snapshot every later read of the transaction sees.
        let schema_version: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&mut *tx)
        .await?;
        let flags_version: i64 = sqlx::query_scalar("SELECT version FROM rollout_flags_version")
            .fetch_one(&mut *tx)
            .await?;
        let mut tables = Vec::with_capacity(SQLITE_TABLES.len());
        for table in SQLITE_TABLES.iter() {
            let pairs: Vec<String> = columns(&mut tx, table)
                .await?
                .iter()
                .map(|(c, _)| {
                    let q = quoted(c);
                    format!(
                        "'{}', CASE typeof({q}) WHEN 'real' THEN quote({q}) WHEN 'blob' THEN hex({q}) ELSE {q} END",
                        c.replace('\'', "''")
                    )
                })
                .collect();
            let sql = format!("SELECT json_object({}) FROM {table}", pairs.join(", "));
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
                "the target store has schema version {current}, newer than the backup's {schema_version}; restore into a new file"
            )));
        }
        self.migrate_to(schema_version).await?;
        let mut tx = self.pool.begin_with(SqliteBackend::BEGIN_WRITE).await?;
        if force {
            // The history's append-only triggers are set aside while it is emptied.
            let triggers: Vec<(String, String)> = sqlx::query_as(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'rollout_events'",
            )
            .fetch_all(&mut *tx)
            .await?;
            for (name, _) in &triggers {
                sqlx::query(&format!("DROP TRIGGER {}", quoted(name)))
                    .execute(&mut *tx)
                    .await?;
            }
            for table in SQLITE_TABLES.iter() {
                sqlx::query(&format!("DELETE FROM {table}"))
                    .execute(&mut *tx)
                    .await?;
            }
            for (_, sql) in &triggers {
                sqlx::query(sql).execute(&mut *tx).await?;
            }
        } else {
            for table in SQLITE_TABLES.iter().filter(|t| !REPLACED.contains(t)) {
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
        let mut inserts: HashMap<String, String> = HashMap::new();
        let mut batches = Batches::new(lines, &SQLITE_TABLES);
        let mut loaded = 0;
        while let Some((table, rows, n)) = batches.next_batch()? {
            if !inserts.contains_key(&table) {
                let cols = columns(&mut tx, &table).await?;
                let names: Vec<String> = cols.iter().map(|(c, _)| quoted(c)).collect();
                let values: Vec<String> = cols
                    .iter()
                    .map(|(c, blob)| {
                        let v =
                            format!("json_extract(value, '$.{}')", quoted(c).replace('\'', "''"));
                        if *blob {
                            format!("unhex({v})")
                        } else {
                            v
                        }
                    })
                    .collect();
                inserts.insert(
                    table.clone(),
                    format!(
                        "INSERT INTO {table} ({}) SELECT {} FROM json_each($1)",
                        names.join(", "),
                        values.join(", ")
                    ),
                );
            }
            sqlx::query(&inserts[&table])
                .bind(rows)
                .execute(&mut *tx)
                .await?;
            loaded += n;
        }
        // AUTOINCREMENT keeps the largest id inserted: later inserts do not collide.
        tx.commit().await?;
        (self as &dyn crate::StateStore).migrate().await?;
        Ok(loaded)
    }

    async fn apply_roles(&self, _prefix: &str) -> Result<(), StoreError> {
        Err(StoreError::Invalid(
            "database roles are PostgreSQL's; a SQLite store is protected by its file's permissions (see `rollout db roles` without --apply)".into(),
        ))
    }
}
