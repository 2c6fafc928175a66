//! The application service: the store, the configuration in force and a clock. Each use
//! case is a method, defined in `usecases/` beside the data it returns; the CLI, the HTTP
//! API and the dashboard call these methods and only render what they return.

use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use rollout_core::config::{Config, Rollout};
use rollout_store::Store;

use crate::error::{Error, Result};

/// The configuration in force; the daemon swaps it on reload.
pub type SharedConfig = Arc<ArcSwap<Config>>;

/// Where use cases get the time from: the system clock in production, a fixed or stepped
/// one in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// One service per process (or per CLI command); cheap to clone.
#[derive(Clone)]
pub struct Service {
    store: Arc<dyn Store>,
    config: SharedConfig,
    clock: Arc<dyn Clock>,
}

impl Service {
    pub fn new(store: Arc<dyn Store>, config: SharedConfig, clock: Arc<dyn Clock>) -> Service {
        Service {
            store,
            config,
            clock,
        }
    }

    /// A service on the system clock with a configuration that never changes (the CLI).
    pub fn fixed(store: Arc<dyn Store>, config: Config) -> Service {
        Service::new(
            store,
            Arc::new(ArcSwap::from_pointee(config)),
            Arc::new(SystemClock),
        )
    }

    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    pub fn shared_store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The configuration in force now.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    pub fn shared_config(&self) -> &SharedConfig {
        &self.config
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The rollout named `name` in the configuration in force.
    pub fn rollout(&self, name: &str) -> Result<Rollout> {
        self.config()
            .rollout(name)
            .cloned()
            .ok_or_else(|| Error::UnknownRollout(name.to_owned()))
    }
}
