//! One error type for API keys and grants, split the way a server answers: malformed
//! input (400), a valid key asking for more than it may (403), a key that is not ours or
//! was tampered with (401).

use crate::crypto::CryptoError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("{0}")]
    Malformed(String),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    #[error("invalid API key")]
    InvalidKey,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}
