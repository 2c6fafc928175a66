//! Running the migrations: all of them (`migrate`), or up to a version (a restore loads a
//! backup into the schema it was made with, then migrates the rest), and telling whether a
//! store is already at this release's schema without writing anything.

use std::borrow::Cow;
use std::collections::BTreeSet;

use sqlx::migrate::{Migrate, MigrateError, Migrator};
use sqlx::{ColumnIndex, Executor, IntoArguments};

use crate::backend::{Args, Backend, ColumnType, Conn, Db, DbRow};
use crate::{SqlStore, StoreError};

impl<B> SqlStore<B>
where
    B: Backend,
    Conn<B>: Migrate,
    for<'c> &'c mut Conn<B>: Executor<'c, Database = Db<B>>,
    for<'q> Args<'q, B>: IntoArguments<'q, Db<B>>,
    usize: ColumnIndex<DbRow<B>>,
    i64: ColumnType<Db<B>>,
    Option<i64>: ColumnType<Db<B>>,
    Vec<u8>: ColumnType<Db<B>>,
{
    /// Whether every migration of this release, and no other, has been applied with the
    /// same checksum. Any doubt (no table, no right to read it) is `false`: then the
    /// migrator runs and says what is wrong.
    pub(crate) async fn up_to_date(&self) -> bool {
        let applied: Result<Vec<(i64, Vec<u8>)>, _> =
            sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await;
        let Ok(applied) = applied else {
            return false;
        };
        let applied: BTreeSet<(i64, Vec<u8>)> = applied.into_iter().collect();
        let known: BTreeSet<(i64, Vec<u8>)> = B::migrator()
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| (m.version, m.checksum.to_vec()))
            .collect();
        applied == known
    }

    /// Runs `migrator`; the caller holds the migration guard.
    pub(crate) async fn run_migrations(&self, migrator: &Migrator) -> Result<(), StoreError> {
        migrator.run(&self.pool).await.map_err(|e| match e {
            MigrateError::Execute(inner) => StoreError::from(inner),
            other => StoreError::Migrate(other),
        })
    }

    /// Runs this release's migrations up to `version` included.
    pub(crate) async fn migrate_to(&self, version: i64) -> Result<(), StoreError> {
        let all = B::migrator();
        let upto = Migrator {
            migrations: Cow::Owned(
                all.iter()
                    .filter(|m| m.version <= version)
                    .cloned()
                    .collect(),
            ),
            ignore_missing: all.ignore_missing,
            locking: all.locking,
            no_tx: all.no_tx,
        };
        let _guard = self.backend.migration_guard().await?;
        self.run_migrations(&upto).await
    }

    /// The last migration applied to this store (0: none).
    pub(crate) async fn schema_version(&self) -> Result<i64, StoreError> {
        let v: Result<(Option<i64>,), _> =
            sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await;
        match v {
            Ok((v,)) => Ok(v.unwrap_or(0)),
            // No migrations table: a new database.
            Err(sqlx::Error::Database(_)) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }
}

/// The last migration this release knows.
pub(crate) fn latest<B: Backend>() -> i64 {
    B::migrator().iter().map(|m| m.version).max().unwrap_or(0)
}
