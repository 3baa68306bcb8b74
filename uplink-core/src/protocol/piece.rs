//! Piece hashes: what an uplink signs about a piece it uploaded, and what a node signs
//! back as its receipt.
//!
//! A piece is hashed in fixed-size blocks (BLAKE3 per block) and the signed value is the
//! hash of the list of block hashes. A node hands the list out with every download, so an
//! uplink can verify any aligned byte range of a piece, not only the whole piece, and
//! pin-point a corrupted node even when it reads a few kilobytes out of a large video.

use serde::{Deserialize, Serialize};

use super::ProtocolError;
use super::identity::{Signable, Signature};
use super::ids::PieceId;

/// Default size of a hashed block of piece data.
pub const DEFAULT_HASH_BLOCK_SIZE: u32 = 64 * 1024;

pub type BlockHash = [u8; 32];

/// Hash over a piece's content, signed by the uplink (upload) or by the node (receipt).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PieceHash {
    pub piece_id: PieceId,
    pub piece_size: u64,
    pub hash_block_size: u32,
    /// `root_of(block_hashes)`.
    #[serde(with = "hex_32")]
    pub root: BlockHash,
    /// Unix seconds.
    pub timestamp: i64,
    pub signature: Signature,
}

impl Signable for PieceHash {
    const DOMAIN: &'static [u8] = b"sj-piece-hash-v1";
    fn signed_fields(&self) -> Vec<u8> {
        postcard::to_allocvec(&(
            &self.piece_id,
            self.piece_size,
            self.hash_block_size,
            &self.root,
            self.timestamp,
        ))
        .expect("postcard encoding of plain fields cannot fail")
    }
}

/// The hash that commits to a whole list of block hashes.
pub fn root_of(block_hashes: &[BlockHash]) -> BlockHash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"sj-piece-root-v1");
    hasher.update(&(block_hashes.len() as u64).to_be_bytes());
    for h in block_hashes {
        hasher.update(h);
    }
    *hasher.finalize().as_bytes()
}

/// Hash of one block of piece data.
pub fn hash_block(data: &[u8]) -> BlockHash {
    *blake3::hash(data).as_bytes()
}

/// Number of hash blocks of a piece of `piece_size` bytes.
pub fn block_count(piece_size: u64, hash_block_size: u32) -> u64 {
    piece_size.div_ceil(hash_block_size as u64)
}

/// Incrementally hashes a piece that arrives in chunks of any size.
#[derive(Debug)]
pub struct BlockHasher {
    block_size: u32,
    current: blake3::Hasher,
    current_len: u32,
    blocks: Vec<BlockHash>,
    total: u64,
}

impl BlockHasher {
    pub fn new(block_size: u32) -> Self {
        assert!(block_size > 0, "hash block size must be positive");
        Self {
            block_size,
            current: blake3::Hasher::new(),
            current_len: 0,
            blocks: Vec::new(),
            total: 0,
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        while !data.is_empty() {
            let room = (self.block_size - self.current_len) as usize;
            let take = room.min(data.len());
            if take == self.block_size as usize {
                // A whole block at once: one-shot hashing is faster.
                self.blocks.push(hash_block(&data[..take]));
            } else {
                self.current.update(&data[..take]);
                self.current_len += take as u32;
                if self.current_len == self.block_size {
                    self.blocks.push(*self.current.finalize().as_bytes());
                    self.current.reset();
                    self.current_len = 0;
                }
            }
            data = &data[take..];
        }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn block_size(&self) -> u32 {
        self.block_size
    }

    /// Ends hashing; returns the block hashes and their root.
    pub fn finish(mut self) -> (Vec<BlockHash>, BlockHash) {
        if self.current_len > 0 {
            self.blocks.push(*self.current.finalize().as_bytes());
        }
        let root = root_of(&self.blocks);
        (self.blocks, root)
    }
}

/// Checks downloaded piece bytes against block hashes.
///
/// `offset` must be a multiple of the block size; the data must end at a block boundary
/// or at the end of the piece.
pub fn verify_blocks(
    data: &[u8],
    offset: u64,
    piece_size: u64,
    block_size: u32,
    block_hashes: &[BlockHash],
) -> Result<(), ProtocolError> {
    if block_size == 0 {
        return Err(ProtocolError::Malformed(
            "hash block size must be positive".into(),
        ));
    }
    let bs = block_size as u64;
    if !offset.is_multiple_of(bs) {
        return Err(ProtocolError::Malformed(format!(
            "range offset {offset} is not aligned to hash blocks of {bs}"
        )));
    }
    let end = offset
        .checked_add(data.len() as u64)
        .filter(|end| *end <= piece_size)
        .ok_or_else(|| {
            ProtocolError::Malformed(format!(
                "range of {} bytes at offset {offset} reaches past the end of a \
                 {piece_size}-byte piece",
                data.len()
            ))
        })?;
    if !end.is_multiple_of(bs) && end != piece_size {
        return Err(ProtocolError::Malformed(format!(
            "range end {end} is not at a hash block boundary of a {piece_size}-byte piece"
        )));
    }
    for (i, chunk) in data.chunks(block_size as usize).enumerate() {
        let index = (offset / bs) as usize + i;
        let expected = block_hashes
            .get(index)
            .ok_or_else(|| ProtocolError::Malformed(format!("no hash for piece block {index}")))?;
        if &hash_block(chunk) != expected {
            return Err(ProtocolError::HashMismatch(format!(
                "piece block {index} does not match its signed hash"
            )));
        }
    }
    Ok(())
}

pub(crate) mod hex_32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&hex::encode(v))
        } else {
            s.serialize_bytes(v)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let bytes = if d.is_human_readable() {
            let s = String::deserialize(d)?;
            hex::decode(s).map_err(serde::de::Error::custom)?
        } else {
            <Vec<u8>>::deserialize(d)?
        };
        bytes
            .as_slice()
            .try_into()
            .map_err(|_| serde::de::Error::custom("expected 32 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::identity::Identity;

    #[test]
    fn chunking_does_not_change_the_hashes() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut whole = BlockHasher::new(4096);
        whole.update(&data);
        let mut pieces = BlockHasher::new(4096);
        for chunk in data.chunks(1000) {
            pieces.update(chunk);
        }
        let (a_blocks, a_root) = whole.finish();
        let (b_blocks, b_root) = pieces.finish();
        assert_eq!(a_blocks, b_blocks);
        assert_eq!(a_root, b_root);
        assert_eq!(a_blocks.len() as u64, block_count(data.len() as u64, 4096));
    }

    #[test]
    fn verify_blocks_finds_corruption_in_a_range() {
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut h = BlockHasher::new(1024);
        h.update(&data);
        let (blocks, _) = h.finish();
        verify_blocks(&data[2048..5120], 2048, 10_000, 1024, &blocks).unwrap();
        verify_blocks(&data[9216..], 9216, 10_000, 1024, &blocks).unwrap();
        let mut bad = data[2048..5120].to_vec();
        bad[100] ^= 1;
        assert!(matches!(
            verify_blocks(&bad, 2048, 10_000, 1024, &blocks),
            Err(ProtocolError::HashMismatch(_))
        ));
        assert!(matches!(
            verify_blocks(&data[100..1124], 100, 10_000, 1024, &blocks),
            Err(ProtocolError::Malformed(m)) if m.contains("not aligned")
        ));
    }

    /// Copies of `original`, each with one field changed, naming the field. Taken apart
    /// without `..`, so a new field of [`PieceHash`] does not compile until it is here.
    fn each_field_changed(original: &PieceHash) -> Vec<(String, PieceHash)> {
        let PieceHash {
            piece_id,
            piece_size,
            hash_block_size,
            root,
            timestamp,
            signature,
        } = original.clone();
        let base = || original.clone();
        let mut out = Vec::new();
        for at in [0, 31] {
            let mut id = piece_id.0;
            id[at] ^= 1;
            out.push((
                format!("piece_id[{at}]"),
                PieceHash {
                    piece_id: PieceId(id),
                    ..base()
                },
            ));
            let mut r = root;
            r[at] ^= 1;
            out.push((format!("root[{at}]"), PieceHash { root: r, ..base() }));
        }
        for changed in [piece_size + 1, piece_size - 1, piece_size ^ (1 << 40)] {
            out.push((
                format!("piece_size {changed}"),
                PieceHash {
                    piece_size: changed,
                    ..base()
                },
            ));
        }
        for changed in [
            hash_block_size * 2,
            hash_block_size / 2,
            hash_block_size + 1,
        ] {
            out.push((
                format!("hash_block_size {changed}"),
                PieceHash {
                    hash_block_size: changed,
                    ..base()
                },
            ));
        }
        for delta in [1, -1] {
            out.push((
                format!("timestamp {delta:+}"),
                PieceHash {
                    timestamp: timestamp + delta,
                    ..base()
                },
            ));
        }
        for at in [0, 63] {
            let mut sig = signature.0;
            sig[at] ^= 1;
            out.push((
                format!("signature[{at}]"),
                PieceHash {
                    signature: Signature(sig),
                    ..base()
                },
            ));
        }
        out
    }

    #[test]
    fn verify_blocks_refuses_impossible_geometry() {
        // Block size, piece size and hashes come from the node's download header.
        let data = [1u8; 10];
        let blocks = [hash_block(&data)];
        let err = verify_blocks(&data, 0, 10, 0, &blocks).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::Malformed("hash block size must be positive".into())
        );
        let err = verify_blocks(&data, u64::MAX - 4, u64::MAX, 1, &blocks).unwrap_err();
        assert!(
            matches!(&err, ProtocolError::Malformed(m) if m.contains("past the end")),
            "{err}"
        );
    }

    #[test]
    fn piece_hash_signature_covers_every_field() {
        let key = Identity::generate(0);
        let mut ph = PieceHash {
            piece_id: PieceId::random(),
            piece_size: 100_000,
            hash_block_size: DEFAULT_HASH_BLOCK_SIZE,
            root: [9; 32],
            timestamp: 1_700_000_000,
            signature: Signature::default(),
        };
        ph.signature = key.sign(&ph);
        key.public_key()
            .verify(&ph.signing_bytes(), &ph.signature)
            .unwrap();
        for (what, changed) in each_field_changed(&ph) {
            assert_ne!(changed, ph, "{what}: nothing changed");
            if !what.starts_with("signature") {
                assert!(
                    changed.signing_bytes() != ph.signing_bytes(),
                    "{what}: not among the signed bytes"
                );
            }
            assert!(
                matches!(
                    key.public_key()
                        .verify(&changed.signing_bytes(), &changed.signature),
                    Err(ProtocolError::BadSignature)
                ),
                "{what}: still verifies"
            );
        }
        let json = serde_json::to_string(&ph).unwrap();
        assert_eq!(serde_json::from_str::<PieceHash>(&json).unwrap(), ph);
    }
}
