//! The core's error type: what a pure function refuses.

/// A domain rule that an input breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The rollout has no `analysis:` block, so it has no learning module.
    #[error("rollout {0} has no `analysis:` block in the configuration")]
    NoAnalysis(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
