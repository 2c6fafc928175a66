//! The integration tests: one binary, a module per capability.

mod support;

mod assignment;
mod cli;
mod config;
mod daemon;
mod experiment;
mod client;
mod guardrails;
mod http;
mod ha;
mod stats;
mod store;
mod walk;
mod webhooks;
