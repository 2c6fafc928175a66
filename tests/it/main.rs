//! The integration tests: one binary, a module per capability.

mod support;

mod assign_cli;
mod assignment;
mod cli;
mod client;
mod config;
mod daemon;
mod dashboard;
mod experiment;
mod failover;
mod guardrails;
mod ha;
mod hardening;
mod http;
mod http_bounds;
mod judge;
mod learning;
mod learning_api;
mod learning_once;
mod oncall;
mod ops;
mod panels;
mod proxy;
mod scale;
mod shadow;
mod stats;
mod status;
mod store;
mod units;
mod upgrade;
mod walk;
mod webhooks;
