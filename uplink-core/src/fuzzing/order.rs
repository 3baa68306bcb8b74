//! Harness for signed permissions as a node receives them: order limits (postcard in
//! upload frames, JSON in download and delete requests) and piece hashes.

use super::fixtures::{
    json_round_trip, piece_key, postcard_round_trip, satellite, signed_limit, signed_piece_hash,
};
use crate::protocol::wire::{DeleteRequest, DownloadRequest};
use crate::protocol::{AddressedOrderLimit, OrderLimit, PieceHash, PublicKey, Signable};

/// The first byte picks the message and its encoding, the rest is the message. What
/// decodes round-trips, and verifies against the fixture satellite (or piece key) only
/// if it is, field for field, the value that key signed.
pub fn order_limit(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    match mode % 6 {
        0 => {
            if let Some(limit) = postcard_round_trip::<OrderLimit>(body) {
                check_limit(&limit);
            }
        }
        1 => {
            if let Some(limit) = json_round_trip::<OrderLimit>(body) {
                check_limit(&limit);
            }
        }
        2 => {
            if let Some(req) = json_round_trip::<DownloadRequest>(body) {
                check_limit(&req.order_limit);
            }
        }
        3 => {
            if let Some(req) = json_round_trip::<DeleteRequest>(body) {
                check_limit(&req.order_limit);
            }
        }
        4 => {
            if let Some(hash) = postcard_round_trip::<PieceHash>(body) {
                check_piece_hash(&hash);
            }
        }
        _ => {
            if let Some(addressed) = json_round_trip::<AddressedOrderLimit>(body) {
                check_limit(&addressed.limit);
            }
        }
    }
}

pub(crate) fn check_limit(limit: &OrderLimit) {
    let verified = limit.verify_signature(&satellite().public_key());
    if verified.is_ok() {
        assert_eq!(*limit, signed_limit(), "a modified order limit verified");
    }
    // Any 32 bytes can arrive as a key (most are not curve points): never a panic.
    let _ = limit.verify_signature(&PublicKey(limit.piece_public_key.0));
}

pub(crate) fn check_piece_hash(hash: &PieceHash) {
    let verified = piece_key()
        .public_key()
        .verify(&hash.signing_bytes(), &hash.signature);
    if verified.is_ok() {
        assert_eq!(*hash, signed_piece_hash(), "a modified piece hash verified");
    }
}
