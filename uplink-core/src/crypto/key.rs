//! The 32-byte secret every other key is derived from, and the one derivation function.
//!
//! All keys in the system (root, bucket, path, content, metadata) are one type so that
//! the rules for handling secrets live in one place: they never print, they compare in
//! constant time, and their memory is wiped when dropped.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha512;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// Bytes in a [`Key`].
pub const KEY_SIZE: usize = 32;

/// A 32-byte secret key.
#[derive(Clone)]
pub struct Key([u8; KEY_SIZE]);

impl Key {
    /// A fresh key from the operating system's CSPRNG.
    pub fn random() -> Self {
        let mut bytes = [0u8; KEY_SIZE];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Key(bytes)
    }

    pub fn from_bytes(bytes: [u8; KEY_SIZE]) -> Self {
        Key(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; KEY_SIZE] {
        &self.0
    }
}

/// `HMAC-SHA512(key, label)` truncated to 32 bytes.
///
/// Labels are distinct per purpose (`"bucket:" + name`, `"path:" + component`,
/// `"content"`, ...), so a key derived for one purpose says nothing about another, and
/// knowing a child key reveals nothing about its parent.
pub fn derive(key: &Key, label: &[u8]) -> Key {
    let mut mac =
        <Hmac<Sha512> as Mac>::new_from_slice(&key.0).expect("HMAC accepts keys of any length");
    mac.update(label);
    let digest = mac.finalize().into_bytes();
    let mut out = [0u8; KEY_SIZE];
    out.copy_from_slice(&digest[..KEY_SIZE]);
    Key(out)
}

impl Drop for Key {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Key {}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&B64.encode(self.0))
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a {KEY_SIZE}-byte key (base64 in text formats)")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key, E> {
                let mut bytes = B64
                    .decode(v.as_bytes())
                    .map_err(|e| E::custom(format!("key is not base64: {e}")))?;
                let key = self.visit_bytes(&bytes);
                bytes.zeroize();
                key
            }

            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Key, E> {
                let arr: [u8; KEY_SIZE] = v.try_into().map_err(|_| {
                    E::custom(format!("key must be {KEY_SIZE} bytes, got {}", v.len()))
                })?;
                Ok(Key(arr))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Key, A::Error> {
                let mut arr = [0u8; KEY_SIZE];
                for (i, slot) in arr.iter_mut().enumerate() {
                    *slot = seq
                        .next_element()?
                        .ok_or_else(|| serde::de::Error::invalid_length(i, &self))?;
                }
                if seq.next_element::<u8>()?.is_some() {
                    return Err(serde::de::Error::custom(format!(
                        "key must be {KEY_SIZE} bytes"
                    )));
                }
                Ok(Key(arr))
            }
        }

        if d.is_human_readable() {
            d.deserialize_str(KeyVisitor)
        } else {
            d.deserialize_bytes(KeyVisitor)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let key = Key::from_bytes([0xab; 32]);
        let shown = format!("{key:?} {:?}", vec![key.clone()]);
        assert!(!shown.to_lowercase().contains("ab"), "{shown}");
        assert_eq!(format!("{key:?}"), "Key(..)");
    }

    #[test]
    fn derive_is_deterministic_and_label_separated() {
        let key = Key::random();
        assert_eq!(derive(&key, b"content"), derive(&key, b"content"));
        assert_ne!(derive(&key, b"content"), derive(&key, b"metadata"));
        assert_ne!(derive(&key, b"content"), derive(&Key::random(), b"content"));
        assert_ne!(&derive(&key, b"content"), &key);
    }

    #[test]
    fn derive_matches_hmac_sha512_prefix() {
        let key = Key::from_bytes([7; 32]);
        let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(&[7; 32]).unwrap();
        mac.update(b"label");
        let full = mac.finalize().into_bytes();
        assert_eq!(derive(&key, b"label").as_bytes()[..], full[..32]);
    }

    #[test]
    fn serde_text_and_binary() {
        let key = Key::random();
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(json, format!("\"{}\"", B64.encode(key.as_bytes())));
        assert_eq!(serde_json::from_str::<Key>(&json).unwrap(), key);
        let bin = postcard::to_allocvec(&key).unwrap();
        assert_eq!(bin.len(), 33);
        assert_eq!(postcard::from_bytes::<Key>(&bin).unwrap(), key);
        assert!(serde_json::from_str::<Key>("\"AAAA\"").is_err());
        assert!(serde_json::from_str::<Key>("\"not base64!\"").is_err());
    }
}
