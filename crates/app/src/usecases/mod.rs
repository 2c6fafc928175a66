//! One module per group of use cases; each adds methods to [`crate::Service`].

pub mod act;
pub mod dashboard;
pub mod experiment;
pub mod export;
pub mod ingest;
pub mod learning;
pub mod panels;
pub mod plan;
pub mod report;
pub mod status;
pub mod tick;
