//! `rollout.yaml`: its model, parsing and validation.

pub mod analysis;
pub mod cron;
mod diagnostic;
mod diff;
pub mod domain;
mod flag_names;
mod guardrails;
mod load;
mod model;
mod names;
mod raw;
pub mod shadow;
mod spans;

pub use analysis::AnalysisConfig;
pub use diagnostic::{ConfigErrors, Diagnostic, Severity};
pub use diff::changes;
pub use flag_names::{OVERRIDABLE_ON_ROLLBACK, STANDARD_SUFFIXES};
pub use guardrails::*;
pub use load::{flag_strings, load_file, parse, Loaded, MAX_BYTES};
pub use model::*;
pub use shadow::{ShadowRequire, ShadowSettings};
pub use spans::Location;
