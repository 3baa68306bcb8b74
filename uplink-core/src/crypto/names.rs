//! Buckets whose object names are kept in clear, and how a client knows one when it
//! sees one.
//!
//! NFT collections and public datasets have names that are public anyway; in clear,
//! the satellite can list them exactly as S3 does (any prefix, any delimiter). Content
//! and metadata stay encrypted, and their keys still chain down the plaintext path, so
//! nothing else changes. What must not happen is a satellite switching a bucket to
//! clear names on its own, to learn the names of an encrypted one: the mode comes with
//! a tag that only a holder of the bucket's key can make, and a client sends a name in
//! clear only after checking it (or when its own grant says so, for a shared prefix).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{Key, derive};
pub use crate::protocol::metainfo::NameMode;

/// Length of a bucket's clear-names tag.
pub const TAG_LEN: usize = 32;

/// The tag stored with `bucket` when it is created with names in clear: a MAC under a
/// key derived from the bucket's key, over the bucket's name.
pub fn plain_names_tag(bucket_key: &Key, bucket: &str) -> [u8; TAG_LEN] {
    let mac_key = derive(bucket_key, b"plain-names-tag");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(mac_key.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(b"object names in clear\0");
    mac.update(bucket.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Whether `tag` was made by [`plain_names_tag`] for this bucket and key.
pub fn verify_plain_names_tag(bucket_key: &Key, bucket: &str, tag: &[u8]) -> bool {
    tag.len() == TAG_LEN && bool::from(plain_names_tag(bucket_key, bucket).ct_eq(tag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::path::bucket_key;

    #[test]
    fn a_tag_verifies_only_for_its_bucket_and_key() {
        let root = Key::random();
        let key = bucket_key(&root, "nft");
        let tag = plain_names_tag(&key, "nft");
        assert!(verify_plain_names_tag(&key, "nft", &tag));
        // Another bucket's tag, another project's key, a truncated or altered tag.
        assert!(!verify_plain_names_tag(
            &bucket_key(&root, "other"),
            "other",
            &tag
        ));
        assert!(!verify_plain_names_tag(
            &bucket_key(&Key::random(), "nft"),
            "nft",
            &tag
        ));
        assert!(!verify_plain_names_tag(&key, "nft", &tag[..31]));
        let mut altered = tag;
        altered[0] ^= 1;
        assert!(!verify_plain_names_tag(&key, "nft", &altered));
        assert!(!verify_plain_names_tag(&key, "nft", &[]));
    }
}
