//! Errors of fault injection: a bad plan or fault setting, a node that is not there.

/// What went wrong while reading or applying faults.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// A setting with a bad value; `field` is its path, e.g. `nodes.3.slow.bandwidth`.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("no node {0} in this network")]
    UnknownNode(usize),
    #[error(
        "node {0} has no network link (the network was started without links), so it \
         cannot be made offline or slow"
    )]
    NoLink(usize),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}
