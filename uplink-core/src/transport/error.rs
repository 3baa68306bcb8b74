//! Errors of the transport layer.

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("invalid peer address {address:?}: {reason}")]
    Address { address: String, reason: String },
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("TLS setup: {0}")]
    Setup(String),
}
