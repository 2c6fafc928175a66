//! The integration tests: one binary, a module per capability.

mod support;

mod assignment;
mod cli;
mod config;
mod daemon;
mod experiment;
mod learning;
mod stats;
mod store;
mod walk;
