//! Fixed keys and the values signed with them, shared by harnesses and seeds. All are
//! derived from constants, so seeds and findings reproduce byte for byte.

use std::fmt::Debug;
use std::sync::OnceLock;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::access::{AccessGrant, Action, ApiKey, Caveat, CaveatPath, Operation};
use crate::crypto::{EncryptionStore, Key};
use crate::protocol::piece::{BlockHasher, DEFAULT_HASH_BLOCK_SIZE};
use crate::protocol::wire::{CheckInRequest, DownloadHeader, NodeCapacity};
use crate::protocol::{
    Identity, NodeUrl, OrderLimit, PieceAction, PieceHash, PieceId, SerialNumber, Signature,
};

/// The satellite's API key secret that fixture keys are minted with.
pub const SECRET: [u8; 32] = [0x5e; 32];
/// A unix time inside every fixture's validity window.
pub const NOW: i64 = 1_700_000_000;

fn cached(cell: &'static OnceLock<Identity>, secret: u8) -> &'static Identity {
    cell.get_or_init(|| Identity::from_secret([secret; 32]))
}

/// The satellite that signs fixture order limits.
pub fn satellite() -> &'static Identity {
    static CELL: OnceLock<Identity> = OnceLock::new();
    cached(&CELL, 0x11)
}

/// The uplink's per-segment key that signs fixture piece hashes.
pub fn piece_key() -> &'static Identity {
    static CELL: OnceLock<Identity> = OnceLock::new();
    cached(&CELL, 0x22)
}

/// The node that signs the fixture check-in.
pub fn node() -> &'static Identity {
    static CELL: OnceLock<Identity> = OnceLock::new();
    cached(&CELL, 0x33)
}

/// A caveat with a fixed nonce (a random one would make keys differ between runs).
pub fn caveat_with(nonce: u8, caveat: Caveat) -> Caveat {
    Caveat {
        nonce: vec![nonce; 16],
        ..caveat
    }
}

/// A key minted with [`SECRET`], without caveats.
pub fn base_key() -> ApiKey {
    ApiKey::new(b"fuzz-head", &SECRET).expect("a non-empty head")
}

/// A key minted with [`SECRET`] and narrowed twice; [`tamper_action`] is allowed.
pub fn restricted_key() -> ApiKey {
    base_key()
        .restrict(&caveat_with(
            1,
            Caveat {
                disallow_deletes: true,
                not_after: Some(NOW + 3600),
                ..Caveat::default()
            },
        ))
        .restrict(&caveat_with(
            2,
            Caveat {
                allowed_paths: vec![CaveatPath {
                    bucket: "photos".into(),
                    encrypted_prefix: "X/".into(),
                }],
                max_object_ttl: Some(86_400),
                ..Caveat::default()
            },
        ))
}

/// A request [`restricted_key`] allows.
pub fn tamper_action() -> Action {
    Action {
        op: Operation::Read,
        bucket: Some("photos".into()),
        encrypted_key: Some("X/a.jpg".into()),
        time: NOW,
        object_expires_at: None,
    }
}

/// Requests of every kind, to check keys against.
pub fn sample_actions() -> Vec<Action> {
    let at = |op, bucket: Option<&str>, key: Option<&str>| Action {
        op,
        bucket: bucket.map(Into::into),
        encrypted_key: key.map(Into::into),
        time: NOW,
        object_expires_at: Some(NOW + 60),
    };
    vec![
        at(Operation::Read, Some("photos"), Some("X/a.jpg")),
        at(Operation::Write, Some("photos"), Some("X/a.jpg")),
        at(Operation::List, Some("photos"), Some("X/")),
        at(Operation::Delete, Some("photos"), Some("Y/b")),
        at(Operation::List, None, None),
        at(Operation::Write, Some("other"), None),
    ]
}

/// A full grant for the fixture satellite.
pub fn grant() -> AccessGrant {
    AccessGrant {
        satellite: NodeUrl {
            id: satellite().node_id(),
            address: "127.0.0.1:7777".into(),
        },
        api_key: base_key(),
        encryption: EncryptionStore::with_root(Key::from_bytes([0x44; 32])),
    }
}

/// The order limit the fixture satellite signed.
pub fn signed_limit() -> OrderLimit {
    let mut limit = OrderLimit {
        serial_number: SerialNumber([1; 16]),
        satellite_id: satellite().node_id(),
        node_id: node().node_id(),
        piece_id: PieceId([4; 32]),
        action: PieceAction::Put,
        limit: 1 << 20,
        piece_public_key: piece_key().public_key(),
        order_creation: NOW,
        order_expiration: NOW + 3600,
        piece_expiration: Some(NOW + 86_400),
        satellite_signature: Signature::default(),
    };
    limit.satellite_signature = satellite().sign(&limit);
    limit
}

/// The bytes of the fixture piece.
pub fn piece_data() -> Vec<u8> {
    (0..300u32).map(|i| (i * 7 % 251) as u8).collect()
}

/// The download header a node sends for the fixture piece: the signed limit, the piece
/// hash the fixture piece key signed, and the block hashes.
pub fn download_header() -> DownloadHeader {
    let data = piece_data();
    let mut hasher = BlockHasher::new(DEFAULT_HASH_BLOCK_SIZE);
    hasher.update(&data);
    let (block_hashes, root) = hasher.finish();
    let mut piece_hash = PieceHash {
        piece_id: signed_limit().piece_id,
        piece_size: data.len() as u64,
        hash_block_size: DEFAULT_HASH_BLOCK_SIZE,
        root,
        timestamp: NOW,
        signature: Signature::default(),
    };
    piece_hash.signature = piece_key().sign(&piece_hash);
    DownloadHeader {
        original_limit: signed_limit(),
        piece_hash,
        block_hashes,
    }
}

/// The piece hash the fixture piece key signed.
pub fn signed_piece_hash() -> PieceHash {
    download_header().piece_hash
}

/// The check-in the fixture node signed.
pub fn signed_checkin() -> CheckInRequest {
    let mut req = CheckInRequest {
        node_id: node().node_id(),
        public_key: node().public_key(),
        address: "127.0.0.1:28967".into(),
        capacity: NodeCapacity {
            free_bytes: 1 << 40,
            used_bytes: 1 << 20,
        },
        version: "0.1.0".into(),
        timestamp: NOW,
        signature: Signature::default(),
    };
    req.signature = node().sign(&req);
    req
}

/// Decodes `bytes` as JSON; whatever decodes must encode to JSON that decodes to the
/// same value and encodes to the same text again.
pub fn json_round_trip<T>(bytes: &[u8]) -> Option<T>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let value: T = serde_json::from_slice(bytes).ok()?;
    let text = serde_json::to_vec(&value).expect("a decoded value encodes");
    let again: T = serde_json::from_slice(&text).unwrap_or_else(|e| {
        panic!(
            "{} does not decode its own JSON {:?}: {e}",
            std::any::type_name::<T>(),
            String::from_utf8_lossy(&text)
        )
    });
    assert_eq!(again, value, "JSON round trip changed the value");
    assert_eq!(
        serde_json::to_vec(&again).expect("encodes"),
        text,
        "JSON encoding is not stable"
    );
    Some(value)
}

/// [`json_round_trip`] where only the round trip matters.
pub fn json_checked<T>(bytes: &[u8])
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let _ = json_round_trip::<T>(bytes);
}

/// Like [`json_round_trip`], for the postcard encoding of control frames and grants.
pub fn postcard_round_trip<T>(bytes: &[u8]) -> Option<T>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let value: T = postcard::from_bytes(bytes).ok()?;
    let encoded = postcard::to_allocvec(&value).expect("a decoded value encodes");
    let again: T = postcard::from_bytes(&encoded).unwrap_or_else(|e| {
        panic!(
            "{} does not decode its own postcard encoding: {e}",
            std::any::type_name::<T>()
        )
    });
    assert_eq!(again, value, "postcard round trip changed the value");
    Some(value)
}
