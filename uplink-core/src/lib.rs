//! The client side of the network, and everything the three parties share.
//!
//! - [`protocol`]: wire types, identities, signatures (shared with satellite and nodes).
//! - [`crypto`]: key derivation, object key and content encryption.
//! - [`erasure`]: the erasure codec and the stripe layout of segments.
//! - [`access`]: API keys (macaroons), caveats and access grants.
//! - [`client`]: the uplink library that stores and fetches objects.
//! - [`transport`]: TLS bound to identities, the one HTTP client of a process.
//! - [`background`]: the worker runtime of satellites and nodes.
//! - [`units`]: byte sizes as written on command lines.
//! - [`resources`]: CPU time and peak memory of this process, for reports.
//! - `fuzzing` (feature `fuzzing`): the harnesses behind the fuzz targets and their
//!   corpus replay.

pub mod access;
pub mod background;
pub mod client;
pub mod crypto;
pub mod erasure;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
#[cfg(feature = "gateway")]
pub mod gateway;
pub mod protocol;
pub mod resources;
pub mod transport;
pub mod units;
