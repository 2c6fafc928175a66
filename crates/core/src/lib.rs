//! rollout's pure core. No I/O: time comes in as an argument, data comes in as values.
//!
//! Layers, bottom up (a module uses only modules listed before it):
//! `stats`, `assignment`, `weights`, `timestamp` → `config` → `controller` (with `controller::flags`)
//! → `records` → `experiment`, `guardrails`, `learning` → `status`.

pub mod assignment;
pub mod config;
pub mod controller;
pub mod error;
pub mod experiment;
pub mod guardrails;
pub mod learning;
pub mod plan;
pub mod records;
pub mod stats;
pub mod status;
pub mod timestamp;
pub mod weights;

pub use error::{Error, Result};
