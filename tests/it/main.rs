//! The integration tests: one binary, a module per capability.

mod support;

mod assignment;
mod cli;
mod client;
mod config;
mod daemon;
mod dashboard;
mod experiment;
mod guardrails;
mod ha;
mod http;
mod learning;
mod learning_api;
mod oncall;
mod stats;
mod status;
mod store;
mod upgrade;
mod walk;
mod webhooks;
