//! Fixed-size identifiers shared by all three parties.
//!
//! They travel as base58 strings in JSON so that logs, grants and URLs stay readable,
//! and as raw bytes in signed (postcard) encodings so that signatures cover exactly the
//! bytes that matter.

use std::fmt;
use std::str::FromStr;

use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ProtocolError;

macro_rules! fixed_id {
    ($(#[$meta:meta])* $name:ident, $len:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            pub const LEN: usize = $len;

            /// A fresh random identifier from the operating system's CSPRNG.
            pub fn random() -> Self {
                let mut bytes = [0u8; $len];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                Self(bytes)
            }

            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            pub fn from_slice(bytes: &[u8]) -> Result<Self, ProtocolError> {
                let arr: [u8; $len] = bytes.try_into().map_err(|_| {
                    ProtocolError::Malformed(format!(
                        "{} must be {} bytes, got {}",
                        stringify!($name),
                        $len,
                        bytes.len()
                    ))
                })?;
                Ok(Self(arr))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&bs58::encode(&self.0).into_string())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl FromStr for $name {
            type Err = ProtocolError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let bytes = bs58::decode(s).into_vec().map_err(|e| {
                    ProtocolError::Malformed(format!("{} is not base58: {e}", stringify!($name)))
                })?;
                Self::from_slice(&bytes)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(&self.to_string())
                } else {
                    self.0.serialize(s)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s = String::deserialize(d)?;
                    s.parse().map_err(serde::de::Error::custom)
                } else {
                    Ok(Self(<[u8; $len]>::deserialize(d)?))
                }
            }
        }
    };
}

fixed_id!(
    /// A node's (or satellite's) identity: the BLAKE3 hash of its ed25519 public key.
    NodeId,
    32
);
fixed_id!(
    /// A piece's identifier as stored on one node. Derived per node from the segment's
    /// root piece id, so that nodes cannot tell which of their pieces belong together.
    PieceId,
    32
);
fixed_id!(
    /// Unique per order limit; a node refuses to honour the same serial twice.
    SerialNumber,
    16
);

impl NodeId {
    /// Proof-of-work difficulty: the number of trailing zero bits of the id.
    pub fn difficulty(&self) -> u32 {
        let mut bits = 0;
        for byte in self.0.iter().rev() {
            if *byte == 0 {
                bits += 8;
            } else {
                bits += byte.trailing_zeros();
                break;
            }
        }
        bits
    }
}

impl PieceId {
    /// The id under which piece number `piece_num` of a segment is stored on `node`.
    pub fn derive(&self, node: &NodeId, piece_num: u16) -> PieceId {
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        hasher.update(b"sj-derive-piece-id");
        hasher.update(&node.0);
        hasher.update(&piece_num.to_be_bytes());
        PieceId(*hasher.finalize().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_base58_and_json() {
        let id = NodeId::random();
        let parsed: NodeId = id.to_string().parse().unwrap();
        assert_eq!(id, parsed);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<NodeId>(&json).unwrap(), id);
        let bin = postcard::to_allocvec(&id).unwrap();
        assert_eq!(bin.len(), 32);
        assert_eq!(postcard::from_bytes::<NodeId>(&bin).unwrap(), id);
    }

    #[test]
    fn wrong_length_ids_are_refused() {
        let short = bs58::encode([1u8; 5]).into_string();
        let err = short.parse::<SerialNumber>().unwrap_err();
        assert!(err.to_string().contains("16 bytes"), "{err}");
        assert!("not-base58!".parse::<NodeId>().is_err());
    }

    #[test]
    fn derived_piece_ids_differ_per_node_and_number() {
        let root = PieceId::random();
        let (a, b) = (NodeId::random(), NodeId::random());
        assert_ne!(root.derive(&a, 0), root.derive(&b, 0));
        assert_ne!(root.derive(&a, 0), root.derive(&a, 1));
        assert_eq!(root.derive(&a, 3), root.derive(&a, 3));
    }

    #[test]
    fn difficulty_counts_trailing_zero_bits() {
        let mut id = NodeId([0xff; 32]);
        assert_eq!(id.difficulty(), 0);
        id.0[31] = 0b1000_0000;
        assert_eq!(id.difficulty(), 7);
        id.0[31] = 0;
        id.0[30] = 0b10;
        assert_eq!(id.difficulty(), 9);
    }
}
