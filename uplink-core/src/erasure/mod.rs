//! Erasure coding of segments: what turns one encrypted segment into `total` pieces of
//! which any `k` suffice, and back.
//!
//! - [`codec`]: the erasure code behind a small trait, cached per scheme.
//! - [`segment`]: the encrypt-then-code pipeline in the stripe layout of
//!   [`crate::protocol::redundancy`].

pub mod codec;
mod error;
pub mod segment;

pub use codec::{ErasureCodec, ReedSolomonCodec, codec_for};
pub use error::ErasureError;
pub use segment::{SegmentDecoder, SegmentEncoder};
