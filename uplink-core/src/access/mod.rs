//! Who may do what: API keys (macaroons), the caveats that narrow them, and access
//! grants that bundle a key with the encryption keys it may use.
//!
//! - [`caveat`]: restrictions and their evaluation against a request.
//! - [`apikey`]: macaroon keys, offline restriction, and verification.
//! - [`grant`]: the shareable grant string and its restriction.

pub mod apikey;
pub mod caveat;
mod error;
pub mod grant;

pub use apikey::ApiKey;
pub use caveat::{Action, Caveat, CaveatPath, Operation};
pub use error::AccessError;
pub use grant::AccessGrant;
