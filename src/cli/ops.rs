//! The operator's commands: `db roles`, `backup`, `restore`, `export`.

use std::path::Path;

use super::open::{existing_store, open, operated_url, Access};
use super::{print_json, Cli, WithStore};
use crate::error::Error;
use crate::store::{self, roles, DatabaseUrl};

/// `rollout db roles [--apply]`: the statements (PostgreSQL) or the file permissions
/// (SQLite); with --apply, applied.
pub async fn roles(cli: &Cli, prefix: &str, apply: bool) -> Result<(), Error> {
    let url = operated_url(cli)?;
    let names = roles::Roles::new(prefix)?;
    if !apply {
        match &url {
            DatabaseUrl::Postgres(_) => print!("{}", pg_script(&url, prefix, &names)?),
            DatabaseUrl::Sqlite(s) => print!("{}", sqlite_advice(s.path())),
        }
        return Ok(());
    }
    let store = store::open_url(&url)?;
    store.apply_roles(prefix).await?;
    println!("store: {url}");
    println!(
        "roles applied: {} (owns rollout's objects), {} (flags), {} (observations), {} (learning tables), {} (configured queries)",
        names.controller, names.reader, names.ingest, names.collector, roles::QUERY_ROLE
    );
    Ok(())
}

fn pg_script(url: &DatabaseUrl, prefix: &str, names: &roles::Roles) -> Result<String, Error> {
    let mut out = format!(
        "-- rollout's least-privilege roles for {url} (rollout db roles{}).\n\
         -- Run as a superuser on that database after its migrations (the first `rollout tick`\n\
         -- or `rollout daemon` runs them), e.g. `psql -v ON_ERROR_STOP=1 -f roles.sql`;\n\
         -- `rollout db roles --apply` migrates and runs it in one transaction. Idempotent.\n\
         -- Then: the daemon and the CLI connect as {}, trading services reading flags as\n\
         -- {}, `rollout ingest` as {}, the learning collectors as {}.\n\
         -- Passwords: ALTER ROLE name PASSWORD '...'; (or your server's authentication).\n",
        if prefix.is_empty() {
            String::new()
        } else {
            format!(" --prefix {prefix}")
        },
        names.controller,
        names.reader,
        names.ingest,
        names.collector
    );
    for s in roles::statements(prefix)? {
        out.push_str(&s);
        out.push('\n');
    }
    Ok(out)
}

fn sqlite_advice(path: Option<&Path>) -> String {
    let db = path.map_or_else(
        || "rollout.db".to_owned(),
        |p| {
            std::path::absolute(p)
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string()
        },
    );
    format!(
        "# SQLite has no roles: the file's permissions decide who may do what ({db}).\n\
         # The daemon and the CLI run as the file's owner (the controller); readers are a group\n\
         # that may read the file and nothing else. SQLite gives the -wal and -shm files the\n\
         # database file's permissions.\n\
         chown rollout:rollout-readers {db}\n\
         chmod 0640 {db}\n\
         chmod 0750 \"$(dirname {db})\"\n\
         # Readers open it read-only: sqlite://{db}?mode=ro (rollout-client, sqlite3 -readonly).\n\
         # In WAL mode a read-only reader needs the -wal and -shm files to exist: they do while\n\
         # the daemon runs. Ingest and the learning collectors write: give them the HTTP API\n\
         # (POST /v1/observations, /learning/collect/*) rather than the file.\n"
    )
}

/// `rollout backup FILE`.
pub async fn backup(cli: &Cli, file: &Path, json: bool) -> Result<(), Error> {
    let url = operated_url(cli)?;
    let store = existing_store(&url).await?;
    let manifest =
        rollout_app::backup::backup(&*store, &url.to_string(), file, chrono::Utc::now()).await?;
    if json {
        print_json(&manifest);
    } else {
        let rows: u64 = manifest.tables.iter().map(|t| t.rows).sum();
        println!("store: {url}");
        println!(
            "backup: {} ({rows} rows in {} tables, schema version {}, flags version {}, sha256 {})",
            file.display(),
            manifest.tables.len(),
            manifest.schema_version,
            manifest.flags_version,
            manifest.sha256
        );
    }
    Ok(())
}

/// `rollout restore FILE [--force]`.
pub async fn restore(cli: &Cli, file: &Path, force: bool, json: bool) -> Result<(), Error> {
    let url = operated_url(cli)?;
    // Not migrated here: the restore migrates to the backup's schema, loads, then the rest.
    let store = store::open_url(&url)?;
    let restored = rollout_app::backup::restore(&*store, file, force).await?;
    if json {
        print_json(&WithStore {
            inner: &restored,
            store: url.to_string(),
        });
    } else {
        let m = &restored.manifest;
        println!("store: {url}");
        println!(
            "restored {}: {} rows, flags version {} (backup of {} at {})",
            file.display(),
            restored.rows,
            m.flags_version,
            m.source,
            m.created_at.to_rfc3339()
        );
    }
    Ok(())
}

/// `rollout export --json`.
pub async fn export(cli: &Cli) -> Result<(), Error> {
    let (service, _) = open(cli, Access::OnCall).await?;
    print_json(&service.export().await?);
    Ok(())
}
