//! API keys as macaroons: the satellite mints a key from a secret, and anyone holding it
//! can derive a narrower key offline by appending a caveat.
//!
//! Checking is two steps with two owners: this crate evaluates each caveat against the
//! request (it knows what a caveat means), then the `macaroon` crate verifies the HMAC
//! chain with the secret, told exactly which predicates were found satisfied, so a key
//! whose caveats were removed, reordered or edited never verifies. The chain's
//! intermediate signatures ("tails") identify every ancestor of a key, which is what
//! revocation records.

use std::fmt;
use std::sync::Once;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use macaroon::{ByteString, Format, Macaroon, MacaroonKey, Verifier};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::AccessError;
use super::caveat::{Action, Caveat};

/// Bytes of the satellite's per-key secret and of macaroon signatures.
pub const SECRET_SIZE: usize = 32;

fn init_macaroons() {
    static INIT: Once = Once::new();
    // libsodium initialisation only picks implementations and seeds its RNG; the HMAC
    // this crate relies on works either way, so a failure here is not fatal.
    INIT.call_once(|| {
        if macaroon::initialize().is_err() {
            tracing::warn!("libsodium failed to initialise");
        }
    });
}

/// The macaroon HMAC step (HMAC-SHA256, as libsodium's `crypto_auth_hmacsha256`).
fn hmac(key: &[u8; SECRET_SIZE], data: &[u8]) -> [u8; SECRET_SIZE] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// An API key: a macaroon whose identifier is the key's head (how the satellite finds
/// its secret) and whose caveats are [`Caveat`]s.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    mac: Macaroon,
}

impl fmt::Debug for ApiKey {
    /// The serialized key is a bearer credential, so only its head is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ApiKey(head={}, caveats={})",
            hex::encode(self.head()),
            self.mac.caveats().len()
        )
    }
}

impl ApiKey {
    /// Mints a key with no caveats. `head` must not be empty.
    pub fn new(head: &[u8], secret: &[u8; SECRET_SIZE]) -> Result<ApiKey, AccessError> {
        init_macaroons();
        let mac = Macaroon::create(None, &MacaroonKey::from(*secret), ByteString::from(head))
            .map_err(|e| AccessError::Malformed(format!("cannot create API key: {e:?}")))?;
        Ok(ApiKey { mac })
    }

    /// Parses [`ApiKey::serialize`]'s output (URL-safe or standard base64, padded or
    /// not, surrounding whitespace ignored).
    pub fn parse(s: &str) -> Result<ApiKey, AccessError> {
        init_macaroons();
        let s = s.trim();
        let invalid = |why: &str| AccessError::Malformed(format!("not a valid API key: {why}"));
        if s.is_empty() {
            return Err(invalid("it is empty"));
        }
        let unpadded = s.trim_end_matches('=');
        let binary = URL_SAFE_NO_PAD
            .decode(unpadded)
            .or_else(|_| STANDARD_NO_PAD.decode(unpadded))
            .map_err(|_| invalid("it is not base64"))?;
        // Only the V2 binary format: the crate's other formats are not ours to accept.
        if binary.first() != Some(&2) {
            return Err(invalid("unsupported format"));
        }
        let mac = Macaroon::deserialize_binary(&binary).map_err(|e| invalid(&format!("{e:?}")))?;
        // The location is not covered by the signature; keys never carry one.
        if mac.location().is_some() {
            return Err(invalid("it names a location"));
        }
        let key = ApiKey { mac };
        // One key, one spelling: trailing bytes or other encodings are refused, so that
        // the string a satellite stores or logs is the key it checked.
        if key.binary() != binary {
            return Err(invalid("trailing or non-canonical data"));
        }
        Ok(key)
    }

    fn binary(&self) -> Vec<u8> {
        let text = self
            .mac
            .serialize(Format::V2)
            .expect("V2 serialization cannot fail");
        URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .expect("the macaroon crate writes URL-safe base64")
    }

    /// The macaroon in V2 binary format, URL-safe base64 without padding.
    pub fn serialize(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.binary())
    }

    /// The macaroon identifier, which the satellite uses to look up the key's secret.
    pub fn head(&self) -> Vec<u8> {
        self.mac.identifier().0
    }

    /// The macaroon's current signature.
    pub fn signature(&self) -> [u8; SECRET_SIZE] {
        *self.mac.signature().as_ref()
    }

    /// A narrower key: this one plus `caveat` (given a random nonce if it has none).
    /// Needs no secret, so any holder can do it offline.
    pub fn restrict(&self, caveat: &Caveat) -> ApiKey {
        let mut caveat = caveat.clone();
        if caveat.nonce.is_empty() {
            caveat.nonce = Caveat::new().nonce;
        }
        let mut mac = self.mac.clone();
        mac.add_first_party_caveat(ByteString(caveat.to_predicate()));
        ApiKey { mac }
    }

    /// Every caveat, oldest first. Third-party caveats and predicates this version does
    /// not understand are errors: a key must never be honoured with a restriction skipped.
    pub fn caveats(&self) -> Result<Vec<Caveat>, AccessError> {
        self.mac
            .caveats()
            .iter()
            .map(|c| match c {
                macaroon::Caveat::FirstParty(fp) => Caveat::from_predicate(&fp.predicate().0),
                macaroon::Caveat::ThirdParty(_) => Err(AccessError::Malformed(
                    "API keys with third-party caveats are not supported".into(),
                )),
            })
            .collect()
    }

    /// The chain of signatures: after the identifier, then after each caveat. The last
    /// equals [`ApiKey::signature`] for an authentic key; each earlier one is the
    /// signature of an ancestor key, so revoking an ancestor revokes its descendants.
    pub fn tails(&self, secret: &[u8; SECRET_SIZE]) -> Vec<[u8; SECRET_SIZE]> {
        let mut sig = hmac(secret, &self.mac.identifier().0);
        let mut out = vec![sig];
        for caveat in self.mac.caveats() {
            sig = match caveat {
                macaroon::Caveat::FirstParty(fp) => hmac(&sig, &fp.predicate().0),
                macaroon::Caveat::ThirdParty(tp) => {
                    let mut both = hmac(&sig, &tp.verifier_id().0).to_vec();
                    both.extend_from_slice(&hmac(&sig, &tp.id().0));
                    hmac(&sig, &both)
                }
            };
            out.push(sig);
        }
        out
    }

    /// Allows `action` only if every caveat allows it (the first refusal is returned as
    /// [`AccessError::PermissionDenied`]) and the key was minted with `secret` and not
    /// altered since ([`AccessError::InvalidKey`]).
    pub fn check(&self, secret: &[u8; SECRET_SIZE], action: &Action) -> Result<(), AccessError> {
        init_macaroons();
        for caveat in self.caveats()? {
            caveat
                .allows(action)
                .map_err(AccessError::PermissionDenied)?;
        }
        // The macaroon crate compares signatures with `==`; compare in constant time
        // first so that its comparison only ever runs on an authentic key.
        let expected = *self
            .tails(secret)
            .last()
            .expect("the chain has the identifier");
        if !bool::from(expected.ct_eq(&self.signature())) {
            return Err(AccessError::InvalidKey);
        }
        let mut verifier = Verifier::default();
        for caveat in self.mac.first_party_caveats() {
            if let macaroon::Caveat::FirstParty(fp) = caveat {
                verifier.satisfy_exact(fp.predicate());
            }
        }
        verifier
            .verify(&self.mac, &MacaroonKey::from(*secret), Vec::new())
            .map_err(|_| AccessError::InvalidKey)
    }
}

impl Serialize for ApiKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.serialize())
        } else {
            s.serialize_bytes(&self.binary())
        }
    }
}

impl<'de> Deserialize<'de> for ApiKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            ApiKey::parse(&s).map_err(serde::de::Error::custom)
        } else {
            let bytes: Vec<u8> = serde_bytes_vec(d)?;
            ApiKey::parse(&URL_SAFE_NO_PAD.encode(bytes)).map_err(serde::de::Error::custom)
        }
    }
}

fn serde_bytes_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    struct BytesVisitor;
    impl<'de> serde::de::Visitor<'de> for BytesVisitor {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("macaroon bytes")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut out = Vec::new();
            while let Some(b) = seq.next_element()? {
                out.push(b);
            }
            Ok(out)
        }
    }
    d.deserialize_bytes(BytesVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::caveat::{CaveatPath, Operation};

    const SECRET: [u8; 32] = [42; 32];
    const T: i64 = 1_700_000_000;

    fn key() -> ApiKey {
        ApiKey::new(b"head-0001", &SECRET).unwrap()
    }

    fn act(op: Operation, bucket: &str, key: Option<&str>) -> Action {
        Action {
            op,
            bucket: Some(bucket.into()),
            encrypted_key: key.map(Into::into),
            time: T,
            object_expires_at: None,
        }
    }

    fn in_bucket(bucket: &str, prefix: &str) -> Caveat {
        Caveat {
            allowed_paths: vec![CaveatPath {
                bucket: bucket.into(),
                encrypted_prefix: prefix.into(),
            }],
            ..Caveat::new()
        }
    }

    #[test]
    fn serialize_parse_round_trip() {
        let restricted = key().restrict(&in_bucket("b", "X/"));
        let s = restricted.serialize();
        assert!(!s.contains('=') && !s.contains('+') && !s.contains('/'));
        let parsed = ApiKey::parse(&format!("  {s}\n")).unwrap();
        assert_eq!(parsed, restricted);
        assert_eq!(parsed.head(), b"head-0001");
        assert_eq!(parsed.caveats().unwrap(), restricted.caveats().unwrap());
        let json = serde_json::to_string(&parsed).unwrap();
        assert_eq!(serde_json::from_str::<ApiKey>(&json).unwrap(), parsed);
        let bin = postcard::to_allocvec(&parsed).unwrap();
        assert_eq!(postcard::from_bytes::<ApiKey>(&bin).unwrap(), parsed);
        // Debug never shows the credential.
        assert!(!format!("{parsed:?}").contains(&s[..20]));
    }

    #[test]
    fn garbage_is_refused_clearly() {
        for bad in ["", "   ", "!!!", "aGVsbG8", "AgAAAA"] {
            let err = ApiKey::parse(bad).unwrap_err();
            assert!(
                matches!(&err, AccessError::Malformed(m) if m.starts_with("not a valid API key")),
                "{bad:?}: {err}"
            );
        }
        let mut s = key().serialize();
        s.push_str("AAAA");
        assert!(ApiKey::parse(&s).is_err(), "trailing bytes");
        // A location is outside the signature: with one, the same key would have a
        // second spelling that still verifies.
        let mut binary = URL_SAFE_NO_PAD.decode(key().serialize()).unwrap();
        binary.splice(1..1, [1, 4, b'h', b'o', b's', b't']);
        let err = ApiKey::parse(&URL_SAFE_NO_PAD.encode(&binary)).unwrap_err();
        assert_eq!(
            err,
            AccessError::Malformed("not a valid API key: it names a location".into())
        );
        assert!(ApiKey::new(b"", &SECRET).is_err());
    }

    #[test]
    fn check_allows_and_refuses() {
        let base = key();
        base.check(&SECRET, &act(Operation::Write, "any", Some("k")))
            .unwrap();
        let read_only = base.restrict(&Caveat {
            disallow_writes: true,
            disallow_deletes: true,
            ..Caveat::new()
        });
        read_only
            .check(&SECRET, &act(Operation::Read, "b", Some("k")))
            .unwrap();
        assert_eq!(
            read_only.check(&SECRET, &act(Operation::Write, "b", Some("k"))),
            Err(AccessError::PermissionDenied(
                "the access grant does not allow writes".into()
            ))
        );
        assert_eq!(
            read_only.check(&[1; 32], &act(Operation::Read, "b", Some("k"))),
            Err(AccessError::InvalidKey)
        );
    }

    #[test]
    fn widening_by_adding_caveats_never_works() {
        let narrow = key().restrict(&Caveat {
            disallow_writes: true,
            not_after: Some(T + 60),
            max_object_ttl: Some(60),
            ..in_bucket("b", "X/")
        });
        // Each attempt adds a broader caveat on top; the old one still applies.
        let wider = [
            (Caveat::new(), act(Operation::Write, "b", Some("X/k"))),
            (in_bucket("c", ""), act(Operation::Read, "c", Some("k"))),
            (in_bucket("b", ""), act(Operation::Read, "b", Some("Y/k"))),
            (in_bucket("b", ""), act(Operation::List, "b", None)),
            (
                Caveat {
                    not_after: Some(T + 3600),
                    ..Caveat::new()
                },
                Action {
                    time: T + 120,
                    ..act(Operation::Read, "b", Some("X/k"))
                },
            ),
        ];
        for (caveat, action) in wider {
            let attempt = narrow.restrict(&caveat);
            assert!(
                matches!(
                    attempt.check(&SECRET, &action),
                    Err(AccessError::PermissionDenied(_))
                ),
                "{caveat:?} {action:?}"
            );
        }
        // A longer TTL on top of a shorter one: the shorter still binds.
        let ttl_key = key().restrict(&Caveat {
            max_object_ttl: Some(60),
            ..Caveat::new()
        });
        let longer = ttl_key.restrict(&Caveat {
            max_object_ttl: Some(86_400),
            ..Caveat::new()
        });
        let upload = Action {
            object_expires_at: Some(T + 3600),
            ..act(Operation::Write, "b", Some("k"))
        };
        assert!(matches!(
            longer.check(&SECRET, &upload),
            Err(AccessError::PermissionDenied(_))
        ));
        let ok_upload = Action {
            object_expires_at: Some(T + 60),
            ..upload
        };
        longer.check(&SECRET, &ok_upload).unwrap();
    }

    #[test]
    fn tampered_keys_fail_verification() {
        let narrow = key().restrict(&Caveat {
            disallow_writes: true,
            ..Caveat::new()
        });
        let write = act(Operation::Write, "b", Some("k"));

        // Caveat removed: rebuild the macaroon without it but keep the final signature.
        let mut stripped =
            Macaroon::create(None, &MacaroonKey::from(SECRET), "head-0001".into()).unwrap();
        let forged_binary = {
            let mut b = ApiKey {
                mac: stripped.clone(),
            }
            .binary();
            let sig = narrow.signature();
            let len = b.len();
            b[len - 32..].copy_from_slice(&sig);
            b
        };
        let forged = ApiKey::parse(&URL_SAFE_NO_PAD.encode(&forged_binary)).unwrap();
        assert_eq!(forged.check(&SECRET, &write), Err(AccessError::InvalidKey));

        // Caveat edited in place (writes re-allowed), signature unchanged.
        let permissive = Caveat::new().to_predicate();
        stripped.add_first_party_caveat(ByteString(permissive));
        let mut edited = ApiKey { mac: stripped }.binary();
        let len = edited.len();
        edited[len - 32..].copy_from_slice(&narrow.signature());
        let edited = ApiKey::parse(&URL_SAFE_NO_PAD.encode(&edited)).unwrap();
        assert_eq!(edited.check(&SECRET, &write), Err(AccessError::InvalidKey));

        // Any flipped byte in the serialized key breaks parsing or verification.
        let read = act(Operation::Read, "b", Some("k"));
        let binary = narrow.binary();
        for i in 0..binary.len() {
            let mut b = binary.clone();
            b[i] ^= 0x01;
            if let Ok(k) = ApiKey::parse(&URL_SAFE_NO_PAD.encode(&b)) {
                assert!(k.check(&SECRET, &read).is_err(), "byte {i}");
            }
        }
        // Minted with another secret.
        let other = ApiKey::new(b"head-0001", &[7; 32]).unwrap();
        assert_eq!(other.check(&SECRET, &read), Err(AccessError::InvalidKey));
    }

    #[test]
    fn tails_name_every_ancestor() {
        let a = key();
        let b = a.restrict(&Caveat::new());
        let c = b.restrict(&Caveat::new());
        let tails = c.tails(&SECRET);
        assert_eq!(tails.len(), 3);
        assert_eq!(tails[0], a.signature());
        assert_eq!(tails[1], b.signature());
        assert_eq!(tails[2], c.signature());
        assert_eq!(a.tails(&SECRET), vec![a.signature()]);
        // Equal restrictions still give distinct keys thanks to the nonce.
        assert_ne!(
            a.restrict(&Caveat::default()),
            a.restrict(&Caveat::default())
        );
    }

    #[test]
    fn unknown_caveats_are_refused() {
        let mut mac = key().mac;
        mac.add_first_party_caveat("time < 2030".into());
        let odd = ApiKey { mac };
        assert!(matches!(odd.caveats(), Err(AccessError::Malformed(_))));
        assert!(matches!(
            odd.check(&SECRET, &act(Operation::Read, "b", None)),
            Err(AccessError::Malformed(_))
        ));
        let mut mac = key().mac;
        mac.add_third_party_caveat("https://auth", &MacaroonKey::generate_random(), "id".into());
        let third = ApiKey { mac };
        assert!(matches!(third.caveats(), Err(AccessError::Malformed(_))));
    }
}
