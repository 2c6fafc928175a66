//! Least-privilege PostgreSQL roles (`rollout db roles`): who may do what to rollout's
//! tables. Roles are shared by every database of a server, so creating them is idempotent
//! and tolerant of a concurrent creation; grants are per database.
//!
//! - `rollout_controller` owns rollout's schema objects: the daemon and the CLI run as it,
//!   and it migrates the schema. It may assume `rollout_query` (configured queries).
//! - `rollout_reader` reads the flags table and its version, nothing else (trading
//!   services reading SQL directly, `rollout-client`).
//! - `rollout_ingest` stores A/B observations (`rollout ingest`): it reads the state and
//!   the history (to place rows in their stage entry), inserts observations and maintains
//!   the per-unit aggregates; it cannot change a rollout's state, flags or history.
//! - `learning_collector` inserts into the learning schema's three tables, nothing else.

use crate::tables::PG_TABLES;
use crate::{PgStore, StoreError};

/// The role configured queries run as (`Backend::after_migrate` keeps it set up).
pub use crate::backend::QUERY_ROLE;

/// The four role names for a prefix (`""`: `rollout_controller`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles {
    pub controller: String,
    pub reader: String,
    pub ingest: String,
    pub collector: String,
}

impl Roles {
    /// The names with `prefix` in front; a prefix is lower-case letters, digits and `_`,
    /// starting with a letter or `_`, at most 40 characters.
    pub fn new(prefix: &str) -> Result<Roles, StoreError> {
        let ok = prefix.len() <= 40
            && prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !prefix.starts_with(|c: char| c.is_ascii_digit());
        if !ok {
            return Err(StoreError::Invalid(format!(
                "role prefix {prefix:?}: use lower-case letters, digits and _ (not first a digit), at most 40 characters"
            )));
        }
        Ok(Roles {
            controller: format!("{prefix}rollout_controller"),
            reader: format!("{prefix}rollout_reader"),
            ingest: format!("{prefix}rollout_ingest"),
            collector: format!("{prefix}learning_collector"),
        })
    }
}

/// The learning tables a collector writes.
const COLLECTED: [&str; 3] = [
    "learning.discovery_decisions",
    "learning.thesis_decisions",
    "learning.trade_outcomes",
];

/// The tables `rollout ingest` reads (placement) and writes (the rows and their aggregates).
const INGEST_READS: [&str; 4] = [
    "_sqlx_migrations",
    "aggregate_rebuilds",
    "rollout_state",
    "rollout_events",
];
const INGEST_WRITES: [&str; 9] = [
    "unit_values",
    "unit_moments",
    "unit_exposures",
    "exposure_counts",
    "metric_buckets",
    "unit_value_anchors",
    "unit_value_bins",
    "observation_marks",
    "rollout_service_errors",
];

fn create_role(name: &str, attributes: &str) -> String {
    format!(
        "DO $$ BEGIN\n  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN\n    CREATE ROLE {name} {attributes};\n  END IF;\nEXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;\nEND $$;"
    )
}

/// The statements, in order: create the roles if missing, give the controller rollout's
/// objects, then revoke everything the other roles hold on rollout's schemas and grant
/// exactly what each needs. Run on the database rollout uses, after its migrations, as a
/// superuser (or a role with CREATEROLE that owns rollout's objects).
pub fn statements(prefix: &str) -> Result<Vec<String>, StoreError> {
    let r = Roles::new(prefix)?;
    let (c, rd, i, l) = (&r.controller, &r.reader, &r.ingest, &r.collector);
    let login = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION";
    let mut s = vec![
        "-- Roles (shared by every database of the server; created once).".to_owned(),
        create_role(c, login),
        create_role(rd, login),
        create_role(i, login),
        create_role(l, login),
        create_role(QUERY_ROLE, "NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT"),
        format!("-- {c}: owns rollout's objects, migrates them, runs the daemon and the CLI."),
        format!("DO $$ BEGIN EXECUTE format('GRANT CONNECT, TEMPORARY, CREATE ON DATABASE %I TO {c}', current_database()); END $$;"),
        format!("GRANT USAGE, CREATE ON SCHEMA public TO {c};"),
        format!("ALTER SCHEMA learning OWNER TO {c};"),
        format!("ALTER TABLE _sqlx_migrations OWNER TO {c};"),
    ];
    s.extend(
        PG_TABLES
            .iter()
            .map(|t| format!("ALTER TABLE {t} OWNER TO {c};")),
    );
    s.push(format!(
        "ALTER FUNCTION rollout_events_append_only() OWNER TO {c};"
    ));
    s.push(format!("-- {QUERY_ROLE}: what configured guardrail and safety-check queries run as (SET LOCAL ROLE)."));
    s.push(format!(
        "GRANT USAGE ON SCHEMA public, learning TO {QUERY_ROLE};"
    ));
    s.push(format!(
        "GRANT SELECT ON {} TO {QUERY_ROLE};",
        PG_TABLES.join(", ")
    ));
    s.push(format!("GRANT {QUERY_ROLE} TO {c};"));
    s.push("-- The other roles: exactly these privileges on rollout's schemas.".to_owned());
    for role in [rd, i, l] {
        s.push(format!("DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO {role}', current_database()); END $$;"));
        s.push(format!(
            "REVOKE ALL ON ALL TABLES IN SCHEMA public, learning FROM {role};"
        ));
        s.push(format!(
            "REVOKE ALL ON ALL SEQUENCES IN SCHEMA public, learning FROM {role};"
        ));
        s.push(format!("REVOKE ALL ON SCHEMA learning FROM {role};"));
    }
    s.push(format!("-- {rd}: the flags and their version."));
    s.push(format!("GRANT USAGE ON SCHEMA public TO {rd};"));
    s.push(format!(
        "GRANT SELECT ON rollout_flags, rollout_flags_version TO {rd};"
    ));
    s.push(format!(
        "-- {i}: observations and their aggregates; reads the state and the history to place them."
    ));
    s.push(format!("GRANT USAGE ON SCHEMA public TO {i};"));
    s.push(format!(
        "GRANT SELECT ON {} TO {i};",
        INGEST_READS.join(", ")
    ));
    s.push(format!("GRANT SELECT, INSERT ON observations TO {i};"));
    s.push(format!(
        "GRANT USAGE ON SEQUENCE observations_id_seq, rollout_service_errors_id_seq TO {i};"
    ));
    s.push(format!(
        "GRANT SELECT, INSERT, UPDATE ON {} TO {i};",
        INGEST_WRITES.join(", ")
    ));
    s.push(format!(
        "-- {l}: inserts into the learning schema's three tables."
    ));
    s.push(format!("GRANT USAGE ON SCHEMA learning TO {l};"));
    s.push(format!("GRANT INSERT ON {} TO {l};", COLLECTED.join(", ")));
    s.push(format!(
        "GRANT USAGE ON SEQUENCE {} TO {l};",
        COLLECTED.map(|t| format!("{t}_id_seq")).join(", ")
    ));
    Ok(s)
}

/// Migrates the store, then runs [`statements`] in one transaction (again, a few times, if
/// a concurrent setup of the same roles collides with it).
pub(crate) async fn apply(store: &PgStore, prefix: &str) -> Result<(), StoreError> {
    let statements = statements(prefix)?;
    (store as &dyn crate::StateStore).migrate().await?;
    let mut attempt = 0;
    loop {
        match run(store, &statements).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 3 && concurrent(&e) => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn run(store: &PgStore, statements: &[String]) -> Result<(), sqlx::Error> {
    let mut tx = store.pool.begin().await?;
    for s in statements.iter().filter(|s| !s.starts_with("--")) {
        sqlx::query(s).execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// "tuple concurrently updated" (XX000) or a serialization failure: another process set up
/// the same shared catalog rows at the same time.
fn concurrent(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("XX000" | "40001" | "40P01" | "23505")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_follow_the_prefix() {
        let r = super::Roles::new("acme_").unwrap();
        assert_eq!(r.controller, "acme_rollout_controller");
        assert_eq!(r.collector, "acme_learning_collector");
        assert_eq!(super::Roles::new("").unwrap().reader, "rollout_reader");
        for bad in ["Acme", "a-b", "1a", "a;drop", &"x".repeat(41)] {
            assert!(super::Roles::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_reader_gets_the_flags_only() {
        let s = super::statements("").unwrap();
        let reader: Vec<_> = s
            .iter()
            .filter(|l| l.starts_with("GRANT") && l.ends_with("TO rollout_reader;"))
            .collect();
        assert_eq!(
            reader,
            [
                "GRANT USAGE ON SCHEMA public TO rollout_reader;",
                "GRANT SELECT ON rollout_flags, rollout_flags_version TO rollout_reader;"
            ]
        );
    }
}
