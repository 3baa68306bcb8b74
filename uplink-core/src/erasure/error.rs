//! One error type for coding and decoding segments, distinguishing what a caller can act
//! on: too few pieces (fetch more), corruption (distrust a node), or a caller's mistake.

/// Why a segment could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErasureError {
    #[error(
        "too few pieces to decode: {present} of the {needed} needed are available ({total} in the scheme)"
    )]
    TooFewShards {
        present: usize,
        needed: usize,
        total: usize,
    },
    #[error("size mismatch: {0}")]
    SizeMismatch(String),
    /// A stripe decoded to a block that does not authenticate: some piece used for it
    /// holds wrong bytes (or the segment key is wrong). Never returned as plaintext.
    #[error("stripe {stripe} is corrupted: its encryption block does not authenticate")]
    Corrupted { stripe: u64 },
    #[error("erasure codec: {0}")]
    Codec(String),
    #[error("invalid redundancy scheme: {0}")]
    InvalidScheme(String),
}
