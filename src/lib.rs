//! rollout: drives the learning system's staged release by writing flags to SQL.
//!
//! This crate is the binary's wiring (the CLI, the daemon and the HTTP API) on top of the
//! workspace's layers: [`rollout_core`] (pure), [`rollout_store`] (persistence),
//! [`rollout_app`] (the use cases) and [`rollout_client`] (what trading services link).
//! See `ARCHITECTURE.md` for the map. The re-exports below keep one path per item for the
//! tests, benches and examples.

pub mod cli;
pub mod daemon;
pub mod error;
pub mod http;
pub mod judge;
pub mod parsed;
pub mod role;
pub mod schedule;
pub mod supervise;
pub mod telemetry;

pub use error::{Error, ExitCode};
pub use rollout_app::{
    compaction, engine, webhooks, Clock, Judge, Judgments, Service, SystemClock,
};
pub use rollout_client as client;
pub use rollout_core::controller::flags;
pub use rollout_core::{assignment, config, controller, plan, stats, status};
pub use rollout_store as store;

/// The A/B experiment: the core's pure analysis and the application layer's reads.
pub mod experiment {
    pub use rollout_app::experiment::{analyze, signals};
    pub use rollout_app::usecases::ingest::place as place_rows;
    pub use rollout_core::experiment::*;
}

/// Guardrails: the core's judgement and the application layer's measurements and checks.
pub mod guardrails {
    pub use rollout_app::guardrails::*;
    pub use rollout_core::guardrails::*;
}

/// The learning module: the core's pure analysis and the application layer's scheduled pass.
pub mod learning {
    pub use rollout_app::learning::{analyze, run, RunReport};
    pub use rollout_core::learning::*;
}

/// The shadow stage's measures, exit criteria and counterfactual, and the rollout report.
pub mod shadow {
    pub use rollout_app::shadow::{report as shadow_report, unmet};
    pub use rollout_core::report::*;
    pub use rollout_core::shadow::*;
}
