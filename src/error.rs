//! The library's error type and the process exit codes derived from it.

use crate::config::ConfigErrors;
use crate::controller::NotAllowed;
use crate::engine::ActionError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("{0}")]
    InvalidInput(String),
    #[error("no rollout named {0:?} in the configuration")]
    UnknownRollout(String),
    #[error(transparent)]
    NotAllowed(#[from] NotAllowed),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("another process holds the leadership lock; {0}")]
    NotLeader(String),
    #[error("{0}")]
    Input(#[from] crate::experiment::InputErrors),
    #[error("{0}")]
    ChecksFailed(String),
}

impl From<ActionError> for Error {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::NotAllowed(e) => Error::NotAllowed(e),
            ActionError::Store(e) => Error::Store(e),
        }
    }
}

/// Documented exit codes (README, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    Ok = 0,
    InvalidInput = 1,
    NotFound = 2,
    StoreUnavailable = 3,
    NotAllowed = 4,
    Conflict = 5,
    /// `rollout check`: a safety check failed or a guardrail is breached.
    ChecksFailed = 6,
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Config(_) | Error::InvalidInput(_) | Error::Input(_) => ExitCode::InvalidInput,
            Error::UnknownRollout(_) => ExitCode::NotFound,
            Error::NotAllowed(_) => ExitCode::NotAllowed,
            Error::NotLeader(_) => ExitCode::Conflict,
            Error::ChecksFailed(_) => ExitCode::ChecksFailed,
            Error::Store(StoreError::Conflict { .. } | StoreError::Fenced { .. }) => {
                ExitCode::Conflict
            }
            Error::Store(StoreError::BadUrl(_)) => ExitCode::InvalidInput,
            Error::Store(_) => ExitCode::StoreUnavailable,
        }
    }
}
