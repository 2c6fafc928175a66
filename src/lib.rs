//! rollout: drives the learning system's staged release by writing flags to SQL.
//!
//! See `ARCHITECTURE.md` for the map. The controller core ([`controller`]) is pure; the
//! [`store`], [`engine`], [`daemon`] and [`cli`] are adapters around it.

pub mod assignment;
pub mod cli;
pub mod client;
pub mod config;
pub mod controller;
pub mod daemon;
pub mod engine;
pub mod error;
pub mod experiment;
pub mod flags;
pub mod guardrails;
pub mod http;
pub mod learning;
pub mod stats;
pub mod status;
pub mod store;
pub mod webhooks;

pub use error::{Error, ExitCode};
