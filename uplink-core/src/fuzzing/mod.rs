//! The bodies of the fuzz targets in `fuzz/`, kept here so that the corpus replay test
//! in the workspace runs exactly what the fuzzers ran.
//!
//! Each harness takes arbitrary bytes, feeds them to a parser that faces the network or
//! a pasted string, and asserts what must hold of whatever the parser accepts: it
//! re-encodes to something that parses back to the same value, and a signature or MAC
//! made with one of the fixed keys in [`fixtures`] verifies only on the exact value that
//! was signed. Returning without a panic is the pass condition; a panic is a finding.
//!
//! Harnesses must be deterministic (no clock, no randomness), or a crash would not
//! reproduce from its input.

mod access;
mod bodies;
mod console;
pub mod fixtures;
mod frames;
mod input;
mod order;
mod seeds;

pub use access::{access_grant, api_key, api_key_tamper, caveat};
pub use bodies::{checkin, console_bodies, metainfo_bodies};
pub use frames::piece_frames;
pub use order::order_limit;
pub use seeds::seeds;

/// A harness: arbitrary bytes in, a panic on a finding.
pub type Harness = fn(&[u8]);

/// Every fuzz target by name; `fuzz/fuzz_targets/<name>.rs` calls the function and
/// `fuzz/corpus/<name>/` holds its corpus.
pub const TARGETS: &[(&str, Harness)] = &[
    ("access_grant", access_grant),
    ("api_key", api_key),
    ("api_key_tamper", api_key_tamper),
    ("caveat", caveat),
    ("order_limit", order_limit),
    ("piece_frames", piece_frames),
    ("metainfo_bodies", metainfo_bodies),
    ("console_bodies", console_bodies),
    ("checkin", checkin),
];

/// The harness of the target called `name`.
pub fn harness(name: &str) -> Option<Harness> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, h)| *h)
}
