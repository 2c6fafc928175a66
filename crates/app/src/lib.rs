//! rollout's application layer: the use cases the CLI, the HTTP API and the dashboard share.
//! It runs the pure core against a store; time comes in as an argument or from the injected
//! clock, never from `Utc::now()` inside a use case.

pub mod backup;
pub mod compaction;
pub mod engine;
pub mod error;
pub mod experiment;
pub mod guardrails;
pub mod judgments;
pub mod learning;
pub mod service;
pub mod shadow;
pub mod timeline;
pub mod usecases;
pub mod webhooks;

pub use error::{Error, Result};
pub use judgments::Judgments;
pub use service::{Clock, Service, SharedConfig, SystemClock};
pub use usecases::ingest::Judge;
