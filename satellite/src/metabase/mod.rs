//! The metabase: the one module that reads and writes segments and their piece sets.
//!
//! Metainfo handlers, the segment loop, repair, audit and garbage collection all go
//! through it, so that two rules hold everywhere: a segment whose piece set cannot be
//! decoded is an error, never an empty set (garbage collection built on a silent
//! default would delete live pieces), and a piece set changes only by compare-and-swap
//! against the version that was read (a repair racing an overwrite or a delete loses,
//! and its new pieces become garbage).

mod error;
mod pieces;
pub mod segments;

pub use error::MetabaseError;
pub use pieces::{Piece, PieceSet};
pub use segments::{RemoteSegment, Segment, SegmentData, SegmentKey};
