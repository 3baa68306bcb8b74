//! The access grant: everything a client needs in one string it can paste or share.
//!
//! Satellite address, API key and encryption keys travel together because none is
//! useful alone, and because restricting a grant must narrow the permissions (macaroon
//! caveats) and the decryptable names (keys) in one step, or a share would leak one or
//! the other. The string is base58check, so a truncated copy is caught by its checksum,
//! and versioned, so the format can change without misreading old grants.

use serde::{Deserialize, Serialize};

use super::AccessError;
use super::apikey::ApiKey;
use super::caveat::{Caveat, CaveatPath};
use crate::crypto::EncryptionStore;
use crate::crypto::names::NameMode;
use crate::protocol::NodeUrl;

/// The version byte of grants this code writes.
pub const GRANT_VERSION: u8 = 1;

/// Satellite, API key and encryption keys. `Debug` shows no secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessGrant {
    pub satellite: NodeUrl,
    pub api_key: ApiKey,
    pub encryption: EncryptionStore,
}

/// The encoding of version 1; later versions get their own struct.
#[derive(Serialize, Deserialize)]
struct GrantV1 {
    satellite: NodeUrl,
    api_key: ApiKey,
    encryption: EncryptionStore,
}

fn invalid(why: impl std::fmt::Display) -> AccessError {
    AccessError::Malformed(format!("not a valid access grant: {why}"))
}

impl AccessGrant {
    pub fn serialize(&self) -> String {
        let inner = GrantV1 {
            satellite: self.satellite.clone(),
            api_key: self.api_key.clone(),
            encryption: self.encryption.clone(),
        };
        let body = postcard::to_allocvec(&inner).expect("a grant always serializes");
        bs58::encode(body)
            .with_check_version(GRANT_VERSION)
            .into_string()
    }

    /// Parses [`AccessGrant::serialize`]'s output; surrounding whitespace is ignored.
    pub fn parse(s: &str) -> Result<AccessGrant, AccessError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(invalid("it is empty"));
        }
        let bytes = bs58::decode(s)
            .with_check(None)
            .into_vec()
            .map_err(|e| match e {
                bs58::decode::Error::InvalidChecksum { .. } => {
                    invalid("checksum mismatch (was it copied completely?)")
                }
                bs58::decode::Error::InvalidCharacter { character, index } => invalid(format!(
                    "character {character:?} at position {index} is not base58"
                )),
                bs58::decode::Error::NoChecksum => invalid("it is too short"),
                other => invalid(other),
            })?;
        let (&version, body) = bytes.split_first().ok_or_else(|| invalid("it is empty"))?;
        if version != GRANT_VERSION {
            return Err(AccessError::Malformed(format!(
                "unsupported access grant version {version} (this client reads version {GRANT_VERSION})"
            )));
        }
        let (inner, rest): (GrantV1, _) = postcard::take_from_bytes(body).map_err(invalid)?;
        if !rest.is_empty() {
            return Err(invalid("trailing data"));
        }
        Ok(AccessGrant {
            satellite: inner.satellite,
            api_key: inner.api_key,
            encryption: inner.encryption,
        })
    }

    /// A narrower grant, made offline: `caveat` (operations, time window, TTL) applies,
    /// and if `paths` (bucket, plaintext prefix `""` or ending in `/`, or one object's
    /// key) is not empty, the new grant may touch and decrypt only under those paths
    /// (only that object, for a key). The caveat's
    /// `allowed_paths` must be empty: they are filled in, encrypted, from `paths`.
    /// Refused if this grant cannot itself reach one of the paths.
    pub fn restrict(
        &self,
        caveat: Caveat,
        paths: &[(String, String)],
    ) -> Result<AccessGrant, AccessError> {
        self.restrict_in(caveat, paths, &[])
    }

    /// Like [`AccessGrant::restrict`], where `plain_buckets` are buckets whose names are
    /// in clear (their tags checked by the caller): the new grant's entries and caveat
    /// paths for them hold plaintext prefixes, and say so.
    pub fn restrict_in(
        &self,
        mut caveat: Caveat,
        paths: &[(String, String)],
        plain_buckets: &[String],
    ) -> Result<AccessGrant, AccessError> {
        if !caveat.allowed_paths.is_empty() {
            return Err(AccessError::Malformed(
                "give the shared paths as plaintext `paths`; the caveat's allowed_paths are filled in from them".into(),
            ));
        }
        for (bucket, prefix) in paths {
            if bucket.is_empty() {
                return Err(AccessError::Malformed(
                    "a shared path needs a bucket name".into(),
                ));
            }
            let mode =
                self.encryption
                    .entry_mode(bucket)
                    .unwrap_or(if plain_buckets.contains(bucket) {
                        NameMode::Plain
                    } else {
                        NameMode::Encrypted
                    });
            let names = self.encryption.names(bucket, mode);
            let path = CaveatPath {
                bucket: bucket.clone(),
                encrypted_prefix: if prefix.is_empty() || prefix.ends_with('/') {
                    names.encrypt_prefix(prefix)?
                } else {
                    names.encrypt_key(prefix)?
                },
            };
            if !caveat.allowed_paths.contains(&path) {
                caveat.allowed_paths.push(path);
            }
        }
        let encryption = if paths.is_empty() {
            self.encryption.clone()
        } else {
            self.encryption.restrict_many(paths, plain_buckets)?
        };
        Ok(AccessGrant {
            satellite: self.satellite.clone(),
            api_key: self.api_key.restrict(&caveat),
            encryption,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::caveat::{Action, Operation};
    use crate::crypto::{CryptoError, Key};
    use crate::protocol::NodeId;

    const SECRET: [u8; 32] = [9; 32];

    fn grant() -> AccessGrant {
        AccessGrant {
            satellite: format!("{}@127.0.0.1:7777", NodeId::random())
                .parse()
                .unwrap(),
            api_key: ApiKey::new(b"head", &SECRET).unwrap(),
            encryption: EncryptionStore::with_root(Key::from_bytes([0x5a; 32])),
        }
    }

    fn paths(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(b, p)| (b.to_string(), p.to_string()))
            .collect()
    }

    #[test]
    fn round_trip_with_whitespace() {
        let g = grant()
            .restrict(Caveat::new(), &paths(&[("b", "p/")]))
            .unwrap();
        let s = g.serialize();
        assert_eq!(AccessGrant::parse(&format!("\n  {s}  \n")).unwrap(), g);
        assert_eq!(
            AccessGrant::parse(&grant().serialize()).unwrap().encryption,
            grant().encryption
        );
    }

    #[test]
    fn damaged_strings_are_refused_with_reasons() {
        let s = grant().serialize();
        let mut chars: Vec<char> = s.chars().collect();
        let i = chars.len() / 2;
        chars[i] = if chars[i] == '2' { '3' } else { '2' };
        let damaged: String = chars.into_iter().collect();
        let err = AccessGrant::parse(&damaged).unwrap_err().to_string();
        assert!(err.contains("checksum mismatch"), "{err}");
        let err = AccessGrant::parse(&s[..s.len() - 3])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("not a valid access grant"), "{err}");
        let err = AccessGrant::parse("0OIl").unwrap_err().to_string();
        assert!(err.contains("not base58"), "{err}");
        assert!(AccessGrant::parse("  ").is_err());

        let future = bs58::encode(b"whatever")
            .with_check_version(2)
            .into_string();
        let err = AccessGrant::parse(&future).unwrap_err().to_string();
        assert!(
            err.starts_with("unsupported access grant version 2"),
            "{err}"
        );
        let junk = bs58::encode(b"\x05junk")
            .with_check_version(1)
            .into_string();
        assert!(AccessGrant::parse(&junk).is_err());
    }

    #[test]
    fn debug_reveals_no_secret() {
        let g = grant();
        let shown = format!("{g:?}");
        assert!(!shown.contains(&g.api_key.serialize()));
        assert!(
            !shown.contains("90, 90") && !shown.contains("WlpaWlpa"),
            "{shown}"
        );
        assert!(shown.contains("Key(..)"));
    }

    #[test]
    fn restricted_grant_decrypts_and_acts_only_under_its_prefix() {
        let full = grant();
        let shared = full
            .restrict(
                Caveat {
                    disallow_deletes: true,
                    ..Caveat::new()
                },
                &paths(&[("photos", "2024/")]),
            )
            .unwrap();
        let shared = AccessGrant::parse(&shared.serialize()).unwrap();
        assert!(shared.encryption.default_key.is_none());

        let inside = full.encryption.encrypt_key("photos", "2024/a.jpg").unwrap();
        let sibling = full.encryption.encrypt_key("photos", "2023/a.jpg").unwrap();
        assert_eq!(
            shared.encryption.decrypt_key("photos", &inside).unwrap(),
            "2024/a.jpg"
        );
        assert!(shared.encryption.decrypt_key("photos", &sibling).is_err());
        assert!(matches!(
            shared.encryption.encrypt_key("photos", "2023/a.jpg"),
            Err(CryptoError::NoKeyForPath { .. })
        ));

        let at = |op, key: &str| Action {
            op,
            bucket: Some("photos".into()),
            encrypted_key: Some(key.into()),
            time: 0,
            object_expires_at: None,
        };
        shared
            .api_key
            .check(&SECRET, &at(Operation::Read, &inside))
            .unwrap();
        for action in [
            at(Operation::Read, &sibling),
            at(Operation::Delete, &inside),
        ] {
            assert!(matches!(
                shared.api_key.check(&SECRET, &action),
                Err(AccessError::PermissionDenied(_))
            ));
        }
        let listing = shared.encryption.encrypt_prefix("photos", "2024/").unwrap();
        shared
            .api_key
            .check(&SECRET, &at(Operation::List, &listing))
            .unwrap();
        assert!(
            shared
                .api_key
                .check(&SECRET, &at(Operation::List, ""))
                .is_err()
        );
    }

    #[test]
    fn restriction_cannot_widen() {
        let shared = grant()
            .restrict(Caveat::new(), &paths(&[("photos", "2024/")]))
            .unwrap();
        for wider in [
            &[("photos", "")][..],
            &[("photos", "2023/")],
            &[("docs", "")],
        ] {
            assert!(
                matches!(
                    shared.restrict(Caveat::new(), &paths(wider)),
                    Err(AccessError::Crypto(CryptoError::NoKeyForPath { .. }))
                ),
                "{wider:?}"
            );
        }
        let deeper = shared
            .restrict(Caveat::new(), &paths(&[("photos", "2024/june/")]))
            .unwrap();
        assert_eq!(deeper.api_key.caveats().unwrap().len(), 2);
        // A name without '/' is one object: a single-object share where it is in reach.
        let one = grant()
            .restrict(Caveat::new(), &paths(&[("photos", "2024")]))
            .unwrap();
        assert_eq!(one.encryption.entries[0].prefix, "2024");
        assert!(matches!(
            shared.restrict(Caveat::new(), &paths(&[("photos", "2024")])),
            Err(AccessError::Crypto(CryptoError::NoKeyForPath { .. }))
        ));
        let preset = Caveat {
            allowed_paths: vec![CaveatPath {
                bucket: "x".into(),
                encrypted_prefix: String::new(),
            }],
            ..Caveat::new()
        };
        assert!(matches!(
            grant().restrict(preset, &[]),
            Err(AccessError::Malformed(_))
        ));
    }
}
