//! Garbage collection between a satellite and a node: the satellite periodically tells
//! each node which pieces to keep, as a signed bloom filter of their ids.
//!
//! A node holds pieces the satellite no longer needs (deletes it never heard of, uploads
//! that were never committed to an object, pieces replaced by repair). Listing them one
//! by one would cost the satellite a message per piece; instead it sends one
//! [`RetainRequest`]: a [`BloomFilter`] of every piece id the node should hold as of a
//! snapshot (`created_before`). The node moves to trash every piece of that satellite
//! that is not in the filter and was stored before the snapshot (less a grace period).
//!
//! A bloom filter has no false negatives, so a live piece is never trashed; a false
//! positive only leaves a piece of garbage for a later run, and because every filter has
//! its own random seed, a different set of garbage survives each run.
//!
//! The request travels as postcard bytes ([`RetainRequest::to_bytes`], decoded with
//! [`RetainRequest::from_bytes`]), `POST`ed to [`RETAIN_PATH`]. Decoding checks the
//! filter's size and hash count, so a hostile body can neither make the node allocate
//! without bound nor make it panic.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ProtocolError;
use super::identity::{Identity, PublicKey, Signable, Signature};
use super::ids::{NodeId, PieceId};

/// Where a node accepts a [`RetainRequest`] (body: [`RetainRequest::to_bytes`]).
pub const RETAIN_PATH: &str = "/v1/retain";
/// Content type of a retain request body.
pub const RETAIN_CONTENT_TYPE: &str = "application/octet-stream";

/// The false-positive rate satellites aim for: one piece of garbage in ten survives a
/// run, at under five bits per live piece.
pub const DEFAULT_FALSE_POSITIVE_RATE: f64 = 0.1;
/// Smallest filter [`BloomFilter::new`] makes, however few the expected items.
pub const MIN_FILTER_BYTES: usize = 64;
/// Largest filter accepted (or made): 64 MiB covers well over 100 million pieces at the
/// default rate.
pub const MAX_FILTER_BYTES: usize = 64 << 20;
/// Largest number of hash functions accepted (or chosen).
pub const MAX_HASH_COUNT: u8 = 32;

/// A bloom filter over piece ids.
///
/// The bit positions of an id are read from the BLAKE3 output of the id keyed with the
/// filter's seed: piece ids are uniformly random already, but the key makes which ids
/// collide differ from one filter to the next.
#[derive(Clone, PartialEq, Eq)]
pub struct BloomFilter {
    seed: [u8; 32],
    hash_count: u8,
    bits: Vec<u8>,
}

impl fmt::Debug for BloomFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BloomFilter")
            .field("bytes", &self.bits.len())
            .field("hash_count", &self.hash_count)
            .field("seed", &hex::encode(&self.seed[..4]))
            .finish()
    }
}

impl BloomFilter {
    /// An empty filter sized for `expected_items` at `false_positive_rate` (clamped to
    /// `[1e-9, 0.5]`), with a fresh random seed. The size is kept within
    /// [`MIN_FILTER_BYTES`]..=[`MAX_FILTER_BYTES`]; beyond the maximum the rate rises.
    pub fn new(expected_items: usize, false_positive_rate: f64) -> Self {
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        Self::with_seed(expected_items, false_positive_rate, seed)
    }

    /// As [`BloomFilter::new`] with a given seed (deterministic tests, reproducible runs).
    pub fn with_seed(expected_items: usize, false_positive_rate: f64, seed: [u8; 32]) -> Self {
        let p = if false_positive_rate.is_finite() {
            false_positive_rate.clamp(1e-9, 0.5)
        } else {
            DEFAULT_FALSE_POSITIVE_RATE
        };
        let n = expected_items.max(1) as f64;
        let ln2 = std::f64::consts::LN_2;
        let want_bits = (-n * p.ln() / (ln2 * ln2)).ceil();
        let bytes = ((want_bits / 8.0).ceil() as usize).clamp(MIN_FILTER_BYTES, MAX_FILTER_BYTES);
        let bits_per_item = (bytes * 8) as f64 / n;
        let hash_count = (bits_per_item * ln2)
            .round()
            .clamp(1.0, MAX_HASH_COUNT as f64) as u8;
        Self {
            seed,
            hash_count,
            bits: vec![0; bytes],
        }
    }

    /// A filter from its parts, as received: fails unless `bits` holds 1 to
    /// [`MAX_FILTER_BYTES`] bytes and `hash_count` is 1 to [`MAX_HASH_COUNT`].
    pub fn from_parts(
        seed: [u8; 32],
        hash_count: u8,
        bits: Vec<u8>,
    ) -> Result<Self, ProtocolError> {
        if bits.is_empty() || bits.len() > MAX_FILTER_BYTES {
            return Err(ProtocolError::Malformed(format!(
                "bloom filter of {} bytes; it must hold 1 to {MAX_FILTER_BYTES} bytes",
                bits.len()
            )));
        }
        if hash_count == 0 || hash_count > MAX_HASH_COUNT {
            return Err(ProtocolError::Malformed(format!(
                "bloom filter with {hash_count} hash functions; it must use 1 to \
                 {MAX_HASH_COUNT}"
            )));
        }
        Ok(Self {
            seed,
            hash_count,
            bits,
        })
    }

    /// Calls `f` with each bit position of `id` in a filter of `bits` bytes.
    fn positions(
        seed: &[u8; 32],
        hash_count: u8,
        bytes: usize,
        id: &PieceId,
        mut f: impl FnMut(usize),
    ) {
        let m = (bytes as u64) * 8;
        let mut xof = blake3::Hasher::new_keyed(seed)
            .update(id.as_bytes())
            .finalize_xof();
        let mut out = [0u8; 8 * MAX_HASH_COUNT as usize];
        let out = &mut out[..8 * hash_count as usize];
        xof.fill(out);
        for word in out.chunks_exact(8) {
            let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
            f((word % m) as usize);
        }
    }

    pub fn insert(&mut self, id: &PieceId) {
        let bits = &mut self.bits;
        Self::positions(&self.seed, self.hash_count, bits.len(), id, |i| {
            bits[i / 8] |= 1 << (i % 8)
        });
    }

    /// Whether `id` may have been inserted: always true if it was, true for about the
    /// filter's false-positive rate of the ids that were not.
    pub fn contains(&self, id: &PieceId) -> bool {
        let mut all = true;
        Self::positions(&self.seed, self.hash_count, self.bits.len(), id, |i| {
            all &= self.bits[i / 8] & (1 << (i % 8)) != 0
        });
        all
    }

    /// Size of the bit array in bytes.
    pub fn len_bytes(&self) -> usize {
        self.bits.len()
    }

    pub fn hash_count(&self) -> u8 {
        self.hash_count
    }

    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    pub fn bits(&self) -> &[u8] {
        &self.bits
    }

    /// The false-positive rate the filter has now, from the share of bits set:
    /// `(set / total) ^ hash_count`.
    pub fn estimated_false_positive_rate(&self) -> f64 {
        let set: u64 = self.bits.iter().map(|b| b.count_ones() as u64).sum();
        let fill = set as f64 / (self.bits.len() as f64 * 8.0);
        fill.powi(self.hash_count as i32)
    }
}

/// Borrowed shape of the encoding, so that serializing copies no bits.
#[derive(Serialize)]
struct FilterRef<'a> {
    #[serde(serialize_with = "bytes::serialize")]
    seed: &'a [u8],
    hash_count: u8,
    #[serde(serialize_with = "bytes::serialize")]
    bits: &'a [u8],
}

#[derive(Deserialize)]
struct FilterOwned {
    #[serde(deserialize_with = "bytes::deserialize")]
    seed: Vec<u8>,
    hash_count: u8,
    #[serde(deserialize_with = "bytes::deserialize")]
    bits: Vec<u8>,
}

impl Serialize for BloomFilter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        FilterRef {
            seed: &self.seed,
            hash_count: self.hash_count,
            bits: &self.bits,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for BloomFilter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = FilterOwned::deserialize(d)?;
        let seed: [u8; 32] = raw.seed.as_slice().try_into().map_err(|_| {
            serde::de::Error::custom(format!(
                "bloom filter seed of {} bytes; it must be 32",
                raw.seed.len()
            ))
        })?;
        BloomFilter::from_parts(seed, raw.hash_count, raw.bits).map_err(serde::de::Error::custom)
    }
}

/// Byte strings: raw in binary encodings (postcard: a length and the bytes), base64 in
/// human-readable ones.
mod bytes {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &&[u8], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&B64.encode(bytes))
        } else {
            s.serialize_bytes(bytes)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        if d.is_human_readable() {
            let text = String::deserialize(d)?;
            B64.decode(text.as_bytes())
                .map_err(|e| serde::de::Error::custom(format!("not base64: {e}")))
        } else {
            d.deserialize_byte_buf(Visitor)
        }
    }

    struct Visitor;

    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a byte string")
        }

        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }

        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
    }
}

/// A satellite's instruction to one node: keep the pieces in `filter`, trash the other
/// pieces of this satellite stored before `created_before`. Signed by the satellite.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetainRequest {
    pub satellite_id: NodeId,
    /// The node the filter was built for; another node refuses it.
    pub node_id: NodeId,
    /// Unix seconds: the snapshot the filter was built from. Pieces the node stored at
    /// or after it (less the node's grace period) are kept whatever the filter says.
    pub created_before: i64,
    /// Unix seconds at which the satellite signed the request; a node applies requests
    /// of one satellite only in increasing order of it, and only when recent.
    pub created_at: i64,
    pub filter: BloomFilter,
    /// Pieces inserted into the filter (for the node's log and sanity checks).
    pub piece_count: u64,
    pub satellite_signature: Signature,
}

impl Signable for RetainRequest {
    const DOMAIN: &'static [u8] = b"sj-retain-v1";
    fn signed_fields(&self) -> Vec<u8> {
        postcard::to_allocvec(&(
            &self.satellite_id,
            &self.node_id,
            self.created_before,
            self.created_at,
            &self.filter,
            self.piece_count,
        ))
        .expect("postcard encoding of plain fields cannot fail")
    }
}

impl RetainRequest {
    /// A request signed by `satellite` (whose id becomes `satellite_id`).
    pub fn signed(
        satellite: &Identity,
        node_id: NodeId,
        created_before: i64,
        created_at: i64,
        filter: BloomFilter,
        piece_count: u64,
    ) -> Self {
        let mut request = Self {
            satellite_id: satellite.node_id(),
            node_id,
            created_before,
            created_at,
            filter,
            piece_count,
            satellite_signature: Signature::default(),
        };
        request.satellite_signature = satellite.sign(&request);
        request
    }

    /// Checks the satellite's signature with the satellite's public key.
    pub fn verify_signature(&self, satellite_key: &PublicKey) -> Result<(), ProtocolError> {
        if satellite_key.node_id() != self.satellite_id {
            return Err(ProtocolError::Malformed(
                "retain request names a different satellite than the key given".into(),
            ));
        }
        satellite_key.verify(&self.signing_bytes(), &self.satellite_signature)
    }

    /// The wire encoding (postcard).
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("postcard encoding of plain fields cannot fail")
    }

    /// Decodes a request body; trailing bytes, a truncated body and an out-of-bounds
    /// filter are errors. Allocates no more than the body's size.
    pub fn from_bytes(body: &[u8]) -> Result<Self, ProtocolError> {
        let (request, rest) = postcard::take_from_bytes::<Self>(body)
            .map_err(|e| ProtocolError::Malformed(format!("undecodable retain request: {e}")))?;
        if !rest.is_empty() {
            return Err(ProtocolError::Malformed(format!(
                "{} stray bytes after the retain request",
                rest.len()
            )));
        }
        Ok(request)
    }
}

/// A node's answer to an accepted [`RetainRequest`]: the pass runs in the background.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetainResponse {
    /// The request was accepted and will be applied.
    pub queued: bool,
    /// It replaced an older request of the same satellite that was still waiting.
    pub replaced: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<PieceId> {
        (0..n).map(|_| PieceId::random()).collect()
    }

    #[test]
    fn no_false_negatives_and_the_target_false_positive_rate() {
        let members = ids(100_000);
        let mut filter = BloomFilter::new(members.len(), DEFAULT_FALSE_POSITIVE_RATE);
        for id in &members {
            filter.insert(id);
        }
        let missed = members.iter().filter(|id| !filter.contains(id)).count();
        assert_eq!(missed, 0, "false negatives");
        let false_positives = ids(100_000).iter().filter(|id| filter.contains(id)).count();
        let rate = false_positives as f64 / 100_000.0;
        println!(
            "false-positive rate {rate} at a target of 0.1: {} bytes, {} hashes",
            filter.len_bytes(),
            filter.hash_count()
        );
        assert!(
            (0.07..=0.13).contains(&rate),
            "false-positive rate {rate} for a target of 0.1 ({} bytes, {} hashes)",
            filter.len_bytes(),
            filter.hash_count()
        );
        // Under five bits per item.
        assert!(filter.len_bytes() * 8 < members.len() * 5);
        let estimate = filter.estimated_false_positive_rate();
        assert!((0.07..=0.13).contains(&estimate), "estimate {estimate}");
    }

    #[test]
    fn sizes_are_bounded_and_seeds_change_collisions() {
        let tiny = BloomFilter::new(0, 0.1);
        assert_eq!(tiny.len_bytes(), MIN_FILTER_BYTES);
        assert!(
            !tiny.contains(&PieceId::random()),
            "an empty filter holds nothing"
        );
        let huge = BloomFilter::with_seed(usize::MAX / 2, 1e-12, [0; 32]);
        assert_eq!(huge.len_bytes(), MAX_FILTER_BYTES);
        assert!((1..=MAX_HASH_COUNT).contains(&huge.hash_count()));
        for p in [f64::NAN, f64::INFINITY, -1.0, 0.0, 1.0, 2.0] {
            let f = BloomFilter::new(1000, p);
            assert!((1..=MAX_HASH_COUNT).contains(&f.hash_count()), "rate {p}");
        }

        // The same ids under two seeds: the false positives differ.
        let members = ids(2000);
        let others = ids(20_000);
        let positives = |seed: [u8; 32]| {
            let mut f = BloomFilter::with_seed(members.len(), 0.1, seed);
            members.iter().for_each(|id| f.insert(id));
            others
                .iter()
                .filter(|id| f.contains(id))
                .copied()
                .collect::<Vec<_>>()
        };
        let (a, b) = (positives([1; 32]), positives([2; 32]));
        assert_eq!(a, positives([1; 32]), "one seed, one result");
        let common = a.iter().filter(|id| b.contains(id)).count();
        assert!(
            common * 3 < a.len(),
            "{common} of {} false positives survive a change of seed",
            a.len()
        );
    }

    fn sample(sat: &Identity) -> RetainRequest {
        let mut filter = BloomFilter::new(100, 0.1);
        ids(100).iter().for_each(|id| filter.insert(id));
        RetainRequest::signed(
            sat,
            NodeId::random(),
            1_700_000_000,
            1_700_003_600,
            filter,
            100,
        )
    }

    fn flip<const N: usize>(mut bytes: [u8; N], at: usize) -> [u8; N] {
        bytes[at] ^= 1;
        bytes
    }

    /// Copies of `original` with one field changed each. Taken apart without `..`, so a
    /// new field does not compile until it is changed here (and so, to pass, signed).
    fn each_field_changed(original: &RetainRequest) -> Vec<(String, RetainRequest)> {
        let RetainRequest {
            satellite_id,
            node_id,
            created_before,
            created_at,
            filter,
            piece_count,
            satellite_signature,
        } = original.clone();
        let base = || original.clone();
        let mut out = Vec::new();
        for at in [0, 31] {
            out.push((
                format!("satellite_id[{at}]"),
                RetainRequest {
                    satellite_id: NodeId(flip(satellite_id.0, at)),
                    ..base()
                },
            ));
            out.push((
                format!("node_id[{at}]"),
                RetainRequest {
                    node_id: NodeId(flip(node_id.0, at)),
                    ..base()
                },
            ));
            let seed = flip(*filter.seed(), at);
            out.push((
                format!("filter.seed[{at}]"),
                RetainRequest {
                    filter: BloomFilter::from_parts(
                        seed,
                        filter.hash_count(),
                        filter.bits().to_vec(),
                    )
                    .unwrap(),
                    ..base()
                },
            ));
        }
        for delta in [1, -1] {
            out.push((
                format!("created_before {delta:+}"),
                RetainRequest {
                    created_before: created_before + delta,
                    ..base()
                },
            ));
            out.push((
                format!("created_at {delta:+}"),
                RetainRequest {
                    created_at: created_at + delta,
                    ..base()
                },
            ));
            out.push((
                format!("piece_count {delta:+}"),
                RetainRequest {
                    piece_count: piece_count.wrapping_add_signed(delta),
                    ..base()
                },
            ));
        }
        for hash_count in [filter.hash_count() + 1, filter.hash_count() - 1] {
            out.push((
                format!("filter.hash_count {hash_count}"),
                RetainRequest {
                    filter: BloomFilter::from_parts(
                        *filter.seed(),
                        hash_count,
                        filter.bits().to_vec(),
                    )
                    .unwrap(),
                    ..base()
                },
            ));
        }
        let bits = filter.bits().to_vec();
        let last = bits.len() - 1;
        for (what, changed) in [
            ("filter.bits[0]", {
                let mut b = bits.clone();
                b[0] ^= 1;
                b
            }),
            ("filter.bits[last]", {
                let mut b = bits.clone();
                b[last] ^= 0x80;
                b
            }),
            ("filter.bits longer", {
                let mut b = bits.clone();
                b.push(0);
                b
            }),
            ("filter.bits shorter", bits[..last].to_vec()),
        ] {
            out.push((
                what.to_string(),
                RetainRequest {
                    filter: BloomFilter::from_parts(*filter.seed(), filter.hash_count(), changed)
                        .unwrap(),
                    ..base()
                },
            ));
        }
        for at in [0, 63] {
            out.push((
                format!("satellite_signature[{at}]"),
                RetainRequest {
                    satellite_signature: Signature(flip(satellite_signature.0, at)),
                    ..base()
                },
            ));
        }
        out
    }

    #[test]
    fn the_signature_covers_every_field() {
        let sat = Identity::generate(0);
        let key = sat.public_key();
        let request = sample(&sat);
        request.verify_signature(&key).unwrap();
        assert!(request.signing_bytes().starts_with(b"sj-retain-v1"));
        for (what, changed) in &each_field_changed(&request) {
            assert_ne!(changed, &request, "{what}: nothing changed");
            match changed.verify_signature(&key) {
                Err(ProtocolError::BadSignature) => {}
                Err(ProtocolError::Malformed(m)) if what.starts_with("satellite_id") => {
                    assert!(m.contains("different satellite"), "{what}: {m}")
                }
                other => panic!("{what}: {other:?}"),
            }
        }
        let forger = Identity::generate(0);
        let mut forged = request.clone();
        forged.satellite_signature = forger.sign(&forged);
        assert!(matches!(
            forged.verify_signature(&key),
            Err(ProtocolError::BadSignature)
        ));
        // Signed under another domain, the same fields do not verify.
        let other_domain = sat.sign_bytes(&request.signed_fields());
        forged.satellite_signature = other_domain;
        assert!(forged.verify_signature(&key).is_err());
    }

    #[test]
    fn encodings_round_trip_and_keep_the_signature_valid() {
        let sat = Identity::generate(0);
        let request = sample(&sat);
        let bytes = request.to_bytes();
        // Compact: the bits and little else.
        assert!(
            bytes.len() < request.filter.len_bytes() + 300,
            "{}",
            bytes.len()
        );
        let back = RetainRequest::from_bytes(&bytes).unwrap();
        assert_eq!(back, request);
        back.verify_signature(&sat.public_key()).unwrap();
        let json = serde_json::to_string(&request).unwrap();
        let back: RetainRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, request);
    }

    #[test]
    fn hostile_bodies_are_errors_not_panics() {
        let sat = Identity::generate(0);
        let bytes = sample(&sat).to_bytes();
        for cut in 0..bytes.len() {
            assert!(
                RetainRequest::from_bytes(&bytes[..cut]).is_err(),
                "truncated to {cut} bytes"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(RetainRequest::from_bytes(&longer).is_err(), "trailing byte");

        // Garbage of many shapes: deterministic pseudo-random bytes.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for len in 0..2000 {
            let garbage: Vec<u8> = (0..len % 300)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = RetainRequest::from_bytes(&garbage);
        }

        // A filter whose length prefix claims far more than the body holds.
        let mut claim =
            postcard::to_allocvec(&(NodeId::default(), NodeId::default(), 1i64, 2i64)).unwrap();
        claim.extend_from_slice(&postcard::to_allocvec(&[0u8; 32][..]).unwrap());
        claim.push(3);
        claim.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]); // u32::MAX bytes
        claim.extend_from_slice(&[0; 64]);
        assert!(RetainRequest::from_bytes(&claim).is_err());

        // Out-of-bounds filters, through the decoder.
        let encode = |seed: &[u8], hash_count: u8, bits: &[u8]| {
            let request = RetainRequest {
                filter: BloomFilter::from_parts([0; 32], 1, vec![0]).unwrap(),
                ..sample(&sat)
            };
            let mut out = postcard::to_allocvec(&(
                &request.satellite_id,
                &request.node_id,
                request.created_before,
                request.created_at,
            ))
            .unwrap();
            out.extend_from_slice(
                &postcard::to_allocvec(&FilterRef {
                    seed,
                    hash_count,
                    bits,
                })
                .unwrap(),
            );
            out.extend_from_slice(
                &postcard::to_allocvec(&(request.piece_count, &request.satellite_signature))
                    .unwrap(),
            );
            out
        };
        RetainRequest::from_bytes(&encode(&[0; 32], 3, &[0; 100])).expect("a valid shape decodes");
        for (what, body) in [
            ("no bits", encode(&[0; 32], 3, &[])),
            ("no hash functions", encode(&[0; 32], 0, &[0; 100])),
            ("33 hash functions", encode(&[0; 32], 33, &[0; 100])),
            ("255 hash functions", encode(&[0; 32], 255, &[0; 100])),
            ("short seed", encode(&[0; 31], 3, &[0; 100])),
            ("long seed", encode(&[0; 33], 3, &[0; 100])),
            (
                "oversized filter",
                encode(&[0; 32], 3, &vec![0; MAX_FILTER_BYTES + 1]),
            ),
        ] {
            match RetainRequest::from_bytes(&body) {
                Err(ProtocolError::Malformed(m)) => {
                    assert!(m.contains("retain request"), "{what}: {m}")
                }
                other => panic!("{what}: {other:?}"),
            }
        }
        assert!(BloomFilter::from_parts([0; 32], 1, vec![0; MAX_FILTER_BYTES]).is_ok());
        assert!(BloomFilter::from_parts([0; 32], 1, vec![0; MAX_FILTER_BYTES + 1]).is_err());
    }
}
