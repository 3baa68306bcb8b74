//! Client-side encryption: the satellite and the nodes only ever see ciphertext.
//!
//! Every key descends from one root key (random, or from a passphrase) through
//! [`derive`], so a grant can carry just the branch of the tree it is allowed to use.
//! - [`path`]: object keys, encrypted per component so listing still works on ciphertext.
//! - [`store`]: the keys a grant holds and which one applies to a name.
//! - [`content`]: segment blocks and the small sealed values stored with objects.
//! - [`passphrase`]: root keys from passphrases.
//! - [`names`]: buckets whose object names are kept in clear.

pub mod content;
mod error;
mod key;
pub mod names;
pub mod passphrase;
pub mod path;
pub mod store;

pub use content::BlockCipher;
pub use error::CryptoError;
pub use key::{KEY_SIZE, Key, derive};
pub use store::{EncryptionStore, StoreEntry};
