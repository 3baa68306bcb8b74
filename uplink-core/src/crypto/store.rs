//! The set of keys an access grant carries, and the rule for picking one.
//!
//! A full grant holds the root key and can derive any bucket. A restricted grant holds
//! only the keys at the ends of the prefixes it was shared for; because keys only chain
//! downwards, those keys decrypt names below their prefixes and nothing else. Each entry
//! also remembers its prefix in encrypted form, so that names coming back from the
//! satellite (ciphertext) can be matched to the entry that decrypts them.
//!
//! In a bucket with names in clear ([`NameMode::Plain`]) names pass unchanged, but the
//! same entries still decide what is within reach, and content keys chain the same way.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::names::NameMode;
use super::path::{self, bucket_key};
use super::{CryptoError, Key};

/// The key for one bucket and plaintext prefix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreEntry {
    pub bucket: String,
    /// Plaintext prefix: `""` (the whole bucket) or ending in `/`; anything else is one
    /// object's key (a single-object share: the entry decrypts that object only).
    pub prefix: String,
    /// The same prefix (or key) encrypted.
    pub encrypted_prefix: String,
    /// The path key after the prefix's components (the bucket key for prefix `""`; the
    /// object's own path key for a single object).
    pub key: Key,
    /// The bucket keeps its names in clear: `encrypted_prefix` is `prefix` itself. Set
    /// by whoever shared the entry, after checking the bucket's tag.
    #[serde(default)]
    pub plain_names: bool,
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
    /// The entry is the name itself (a single-object entry): nothing is left to encrypt.
    exact: bool,
}

/// Whether a store entry's prefix is one object's key rather than a prefix.
fn is_object(prefix: &str) -> bool {
    !prefix.is_empty() && !prefix.ends_with('/')
}

/// Whether `prefix` (`""` or ending in `/`) covers `name` on component boundaries; a
/// single object's key covers only itself (matching it byte-wise would cut a component
/// in half).
fn covers(prefix: &str, name: &str) -> bool {
    if is_object(prefix) {
        prefix == name
    } else {
        name.starts_with(prefix)
    }
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
                exact: is_object(&e.prefix),
            });
        }
        self.default_key.as_ref().map(|root| Start {
            plain: "",
            encrypted: "",
            key: Cow::Owned(bucket_key(root, bucket)),
            exact: false,
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

    /// How names in `bucket` are written as far as this store itself knows: from its
    /// entries for the bucket, `None` when it has none (a root key: the bucket says).
    pub fn entry_mode(&self, bucket: &str) -> Option<NameMode> {
        let mut entries = self
            .entries
            .iter()
            .filter(|e| e.bucket == bucket)
            .peekable();
        entries.peek()?;
        Some(if entries.any(|e| e.plain_names) {
            NameMode::Plain
        } else {
            NameMode::Encrypted
        })
    }

    /// The key of `bucket` itself, if this store holds the root key.
    pub fn bucket_key(&self, bucket: &str) -> Option<Key> {
        self.default_key
            .as_ref()
            .map(|root| bucket_key(root, bucket))
    }

    /// The names of `bucket`, written as `mode` says.
    pub fn names<'a>(&'a self, bucket: &'a str, mode: NameMode) -> BucketNames<'a> {
        BucketNames {
            store: self,
            bucket,
            mode,
        }
    }

    /// Encrypts an object key, using the most specific key that covers it.
    pub fn encrypt_key(&self, bucket: &str, key: &str) -> Result<String, CryptoError> {
        self.names(bucket, NameMode::Encrypted).encrypt_key(key)
    }

    /// Decrypts an object key as the satellite returns it.
    pub fn decrypt_key(&self, bucket: &str, encrypted_key: &str) -> Result<String, CryptoError> {
        self.names(bucket, NameMode::Encrypted)
            .decrypt_key(encrypted_key)
    }

    /// Encrypts a listing prefix (`""` or ending in `/`; so is the result).
    pub fn encrypt_prefix(&self, bucket: &str, prefix: &str) -> Result<String, CryptoError> {
        self.names(bucket, NameMode::Encrypted)
            .encrypt_prefix(prefix)
    }

    /// Reverses [`EncryptionStore::encrypt_prefix`].
    pub fn decrypt_prefix(&self, bucket: &str, encrypted: &str) -> Result<String, CryptoError> {
        self.names(bucket, NameMode::Encrypted)
            .decrypt_prefix(encrypted)
    }

    /// The path key of an object: content and metadata keys are derived from it.
    pub fn object_key(&self, bucket: &str, key: &str) -> Result<Key, CryptoError> {
        let start = self.start_plain(bucket, key)?;
        if start.exact {
            return Ok(start.key.into_owned());
        }
        Ok(path::path_key(&start.key, &key[start.plain.len()..]))
    }

    /// The entry that gives exactly `bucket`/`prefix` (`""` = the whole bucket; a name
    /// not ending in `/`: that one object), its names written as `mode` says.
    fn entry_for(
        &self,
        bucket: &str,
        prefix: &str,
        mode: NameMode,
    ) -> Result<StoreEntry, CryptoError> {
        let names = self.names(bucket, mode);
        if is_object(prefix) {
            return Ok(StoreEntry {
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
                encrypted_prefix: names.encrypt_key(prefix)?,
                key: self.object_key(bucket, prefix)?,
                plain_names: mode.is_plain(),
            });
        }
        check_prefix(prefix)?;
        let start = self.start_plain(bucket, prefix)?;
        let (rest, key) = path::encrypt_prefix(&start.key, &prefix[start.plain.len()..])?;
        Ok(StoreEntry {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            encrypted_prefix: match mode {
                NameMode::Encrypted => format!("{}{rest}", start.encrypted),
                NameMode::Plain => prefix.to_string(),
            },
            key,
            plain_names: mode.is_plain(),
        })
    }

    /// A store that can decrypt only under `bucket`/`prefix` (`""` = the whole bucket; a
    /// name not ending in `/`: only that object).
    /// Refused if this store cannot reach that prefix itself, so restriction never widens.
    pub fn restrict(&self, bucket: &str, prefix: &str) -> Result<EncryptionStore, CryptoError> {
        self.restrict_many(&[(bucket.to_string(), prefix.to_string())], &[])
    }

    /// Like [`EncryptionStore::restrict`], for the union of several bucket/prefix pairs.
    /// `plain_buckets` names the buckets known (checked by their tags) to keep names in
    /// clear; a bucket this store already has entries for keeps their mode.
    pub fn restrict_many(
        &self,
        paths: &[(String, String)],
        plain_buckets: &[String],
    ) -> Result<EncryptionStore, CryptoError> {
        let mut entries: Vec<StoreEntry> = Vec::with_capacity(paths.len());
        for (bucket, prefix) in paths {
            let mode = self
                .entry_mode(bucket)
                .unwrap_or(if plain_buckets.contains(bucket) {
                    NameMode::Plain
                } else {
                    NameMode::Encrypted
                });
            let entry = self.entry_for(bucket, prefix, mode)?;
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

/// One bucket's names, written as its [`NameMode`] says; what is within reach is the
/// store's to decide either way.
#[derive(Clone, Copy)]
pub struct BucketNames<'a> {
    store: &'a EncryptionStore,
    bucket: &'a str,
    mode: NameMode,
}

impl BucketNames<'_> {
    pub fn mode(&self) -> NameMode {
        self.mode
    }

    /// An object key as the satellite stores it.
    pub fn encrypt_key(&self, key: &str) -> Result<String, CryptoError> {
        let start = self.store.start_plain(self.bucket, key)?;
        if self.mode.is_plain() {
            return Ok(key.to_string());
        }
        if start.exact {
            return Ok(start.encrypted.to_string());
        }
        let rest = path::encrypt_path(&start.key, &key[start.plain.len()..]);
        Ok(format!("{}{rest}", start.encrypted))
    }

    /// An object key as the satellite returns it, read back.
    pub fn decrypt_key(&self, encrypted_key: &str) -> Result<String, CryptoError> {
        let start = self.store.start_encrypted(self.bucket, encrypted_key)?;
        if self.mode.is_plain() {
            return Ok(encrypted_key.to_string());
        }
        if start.exact {
            return Ok(start.plain.to_string());
        }
        let rest = path::decrypt_path(&start.key, &encrypted_key[start.encrypted.len()..])?;
        Ok(format!("{}{rest}", start.plain))
    }

    /// A listing prefix: encrypted, `""` or ending in `/` (so is the result); in clear,
    /// any string.
    pub fn encrypt_prefix(&self, prefix: &str) -> Result<String, CryptoError> {
        if self.mode.is_plain() {
            self.store.start_plain(self.bucket, prefix)?;
            return Ok(prefix.to_string());
        }
        check_prefix(prefix)?;
        let start = self.store.start_plain(self.bucket, prefix)?;
        let (rest, _) = path::encrypt_prefix(&start.key, &prefix[start.plain.len()..])?;
        Ok(format!("{}{rest}", start.encrypted))
    }

    /// Reverses [`BucketNames::encrypt_prefix`].
    pub fn decrypt_prefix(&self, encrypted: &str) -> Result<String, CryptoError> {
        if self.mode.is_plain() {
            self.store.start_encrypted(self.bucket, encrypted)?;
            return Ok(encrypted.to_string());
        }
        check_prefix(encrypted)?;
        let start = self.store.start_encrypted(self.bucket, encrypted)?;
        let rest = path::decrypt_prefix(&start.key, &encrypted[start.encrypted.len()..])?;
        Ok(format!("{}{rest}", start.plain))
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
    fn a_single_object_entry_reaches_that_object_only() {
        let full = root_store();
        let name = "nfts/7.png";
        let one = full.restrict("b", name).unwrap();
        let enc = full.encrypt_key("b", name).unwrap();
        assert_eq!(one.encrypt_key("b", name).unwrap(), enc);
        assert_eq!(one.decrypt_key("b", &enc).unwrap(), name);
        assert_eq!(
            one.object_key("b", name).unwrap(),
            full.object_key("b", name).unwrap()
        );
        // Through a prefix share first, then narrowed to the object: the same entry.
        let via_prefix = full
            .restrict("b", "nfts/")
            .unwrap()
            .restrict("b", name)
            .unwrap();
        assert_eq!(via_prefix, one);
        for outside in [
            "nfts/8.png",
            "nfts/7.pngx",
            "nfts/7.png/x",
            "nfts/7",
            "other",
        ] {
            assert!(one.encrypt_key("b", outside).is_err(), "{outside}");
            let enc = full.encrypt_key("b", outside).unwrap();
            assert!(one.decrypt_key("b", &enc).is_err(), "{outside}");
        }
        assert!(one.encrypt_prefix("b", "nfts/").is_err());
        assert!(one.restrict("b", "nfts/").is_err());
        assert!(one.restrict("b", "nfts/8.png").is_err());
        // It survives serialization like any entry.
        let again: EncryptionStore =
            postcard::from_bytes(&postcard::to_allocvec(&one).unwrap()).unwrap();
        assert_eq!(again, one);
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
        // A name without '/' is one object, within reach or not.
        assert!(deeper.restrict("b", "a/b/c").is_ok());
        assert!(deeper.restrict("b", "a/c").is_err());
    }

    #[test]
    fn longest_prefix_wins_and_unions_work() {
        let full = root_store();
        let paths = [
            ("b".to_string(), "a/".to_string()),
            ("b".to_string(), "a/b/".to_string()),
            ("c".to_string(), "".to_string()),
        ];
        let shared = full.restrict_many(&paths, &[]).unwrap();
        assert_eq!(shared.entries.len(), 3);
        for (bucket, name) in [("b", "a/x"), ("b", "a/b/y"), ("c", "anything/z")] {
            let enc = full.encrypt_key(bucket, name).unwrap();
            assert_eq!(shared.encrypt_key(bucket, name).unwrap(), enc);
            assert_eq!(shared.decrypt_key(bucket, &enc).unwrap(), name);
        }
        assert!(shared.encrypt_key("b", "z").is_err());
    }

    #[test]
    fn names_in_clear_pass_unchanged_within_reach_and_keep_their_content_keys() {
        let full = root_store();
        let clear = full.names("nft", NameMode::Plain);
        assert_eq!(clear.encrypt_key("drop1/7.json").unwrap(), "drop1/7.json");
        assert_eq!(clear.decrypt_key("drop1/7.json").unwrap(), "drop1/7.json");
        // Any listing prefix, not only whole components.
        assert_eq!(clear.encrypt_prefix("dro").unwrap(), "dro");
        assert_eq!(clear.decrypt_prefix("drop1/").unwrap(), "drop1/");

        let paths = [("nft".to_string(), "drop1/".to_string())];
        let shared = full.restrict_many(&paths, &["nft".to_string()]).unwrap();
        assert_eq!(shared.entry_mode("nft"), Some(NameMode::Plain));
        let entry = &shared.entries[0];
        assert!(entry.plain_names);
        assert_eq!(entry.encrypted_prefix, "drop1/");
        let names = shared.names("nft", NameMode::Plain);
        assert_eq!(names.encrypt_key("drop1/7.json").unwrap(), "drop1/7.json");
        assert_eq!(
            shared.object_key("nft", "drop1/7.json").unwrap(),
            full.object_key("nft", "drop1/7.json").unwrap(),
            "content keys chain the same way"
        );
        for outside in ["drop2/1.json", "drop1", "dro", ""] {
            assert!(
                matches!(
                    names.encrypt_key(outside),
                    Err(CryptoError::NoKeyForPath { .. })
                ),
                "{outside:?}"
            );
            assert!(names.decrypt_key(outside).is_err(), "{outside:?}");
        }
        assert!(names.encrypt_prefix("drop").is_err());
        // A narrower share of it stays in clear without being told again.
        let deeper = shared.restrict("nft", "drop1/rare/").unwrap();
        assert!(deeper.entries.iter().all(|e| e.plain_names));
        // Other buckets of the same share are unaffected.
        let both = full
            .restrict_many(
                &[
                    ("nft".to_string(), "".to_string()),
                    ("vault".to_string(), "".to_string()),
                ],
                &["nft".to_string()],
            )
            .unwrap();
        assert_eq!(both.entry_mode("vault"), Some(NameMode::Encrypted));
        assert_ne!(both.encrypt_key("vault", "a/b").unwrap(), "a/b");
        let again: EncryptionStore =
            postcard::from_bytes(&postcard::to_allocvec(&both).unwrap()).unwrap();
        assert_eq!(again, both);
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
