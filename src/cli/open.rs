//! How a command reaches its configuration and its store.
//!
//! - The store is the one the configuration names, a relative `sqlite://` path taken from the
//!   configuration file's folder (`--database` / `ROLLOUT_DATABASE_URL` as given).
//! - Only `daemon`, `tick` and the ingest commands create a database; any other command on a
//!   missing SQLite file fails (exit 3) with its path instead of acting on an empty store.
//! - A command that loaded a valid file records it in the store; `rollback`, `pause`,
//!   `status`, `flags` and `history` fall back to the recorded configuration when the file
//!   is broken or missing, with one warning naming the file's first error.

use std::path::Path;
use std::sync::Arc;

use rollout_app::Service;
use rollout_core::config::{self, ConfigErrors, DEFAULT_DATABASE};

use super::{person, Cli};
use crate::error::Error;
use crate::store::{self, DatabaseUrl, StoreError};

/// What a command needs from its store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// May create the database (daemon, tick, ingest).
    Create,
    /// Needs an existing database and a valid configuration file.
    Existing,
    /// Needs an existing database; falls back to the recorded configuration.
    OnCall,
}

/// The application service on the command's configuration and migrated store, and the
/// store's URL (to tell the user which store was written).
pub async fn open(cli: &Cli, access: Access) -> Result<(Service, DatabaseUrl), Error> {
    let text = std::fs::read_to_string(&cli.config);
    let source = cli.config.display().to_string();
    let loaded = match &text {
        Ok(t) => config::parse(&source, t),
        Err(_) => config::load_file(&cli.config),
    };
    match loaded {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            let url = store_url(cli, &loaded.config.database)?;
            let service = connect(&url, access, loaded.config).await?;
            if let Ok(t) = &text {
                // Best effort: a reader's role may not write; the daemon records it anyway.
                if let Err(e) = service.record_config(t, &source, &person(cli)).await {
                    tracing::debug!(error = %e, "could not record the configuration");
                }
            }
            Ok((service, url))
        }
        Err(errors) if access == Access::OnCall => {
            on_recorded(cli, access, text.ok().as_deref(), errors).await
        }
        Err(errors) => Err(errors.into()),
    }
}

/// The file is broken or missing: act on the configuration recorded in the store.
async fn on_recorded(
    cli: &Cli,
    access: Access,
    text: Option<&str>,
    errors: ConfigErrors,
) -> Result<(Service, DatabaseUrl), Error> {
    let database = text
        .and_then(database_line)
        .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
    // Without a reachable store holding a recorded configuration, the file's errors are
    // the answer.
    let Ok(url) = store_url(cli, &database) else {
        return Err(errors.into());
    };
    let Ok(probe) = connect_store(&url, access).await else {
        return Err(errors.into());
    };
    let Ok(Some(recorded)) = probe.recorded_config().await else {
        return Err(errors.into());
    };
    let loaded = config::parse(&recorded.source, &recorded.content).map_err(|_| errors.clone())?;
    let first = errors
        .0
        .first()
        .map_or_else(|| "it cannot be read".to_owned(), ToString::to_string);
    eprintln!(
        "warning: {first}\nwarning: acting on the configuration recorded in {url} at {} by {} (the file is broken or missing)",
        recorded.recorded_at.to_rfc3339(),
        recorded.recorded_by
    );
    Ok((Service::fixed(Arc::from(probe), loaded.config), url))
}

/// The store a command that needs no configuration acts on (`backup`, `restore`, `db`):
/// `--database` as given, else the configuration file's `database`. Not migrated.
pub fn operated_url(cli: &Cli) -> Result<DatabaseUrl, Error> {
    if cli.database.is_some() {
        return store_url(cli, "");
    }
    let loaded = config::load_file(&cli.config)?;
    store_url(cli, &loaded.config.database)
}

/// Connects to the store `url` names the way a command with `access` may: an existing
/// SQLite file unless it may create one; migrated.
pub async fn existing_store(url: &DatabaseUrl) -> Result<Box<dyn store::Store>, Error> {
    connect_store(url, Access::Existing).await
}

/// `--database` / `ROLLOUT_DATABASE_URL` as given, else the configuration's `database`
/// with a relative SQLite path taken from the configuration file's folder.
fn store_url(cli: &Cli, configured: &str) -> Result<DatabaseUrl, Error> {
    let raw = match &cli.database {
        Some(d) => d.clone(),
        None => rollout_core::resolve_against(configured, &config_dir(&cli.config)),
    };
    Ok(DatabaseUrl::parse(&raw).map_err(StoreError::from)?)
}

fn config_dir(config: &Path) -> std::path::PathBuf {
    let absolute = std::path::absolute(config).unwrap_or_else(|_| config.to_path_buf());
    absolute
        .parent()
        .map_or_else(|| Path::new("/").to_path_buf(), Path::to_path_buf)
}

/// `database: URL` from a file that does not parse as a whole (a plain top-level line).
fn database_line(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix("database:")?.trim();
        let value = value.split(" #").next().unwrap_or(value).trim();
        let value = value.trim_matches(|c| c == '"' || c == '\'');
        (!value.is_empty()).then(|| value.to_owned())
    })
}

async fn connect(
    url: &DatabaseUrl,
    access: Access,
    config: rollout_core::config::Config,
) -> Result<Service, Error> {
    let store = connect_store(url, access).await?;
    Ok(Service::fixed(Arc::from(store), config))
}

async fn connect_store(url: &DatabaseUrl, access: Access) -> Result<Box<dyn store::Store>, Error> {
    if access != Access::Create {
        if let DatabaseUrl::Sqlite(s) = url {
            if let Some(path) = s.path() {
                if !path.exists() {
                    let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
                    return Err(StoreError::Missing(format!("sqlite://{}", shown.display())).into());
                }
            }
        }
    }
    let store = store::open_url(url)?;
    store.migrate().await?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_line_of_a_broken_file() {
        let text = "database: sqlite://r.db  # the store\ntick: x\nrollouts: [\n";
        assert_eq!(super::database_line(text).as_deref(), Some("sqlite://r.db"));
        assert_eq!(
            super::database_line("database: \"postgres://u@h/db\"\n").as_deref(),
            Some("postgres://u@h/db")
        );
        assert_eq!(super::database_line("rollouts: []\n"), None);
    }
}
