//! A segment's piece set: which piece number lives on which node.
//!
//! Kept sorted by piece number with every number and every node at most once, so that
//! its encoding is canonical and the invariants repair and audit rely on cannot be
//! broken by whoever builds one.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use uplink_core::protocol::{NodeId, PieceId};

use super::MetabaseError;

/// Where one piece of a remote segment lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Piece {
    pub num: u16,
    pub node: NodeId,
}

impl Piece {
    /// The id the node stores this piece under.
    pub fn piece_id(&self, root: &PieceId) -> PieceId {
        root.derive(&self.node, self.num)
    }
}

/// The pieces of one remote segment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PieceSet {
    pieces: Vec<Piece>,
}

impl PieceSet {
    /// Builds a set, refusing a piece number or a node that appears twice.
    pub fn new(mut pieces: Vec<Piece>) -> Result<Self, MetabaseError> {
        pieces.sort_by_key(|p| p.num);
        let mut nodes = HashSet::with_capacity(pieces.len());
        for pair in pieces.windows(2) {
            if pair[0].num == pair[1].num {
                return Err(MetabaseError::InvalidPieces(format!(
                    "piece number {} appears twice",
                    pair[0].num
                )));
            }
        }
        for p in &pieces {
            if !nodes.insert(p.node) {
                return Err(MetabaseError::InvalidPieces(format!(
                    "node {} holds two pieces of one segment",
                    p.node
                )));
            }
        }
        Ok(Self { pieces })
    }

    /// Decodes a stored set. Fails on anything that is not a valid set: bytes that do
    /// not decode, trailing bytes, duplicates.
    pub fn decode(bytes: &[u8]) -> Result<Self, MetabaseError> {
        let (pieces, rest): (Vec<Piece>, &[u8]) = postcard::take_from_bytes(bytes)
            .map_err(|e| MetabaseError::InvalidPieces(format!("undecodable: {e}")))?;
        if !rest.is_empty() {
            return Err(MetabaseError::InvalidPieces(format!(
                "{} trailing bytes",
                rest.len()
            )));
        }
        Self::new(pieces)
    }

    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(&self.pieces).expect("postcard encoding cannot fail")
    }

    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Piece> {
        self.pieces.iter()
    }

    pub fn get(&self, num: u16) -> Option<&Piece> {
        self.pieces
            .binary_search_by_key(&num, |p| p.num)
            .ok()
            .map(|i| &self.pieces[i])
    }

    pub fn contains_node(&self, node: &NodeId) -> bool {
        self.pieces.iter().any(|p| p.node == *node)
    }

    pub fn nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.pieces.iter().map(|p| p.node)
    }

    /// This set without the pieces numbered in `removed`, with `added` put in.
    pub fn replaced(&self, removed: &[u16], added: &[Piece]) -> Result<Self, MetabaseError> {
        let mut pieces: Vec<Piece> = self
            .pieces
            .iter()
            .filter(|p| !removed.contains(&p.num))
            .copied()
            .collect();
        pieces.extend_from_slice(added);
        Self::new(pieces)
    }
}

impl<'a> IntoIterator for &'a PieceSet {
    type Item = &'a Piece;
    type IntoIter = std::slice::Iter<'a, Piece>;
    fn into_iter(self) -> Self::IntoIter {
        self.pieces.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(num: u16) -> Piece {
        Piece {
            num,
            node: NodeId::random(),
        }
    }

    #[test]
    fn round_trip_is_canonical() {
        let set = PieceSet::new(vec![piece(3), piece(0), piece(7)]).unwrap();
        let nums: Vec<u16> = set.iter().map(|p| p.num).collect();
        assert_eq!(nums, [0, 3, 7]);
        let decoded = PieceSet::decode(&set.encode()).unwrap();
        assert_eq!(decoded, set);
        assert_eq!(decoded.encode(), set.encode());
        assert_eq!(set.get(3).unwrap().num, 3);
        assert!(set.get(4).is_none());
    }

    #[test]
    fn unreadable_sets_are_errors_never_empty() {
        let set = PieceSet::new(vec![piece(1), piece(2)]).unwrap();
        let bytes = set.encode();
        for bad in [&bytes[..bytes.len() - 1], &[0xff, 0xff, 0xff][..]] {
            assert!(PieceSet::decode(bad).is_err(), "{bad:?}");
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(PieceSet::decode(&trailing).is_err());
        // The empty encoding is the only way to an empty set.
        assert!(
            PieceSet::decode(&PieceSet::default().encode())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn duplicates_are_refused() {
        let a = piece(1);
        assert!(
            PieceSet::new(vec![
                a,
                Piece {
                    num: 1,
                    node: NodeId::random()
                }
            ])
            .is_err()
        );
        assert!(
            PieceSet::new(vec![
                a,
                Piece {
                    num: 2,
                    node: a.node
                }
            ])
            .is_err()
        );
        let dup = postcard::to_allocvec(&vec![a, a]).unwrap();
        assert!(PieceSet::decode(&dup).is_err());
    }

    #[test]
    fn replacing_pieces() {
        let set = PieceSet::new(vec![piece(0), piece(1), piece(2)]).unwrap();
        let new = piece(5);
        let out = set.replaced(&[1], &[new]).unwrap();
        let nums: Vec<u16> = out.iter().map(|p| p.num).collect();
        assert_eq!(nums, [0, 2, 5]);
        // Putting a node that already holds a piece of the segment is refused.
        let again = Piece {
            num: 9,
            node: set.get(0).unwrap().node,
        };
        assert!(set.replaced(&[], &[again]).is_err());
    }
}
