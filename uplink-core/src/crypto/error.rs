//! One error type for everything under `crypto`, so that callers can tell a wrong key
//! (the usual mistake) from a malformed name or a missing key without reading messages.

/// Why an encryption or decryption step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// AES-GCM refused the tag: the key is not the one the data was sealed with, or the
    /// ciphertext was altered.
    #[error("wrong encryption key or corrupted data")]
    WrongKeyOrCorrupted,
    /// An encrypted name, nonce or sealed value does not have the expected shape.
    #[error("malformed ciphertext: {0}")]
    Malformed(String),
    /// The store holds no key that covers this path (a restricted grant used outside
    /// what it was shared for).
    #[error(
        "no encryption key for {path:?} in bucket {bucket:?}: the access grant does not cover it"
    )]
    NoKeyForPath { bucket: String, path: String },
    /// A prefix must name whole components.
    #[error("prefix {0:?} must be empty or end with '/'")]
    InvalidPrefix(String),
    #[error("the passphrase must not be empty")]
    EmptyPassphrase,
    /// Argon2 refused its inputs (for example a salt shorter than 8 bytes).
    #[error("cannot derive a key from the passphrase: {0}")]
    KeyDerivation(String),
}
