//! The application layer's error: what a use case can fail with. Front ends map it to exit
//! codes (CLI) and statuses (HTTP) in one place each.

use rollout_core::config::ConfigErrors;
use rollout_core::controller::NotAllowed;
use rollout_core::experiment::InputErrors;
use rollout_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("{0}")]
    InvalidInput(String),
    #[error("no rollout named {0:?} in the configuration")]
    UnknownRollout(String),
    /// Something asked for does not exist (other than a rollout).
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    NotAllowed(#[from] NotAllowed),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("another process holds the leadership lock; {0}")]
    NotLeader(String),
    #[error("{0}")]
    Input(#[from] InputErrors),
    #[error("{0}")]
    ChecksFailed(String),
    #[error(transparent)]
    Domain(#[from] rollout_core::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::engine::ActionError> for Error {
    fn from(e: crate::engine::ActionError) -> Self {
        match e {
            crate::engine::ActionError::NotAllowed(e) => Error::NotAllowed(e),
            crate::engine::ActionError::Store(e) => Error::Store(e),
        }
    }
}
