//! Why a live operation failed, with the API error code of each case; runtime
//! failures keep their cause and their code.

use isolab_shared::ErrorCode;

use crate::runtime::RuntimeError;

/// Why a live operation failed; each maps to one API error code.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("live containers are off: {0}")]
    Unavailable(String),
    #[error("no exec session '{0}' in this container")]
    ExecNotFound(String),
    #[error("too many containers: this server allows {0} at once")]
    TooManyOnServer(usize),
    #[error("too many containers: each token may have {0} at once")]
    TooManyForToken(usize),
    #[error(
        "container '{0}' has no terminal (adopted after a restart: only containers with a tty get theirs back)"
    )]
    NoTerminal(String),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

impl LiveError {
    /// The API error code of this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            LiveError::Unavailable(_) => ErrorCode::LiveUnavailable,
            LiveError::ExecNotFound(_) => ErrorCode::NotFound,
            LiveError::TooManyOnServer(_) | LiveError::TooManyForToken(_) => {
                ErrorCode::TooManyContainers
            }
            LiveError::NoTerminal(_) => ErrorCode::Conflict,
            LiveError::Runtime(e) => e.code(),
        }
    }
}
