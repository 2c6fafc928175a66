//! The binary's error type and the process exit codes derived from it, in one place.

use rollout_app::engine::ActionError;
use rollout_store::StoreError;

pub use rollout_app::Error as AppError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A use case failed: bad input, a rule, the store.
    #[error(transparent)]
    App(#[from] AppError),
    /// The process itself could not run: an address it cannot bind, the scheduler, a signal
    /// handler. Not the user's input.
    #[error("{0}")]
    Runtime(String),
}

impl Error {
    pub fn invalid_input(msg: impl Into<String>) -> Error {
        Error::App(AppError::InvalidInput(msg.into()))
    }
}

macro_rules! via_app {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::App(e.into())
            }
        }
    )*};
}
via_app!(
    StoreError,
    rollout_core::config::ConfigErrors,
    rollout_core::controller::NotAllowed,
    rollout_core::experiment::InputErrors,
    rollout_core::Error
);

impl From<ActionError> for Error {
    fn from(e: ActionError) -> Self {
        Error::App(e.into())
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
    /// The process could not run (cannot bind its HTTP address, start its scheduler, ...).
    Runtime = 7,
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        let app = match self {
            Error::Runtime(_) => return ExitCode::Runtime,
            Error::App(e) => e,
        };
        match app {
            AppError::Config(_)
            | AppError::InvalidInput(_)
            | AppError::Input(_)
            | AppError::Domain(_) => ExitCode::InvalidInput,
            AppError::UnknownRollout(_) | AppError::NotFound(_) => ExitCode::NotFound,
            AppError::NotAllowed(_) => ExitCode::NotAllowed,
            AppError::NotLeader(_) => ExitCode::Conflict,
            AppError::ChecksFailed(_) => ExitCode::ChecksFailed,
            AppError::Store(StoreError::Conflict { .. } | StoreError::Fenced { .. }) => {
                ExitCode::Conflict
            }
            AppError::Store(StoreError::BadUrl(_) | StoreError::Invalid(_)) => {
                ExitCode::InvalidInput
            }
            AppError::Store(StoreError::Refused(_)) => ExitCode::NotAllowed,
            AppError::Store(_) => ExitCode::StoreUnavailable,
        }
    }
}

/// The binary's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
