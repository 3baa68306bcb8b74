//! The set of keys an access grant carries, and the rule for picking one.
//!
//! A full grant holds the root key and can derive any bucket. A restricted grant holds
//! only the keys at the ends of the prefixes it was shared for; because keys only chain
//! downwards, those keys decrypt names below their prefixes and nothing else. Each entry
//! also remembers its prefix in encrypted form, so that names coming back from the
//! satellite (ciphertext) can be matched to the entry that decrypts them.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::path::{self, bucket_key};
use super::{CryptoError, Key};

/// The key for one bucket and plaintext prefix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreEntry {
    pub bucket: String,
    /// Plaintext prefix: `""` (the whole bucket) or ending in `/`.
    pub prefix: String,
    /// The same prefix encrypted: `""` or ending in `/`.
    pub encrypted_prefix: String,
    /// The path key after the prefix's components (the bucket key for prefix `""`).
    pub key: Key,
}

/// What a grant may decrypt.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionStore {
    /// The root key: derives every bucket. `None` in restricted grants.
    pub default_key: Option<Key>,
    pub entries: Vec<StoreEntry>,
}

/// Where a name's key chain starts: the part of the name an entry already covers (in
/// plaintext and ciphertext) and the key after it.
struct Start<'a> {
    plain: &'a str,
    encrypted: &'a str,
    key: Cow<'a, Key>,
}

/// Whether `prefix` (`""` or ending in `/`) covers `name` on component boundaries.
/// A prefix that does not end in `/` covers nothing: it could only have come from a
/// tampered store, and matching it byte-wise would cut a component in half.
fn covers(prefix: &str, name: &str) -> bool {
    prefix.is_empty() || (prefix.ends_with('/') && name.starts_with(prefix))
}

fn check_prefix(prefix: &str) -> Result<(), CryptoError> {
    if prefix.is_empty() || prefix.ends_with('/') {
        Ok(())
    } else {
        Err(CryptoError::InvalidPrefix(prefix.to_string()))
    }
}

impl EncryptionStore {
    /// A store that can encrypt everything in the project.
    pub fn with_root(root: Key) -> Self {
        Self {
            default_key: Some(root),
            entries: Vec::new(),
        }
    }

    fn start<'a>(
        &'a self,
        bucket: &str,
        name: &str,
        prefix_of: impl Fn(&'a StoreEntry) -> &'a str,
    ) -> Option<Start<'a>> {
        let best = self
            .entries
            .iter()
            .filter(|e| e.bucket == bucket && covers(prefix_of(e), name))
            .max_by_key(|e| prefix_of(e).len());
        if let Some(e) = best {
            return Some(Start {
                plain: &e.prefix,
                encrypted: &e.encrypted_prefix,
                key: Cow::Borrowed(&e.key),
            });
        }
        self.default_key.as_ref().map(|root| Start {
            plain: "",
            encrypted: "",
            key: Cow::Owned(bucket_key(root, bucket)),
        })
    }

    fn start_plain(&self, bucket: &str, name: &str) -> Result<Start<'_>, CryptoError> {
        self.start(bucket, name, |e| &e.prefix)
            .ok_or_else(|| CryptoError::NoKeyForPath {
                bucket: bucket.to_string(),
                path: name.to_string(),
            })
    }

    fn start_encrypted(&self, bucket: &str, encrypted: &str) -> Result<Start<'_>, CryptoError> {
        self.start(bucket, encrypted, |e| &e.encrypted_prefix)
            .ok_or_else(|| CryptoError::NoKeyForPath {
                bucket: bucket.to_string(),
                path: encrypted.to_string(),
            })
    }

    /// Encrypts an object key, using the most specific key that covers it.
    pub fn encrypt_key(&self, bucket: &str, key: &str) -> Result<String, CryptoError> {
        let start = self.start_plain(bucket, key)?;
        let rest = path::encrypt_path(&start.key, &key[start.plain.len()..]);
        Ok(format!("{}{rest}", start.encrypted))
    }

    /// Decrypts an object key as the satellite returns it.
    pub fn decrypt_key(&self, bucket: &str, encrypted_key: &str) -> Result<String, CryptoError> {
        let start = self.start_encrypted(bucket, encrypted_key)?;
        let rest = path::decrypt_path(&start.key, &encrypted_key[start.encrypted.len()..])?;
        Ok(format!("{}{rest}", start.plain))
    }

    /// Encrypts a listing prefix (`""` or ending in `/`; so is the result).
    pub fn encrypt_prefix(&self, bucket: &str, prefix: &str) -> Result<String, CryptoError> {
        check_prefix(prefix)?;
        let start = self.start_plain(bucket, prefix)?;
        let (rest, _) = path::encrypt_prefix(&start.key, &prefix[start.plain.len()..])?;
        Ok(format!("{}{rest}", start.encrypted))
    }

    /// Reverses [`EncryptionStore::encrypt_prefix`].
    pub fn decrypt_prefix(&self, bucket: &str, encrypted: &str) -> Result<String, CryptoError> {
        check_prefix(encrypted)?;
        let start = self.start_encrypted(bucket, encrypted)?;
        let rest = path::decrypt_prefix(&start.key, &encrypted[start.encrypted.len()..])?;
        Ok(format!("{}{rest}", start.plain))
    }

    /// The path key of an object: content and metadata keys are derived from it.
    pub fn object_key(&self, bucket: &str, key: &str) -> Result<Key, CryptoError> {
        let start = self.start_plain(bucket, key)?;
        Ok(path::path_key(&start.key, &key[start.plain.len()..]))
    }

    /// The entry that gives exactly `bucket`/`prefix` (`""` = the whole bucket).
    fn entry_for(&self, bucket: &str, prefix: &str) -> Result<StoreEntry, CryptoError> {
        check_prefix(prefix)?;
        let start = self.start_plain(bucket, prefix)?;
        let (rest, key) = path::encrypt_prefix(&start.key, &prefix[start.plain.len()..])?;
        Ok(StoreEntry {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            encrypted_prefix: format!("{}{rest}", start.encrypted),
            key,
        })
    }

    /// A store that can decrypt only under `bucket`/`prefix` (`""` = the whole bucket).
    /// Refused if this store cannot reach that prefix itself, so restriction never widens.
    pub fn restrict(&self, bucket: &str, prefix: &str) -> Result<EncryptionStore, CryptoError> {
        self.restrict_many(&[(bucket.to_string(), prefix.to_string())])
    }

    /// Like [`EncryptionStore::restrict`], for the union of several bucket/prefix pairs.
    pub fn restrict_many(
        &self,
        paths: &[(String, String)],
    ) -> Result<EncryptionStore, CryptoError> {
        let mut entries: Vec<StoreEntry> = Vec::with_capacity(paths.len());
        for (bucket, prefix) in paths {
            let entry = self.entry_for(bucket, prefix)?;
            if !entries.contains(&entry) {
                entries.push(entry);
            }
        }
        Ok(EncryptionStore {
            default_key: None,
            entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_store() -> EncryptionStore {
        EncryptionStore::with_root(Key::random())
    }

    #[test]
    fn root_store_round_trips_and_is_bucket_specific() {
        let store = root_store();
        for key in ["a", "photos/2024/x.jpg", "dir/", "a//b"] {
            let enc = store.encrypt_key("b1", key).unwrap();
            assert_eq!(store.decrypt_key("b1", &enc).unwrap(), key);
            assert_ne!(enc, store.encrypt_key("b2", key).unwrap());
            assert!(store.decrypt_key("b2", &enc).is_err());
        }
        let prefix = store.encrypt_prefix("b1", "photos/").unwrap();
        assert!(prefix.ends_with('/'));
        assert!(
            store
                .encrypt_key("b1", "photos/x")
                .unwrap()
                .starts_with(&prefix)
        );
        assert_eq!(store.decrypt_prefix("b1", &prefix).unwrap(), "photos/");
        assert_eq!(store.encrypt_prefix("b1", "").unwrap(), "");
        assert!(matches!(
            store.encrypt_prefix("b1", "photos"),
            Err(CryptoError::InvalidPrefix(_))
        ));
    }

    #[test]
    fn restricted_store_agrees_with_root_under_its_prefix_only() {
        let full = root_store();
        let shared = full.restrict("b", "photos/2024/").unwrap();
        assert!(shared.default_key.is_none());
        assert_eq!(shared.entries.len(), 1);

        let name = "photos/2024/trip/a.jpg";
        let enc = full.encrypt_key("b", name).unwrap();
        assert_eq!(shared.encrypt_key("b", name).unwrap(), enc);
        assert_eq!(shared.decrypt_key("b", &enc).unwrap(), name);
        assert_eq!(
            shared.object_key("b", name).unwrap(),
            full.object_key("b", name).unwrap()
        );
        assert_eq!(
            shared.encrypt_prefix("b", "photos/2024/trip/").unwrap(),
            full.encrypt_prefix("b", "photos/2024/trip/").unwrap()
        );

        // Siblings, parents, the prefix's own name and other buckets are out of reach.
        for (bucket, outside) in [
            ("b", "photos/2023/a.jpg"),
            ("b", "photos/2024"),
            ("b", "photos/x"),
            ("b", "other"),
            ("c", "photos/2024/a.jpg"),
        ] {
            assert!(
                matches!(
                    shared.encrypt_key(bucket, outside),
                    Err(CryptoError::NoKeyForPath { .. })
                ),
                "{bucket}/{outside}"
            );
            let enc = full.encrypt_key(bucket, outside).unwrap();
            assert!(
                shared.decrypt_key(bucket, &enc).is_err(),
                "{bucket}/{outside}"
            );
        }
        assert!(shared.encrypt_prefix("b", "photos/").is_err());
        assert!(shared.encrypt_prefix("b", "").is_err());
    }

    #[test]
    fn restriction_only_narrows() {
        let full = root_store();
        let bucket = full.restrict("b", "").unwrap();
        let deeper = bucket.restrict("b", "a/b/").unwrap();
        assert_eq!(deeper, full.restrict("b", "a/b/").unwrap());
        assert!(deeper.restrict("b", "a/").is_err());
        assert!(deeper.restrict("b", "").is_err());
        assert!(deeper.restrict("c", "a/b/").is_err());
        assert!(bucket.restrict("c", "").is_err());
        assert!(matches!(
            full.restrict("b", "a"),
            Err(CryptoError::InvalidPrefix(_))
        ));
    }

    #[test]
    fn longest_prefix_wins_and_unions_work() {
        let full = root_store();
        let paths = [
            ("b".to_string(), "a/".to_string()),
            ("b".to_string(), "a/b/".to_string()),
            ("c".to_string(), "".to_string()),
        ];
        let shared = full.restrict_many(&paths).unwrap();
        assert_eq!(shared.entries.len(), 3);
        for (bucket, name) in [("b", "a/x"), ("b", "a/b/y"), ("c", "anything/z")] {
            let enc = full.encrypt_key(bucket, name).unwrap();
            assert_eq!(shared.encrypt_key(bucket, name).unwrap(), enc);
            assert_eq!(shared.decrypt_key(bucket, &enc).unwrap(), name);
        }
        assert!(shared.encrypt_key("b", "z").is_err());
    }

    #[test]
    fn serializes_in_text_and_binary() {
        let shared = root_store().restrict("b", "p/").unwrap();
        let json = serde_json::to_string(&shared).unwrap();
        assert_eq!(
            serde_json::from_str::<EncryptionStore>(&json).unwrap(),
            shared
        );
        let bin = postcard::to_allocvec(&shared).unwrap();
        assert_eq!(
            postcard::from_bytes::<EncryptionStore>(&bin).unwrap(),
            shared
        );
    }
}
