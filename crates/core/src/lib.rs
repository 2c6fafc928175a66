//! rollout's pure core. No I/O: time comes in as an argument, data comes in as values.
//!
//! Layers, bottom up (a module uses only modules listed before it):
//! `stats`, `assignment`, `weights` → `config` → `controller` (with `controller::flags`)
//! → `records` → `experiment`, `guardrails`, `learning` → `status`. `database_url` (parsing
//! the store's URL) stands alone.

pub mod assignment;
pub mod config;
pub mod controller;
pub mod database_url;
pub mod error;
pub mod experiment;
pub mod guardrails;
pub mod learning;
pub mod records;
pub mod stats;
pub mod status;
pub mod weights;

pub use database_url::{BadUrl, DatabaseUrl};
pub use error::{Error, Result};
