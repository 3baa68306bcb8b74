//! Object key encryption that still lets the satellite list by prefix.
//!
//! A key is split on `/` and each component is encrypted under a key that chains down
//! the path (bucket, then each component before it). Encryption is deterministic
//! (SIV-style: the nonce is a MAC of the plaintext), so equal plaintext prefixes give
//! equal ciphertext prefixes and the satellite can answer "list `photos/2024/`" by
//! comparing ciphertext, without ever learning a name. The chain also means that
//! handing someone the key of `photos/` lets them decrypt names below it and nothing
//! beside or above it.

use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hmac::{Hmac, Mac};
use sha2::Sha512;
use subtle::ConstantTimeEq;

use super::{CryptoError, Key, derive};

const NONCE_SIZE: usize = 12;
const TAG_SIZE: usize = 16;

/// The key every object key in `bucket` chains from.
pub fn bucket_key(root: &Key, bucket: &str) -> Key {
    derive(root, format!("bucket:{bucket}").as_bytes())
}

/// The key that the components below `component` are encrypted with.
pub fn child_key(parent: &Key, component: &str) -> Key {
    derive(parent, format!("path:{component}").as_bytes())
}

fn component_nonce(parent: &Key, component: &str) -> [u8; NONCE_SIZE] {
    let nonce_key = derive(parent, b"path-nonce");
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(nonce_key.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(component.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut nonce = [0u8; NONCE_SIZE];
    nonce.copy_from_slice(&digest[..NONCE_SIZE]);
    nonce
}

fn component_cipher(parent: &Key) -> Aes256Gcm {
    let key = derive(parent, b"path-enc");
    Aes256Gcm::new(key.as_bytes().into())
}

/// Encrypts one path component (which must not contain `/`) under its parent's key.
/// The result is URL-safe base64 without padding, so it never contains `/`; even an
/// empty component encrypts to a non-empty string.
pub fn encrypt_component(parent: &Key, component: &str) -> String {
    let nonce = component_nonce(parent, component);
    let sealed = component_cipher(parent)
        .encrypt(Nonce::from_slice(&nonce), component.as_bytes())
        .expect("AES-GCM encrypts any name shorter than 64 GiB");
    let mut out = Vec::with_capacity(NONCE_SIZE + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    B64URL.encode(out)
}

/// Reverses [`encrypt_component`]; a wrong parent key or an altered name is refused.
pub fn decrypt_component(parent: &Key, enc: &str) -> Result<String, CryptoError> {
    let raw = B64URL
        .decode(enc.as_bytes())
        .map_err(|_| CryptoError::Malformed(format!("encrypted name {enc:?} is not base64url")))?;
    if raw.len() < NONCE_SIZE + TAG_SIZE {
        return Err(CryptoError::Malformed(format!(
            "encrypted name {enc:?} is too short"
        )));
    }
    let (nonce, sealed) = raw.split_at(NONCE_SIZE);
    let plain = component_cipher(parent)
        .decrypt(Nonce::from_slice(nonce), sealed)
        .map_err(|_| CryptoError::WrongKeyOrCorrupted)?;
    let component = String::from_utf8(plain)
        .map_err(|_| CryptoError::Malformed("decrypted name is not UTF-8".into()))?;
    // The nonce is a MAC of the plaintext: anything else was not made by encrypt_component,
    // and accepting it would let two ciphertexts name the same object.
    if !bool::from(component_nonce(parent, &component).ct_eq(nonce)) {
        return Err(CryptoError::WrongKeyOrCorrupted);
    }
    if component.contains('/') {
        return Err(CryptoError::Malformed(
            "decrypted name component contains '/'".into(),
        ));
    }
    Ok(component)
}

/// Encrypts every `/`-separated component of `path` along the key chain from `base`.
pub fn encrypt_path(base: &Key, path: &str) -> String {
    let mut running = base.clone();
    let mut out = String::with_capacity(path.len() * 2 + 40);
    for (i, component) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(&encrypt_component(&running, component));
        running = child_key(&running, component);
    }
    out
}

/// Reverses [`encrypt_path`].
pub fn decrypt_path(base: &Key, encrypted: &str) -> Result<String, CryptoError> {
    let mut running = base.clone();
    let mut out = String::with_capacity(encrypted.len() / 2);
    for (i, enc) in encrypted.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let component = decrypt_component(&running, enc)?;
        running = child_key(&running, &component);
        out.push_str(&component);
    }
    Ok(out)
}

/// The key at the end of the chain for `path`: what object content and metadata keys
/// are derived from.
pub fn path_key(base: &Key, path: &str) -> Key {
    path.split('/').fold(base.clone(), |running, component| {
        child_key(&running, component)
    })
}

/// Encrypts a listing prefix (`""` or ending in `/`) and returns it together with the
/// key of the chain after its last component. The result is `""` or ends in `/`, and is
/// a prefix of the encryption of every key under `prefix`.
pub fn encrypt_prefix(base: &Key, prefix: &str) -> Result<(String, Key), CryptoError> {
    let Some(inner) = prefix_components(prefix)? else {
        return Ok((String::new(), base.clone()));
    };
    let mut running = base.clone();
    let mut out = String::with_capacity(prefix.len() * 2 + 40);
    for component in inner.split('/') {
        out.push_str(&encrypt_component(&running, component));
        out.push('/');
        running = child_key(&running, component);
    }
    Ok((out, running))
}

/// Reverses [`encrypt_prefix`] (without the key).
pub fn decrypt_prefix(base: &Key, encrypted: &str) -> Result<String, CryptoError> {
    let Some(inner) = prefix_components(encrypted)? else {
        return Ok(String::new());
    };
    let mut plain = decrypt_path(base, inner)?;
    plain.push('/');
    Ok(plain)
}

/// `""` -> `None`; `"a/b/"` -> `Some("a/b")`; anything not ending in `/` is refused.
fn prefix_components(prefix: &str) -> Result<Option<&str>, CryptoError> {
    if prefix.is_empty() {
        return Ok(None);
    }
    prefix
        .strip_suffix('/')
        .map(Some)
        .ok_or_else(|| CryptoError::InvalidPrefix(prefix.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_round_trip_is_deterministic_and_slash_free() {
        let parent = Key::random();
        for name in ["", "a", "photos", "ünïcødé name.jpg", &"x".repeat(1000)] {
            let enc = encrypt_component(&parent, name);
            assert_eq!(enc, encrypt_component(&parent, name));
            assert!(!enc.contains('/') && !enc.contains('=') && !enc.is_empty());
            assert_eq!(decrypt_component(&parent, &enc).unwrap(), name);
        }
        assert_ne!(
            encrypt_component(&parent, "a"),
            encrypt_component(&Key::random(), "a")
        );
    }

    #[test]
    fn component_wrong_key_and_tampering_are_refused() {
        let parent = Key::random();
        let enc = encrypt_component(&parent, "secret-name");
        assert_eq!(
            decrypt_component(&Key::random(), &enc),
            Err(CryptoError::WrongKeyOrCorrupted)
        );
        let mut raw = B64URL.decode(&enc).unwrap();
        for i in [0, NONCE_SIZE, raw.len() - 1] {
            raw[i] ^= 1;
            let forged = B64URL.encode(&raw);
            assert!(decrypt_component(&parent, &forged).is_err(), "byte {i}");
            raw[i] ^= 1;
        }
        assert!(matches!(
            decrypt_component(&parent, "short"),
            Err(CryptoError::Malformed(_))
        ));
        assert!(matches!(
            decrypt_component(&parent, "not/base64!"),
            Err(CryptoError::Malformed(_))
        ));
    }

    #[test]
    fn path_round_trip_with_empty_components() {
        let base = Key::random();
        for path in ["a", "a/b/c", "a//b", "dir/", "/lead", "", "//"] {
            let enc = encrypt_path(&base, path);
            assert_eq!(
                enc.matches('/').count(),
                path.matches('/').count(),
                "{path}"
            );
            assert_eq!(decrypt_path(&base, &enc).unwrap(), path);
        }
    }

    #[test]
    fn equal_plaintext_prefixes_give_equal_ciphertext_prefixes() {
        let base = Key::random();
        let a = encrypt_path(&base, "photos/2024/a.jpg");
        let b = encrypt_path(&base, "photos/2024/b.jpg");
        let c = encrypt_path(&base, "photos/2023/a.jpg");
        let (prefix, _) = encrypt_prefix(&base, "photos/2024/").unwrap();
        assert!(a.starts_with(&prefix) && b.starts_with(&prefix));
        assert!(!c.starts_with(&prefix));
        assert_eq!(prefix.matches('/').count(), 2);
        // The last component differs, so a delimiter listing sees two distinct names.
        assert_ne!(a.rsplit('/').next(), b.rsplit('/').next());
    }

    #[test]
    fn keys_chain_down_the_path() {
        let root = Key::random();
        let base = bucket_key(&root, "b");
        assert_ne!(base, bucket_key(&root, "c"));
        let (enc_prefix, prefix_key) = encrypt_prefix(&base, "a/b/").unwrap();
        assert_eq!(prefix_key, path_key(&base, "a/b"));
        assert_eq!(prefix_key, child_key(&child_key(&base, "a"), "b"));
        // Continuing from the prefix key gives the same names as starting at the bucket.
        let full = encrypt_path(&base, "a/b/c/d");
        assert_eq!(
            full,
            format!("{enc_prefix}{}", encrypt_path(&prefix_key, "c/d"))
        );
        assert_eq!(
            decrypt_path(&prefix_key, &full[enc_prefix.len()..]).unwrap(),
            "c/d"
        );
        assert_eq!(decrypt_prefix(&base, &enc_prefix).unwrap(), "a/b/");
        assert_eq!(
            encrypt_prefix(&base, "").unwrap(),
            (String::new(), base.clone())
        );
        assert_eq!(
            encrypt_prefix(&base, "a/b"),
            Err(CryptoError::InvalidPrefix("a/b".into()))
        );
        // A path key is not its parent's: the chain only goes down.
        assert_ne!(path_key(&base, "a"), path_key(&base, "a/"));
    }

    #[test]
    fn wrong_key_cannot_decrypt_a_path() {
        let base = Key::random();
        let enc = encrypt_path(&base, "a/b");
        assert_eq!(
            decrypt_path(&Key::random(), &enc),
            Err(CryptoError::WrongKeyOrCorrupted)
        );
        // Swapping components breaks the chain.
        let parts: Vec<&str> = enc.split('/').collect();
        let swapped = format!("{}/{}", parts[1], parts[0]);
        assert!(decrypt_path(&base, &swapped).is_err());
    }
}
