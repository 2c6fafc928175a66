//! rollout's pure core. No I/O: time comes in as an argument, data comes in as values.
//!
//! Layers, bottom up (a module uses only modules listed before it):
//! `stats`, `assignment`, `weights`, `timestamp` → `config` → `controller` (with `controller::flags`)
//! → `records` (with `series`, `preview`, `deliveries`) → `experiment`, `guardrails`, `learning` → `shadow` →
//! `report`, `status`. `database_url` (parsing
//! the store's URL) stands alone.
//!
//! Cargo features (default: `stats`, which is everything):
//! - none: only [`assignment`], the assignment rule, on `rand`, `rand_chacha`, `sha2` and
//!   `serde`. This is what `rollout-client` links, so that a trading service does not
//!   build the configuration parser, the state machine or the statistics.
//! - `model`: the configuration (`config`), the state machine (`controller`), `status`,
//!   `records`, `weights`, `guardrails` and `error`.
//! - `stats` (implies `model`): `stats` (statrs), `experiment` and `learning`.

pub mod assignment;
#[cfg(feature = "model")]
pub mod backup;
#[cfg(feature = "model")]
pub mod config;
#[cfg(feature = "model")]
pub mod controller;
pub mod database_url;
#[cfg(feature = "model")]
pub mod deliveries;
#[cfg(feature = "model")]
pub mod error;
#[cfg(feature = "stats")]
pub mod experiment;
#[cfg(feature = "model")]
pub mod guardrails;
#[cfg(feature = "stats")]
pub mod learning;
#[cfg(feature = "stats")]
pub mod plan;
#[cfg(feature = "model")]
pub mod preview;
#[cfg(feature = "model")]
pub mod records;
#[cfg(feature = "stats")]
pub mod report;
#[cfg(feature = "model")]
pub mod series;
#[cfg(feature = "stats")]
pub mod shadow;
#[cfg(feature = "stats")]
pub mod stats;
#[cfg(feature = "model")]
pub mod status;
#[cfg(feature = "model")]
pub mod timestamp;
#[cfg(feature = "model")]
pub mod weights;

pub use database_url::{resolve_against, BadUrl, DatabaseUrl};
#[cfg(feature = "model")]
pub use error::{Error, Result};
