//! Erasure coding of segments: what turns one encrypted segment into `total` pieces of
//! which any `k` suffice, and back.
//!
//! - [`codec`]: the erasure code behind a small trait, cached per scheme.
//! - [`rebuild`]: lost pieces from any `k` others, without any key (repair).
//! - [`segment`]: the encrypt-then-code pipeline in the stripe layout of
//!   [`crate::protocol::redundancy`].

pub mod codec;
mod error;
pub mod rebuild;
pub mod segment;

pub use codec::{ErasureCodec, ReedSolomonCodec, codec_for};
pub use error::ErasureError;
pub use rebuild::rebuild_pieces;
pub use segment::{SegmentDecoder, SegmentEncoder};
