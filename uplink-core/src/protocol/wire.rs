//! The piece transfer protocol between uplinks (or satellite workers) and nodes.
//!
//! Bodies are sequences of frames: `kind: u8, len: u32 (big endian), payload`.
//! An upload body is `OrderLimit, Data*, PieceHash`: the hash can only be signed once the
//! last byte is known, which a stream of unknown length needs. A download response is
//! `DownloadHeader, Data*`. Control frames carry postcard-encoded messages.

use bytes::{Buf, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use super::ProtocolError;
use super::identity::{PublicKey, Signable, Signature};
use super::ids::NodeId;
use super::order::OrderLimit;
use super::piece::{BlockHash, PieceHash};

pub const UPLOAD_PATH: &str = "/v1/pieces/upload";
pub const DOWNLOAD_PATH: &str = "/v1/pieces/download";
pub const DELETE_PATH: &str = "/v1/pieces/delete";
pub const CHECKIN_PATH: &str = "/v1/nodes/checkin";
/// Where a node answers an [`IdentityChallenge`] with an [`IdentityProof`].
pub const IDENTITY_CHALLENGE_PATH: &str = "/v1/identity/challenge";

pub const FRAME_HEADER_LEN: usize = 5;
/// Largest control frame accepted (an order limit, a hash, a header with block hashes).
pub const MAX_CONTROL_FRAME: usize = 4 << 20;
/// Largest data frame accepted.
pub const MAX_DATA_FRAME: usize = 4 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    OrderLimit = 1,
    Data = 2,
    PieceHash = 3,
    DownloadHeader = 4,
}

impl FrameKind {
    fn from_u8(b: u8) -> Result<Self, ProtocolError> {
        Ok(match b {
            1 => FrameKind::OrderLimit,
            2 => FrameKind::Data,
            3 => FrameKind::PieceHash,
            4 => FrameKind::DownloadHeader,
            other => {
                return Err(ProtocolError::Malformed(format!(
                    "unknown frame kind {other}"
                )));
            }
        })
    }
}

pub fn frame_header(kind: FrameKind, len: usize) -> [u8; FRAME_HEADER_LEN] {
    let mut h = [0u8; FRAME_HEADER_LEN];
    h[0] = kind as u8;
    h[1..].copy_from_slice(&(len as u32).to_be_bytes());
    h
}

/// A whole control frame carrying `message`.
pub fn control_frame<T: Serialize>(kind: FrameKind, message: &T) -> Bytes {
    let payload = postcard::to_allocvec(message).expect("postcard encoding cannot fail");
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + payload.len());
    out.extend_from_slice(&frame_header(kind, payload.len()));
    out.extend_from_slice(&payload);
    Bytes::from(out)
}

pub fn decode_control<T: for<'de> Deserialize<'de>>(payload: &[u8]) -> Result<T, ProtocolError> {
    postcard::from_bytes(payload)
        .map_err(|e| ProtocolError::Malformed(format!("undecodable control frame: {e}")))
}

/// Incremental frame parser over an arbitrary chunking of the body.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: BytesMut,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete frame, if one has fully arrived.
    pub fn next_frame(&mut self) -> Result<Option<(FrameKind, Bytes)>, ProtocolError> {
        if self.buf.len() < FRAME_HEADER_LEN {
            return Ok(None);
        }
        let kind = FrameKind::from_u8(self.buf[0])?;
        let len = u32::from_be_bytes(self.buf[1..5].try_into().expect("4 bytes")) as usize;
        let max = if kind == FrameKind::Data {
            MAX_DATA_FRAME
        } else {
            MAX_CONTROL_FRAME
        };
        if len > max {
            return Err(ProtocolError::Malformed(format!(
                "frame of {len} bytes exceeds the limit of {max}"
            )));
        }
        // No reserving for the announced length: memory grows with the bytes that
        // actually arrive, not with what a 5-byte header claims.
        if self.buf.len() < FRAME_HEADER_LEN + len {
            return Ok(None);
        }
        self.buf.advance(FRAME_HEADER_LEN);
        Ok(Some((kind, self.buf.split_to(len).freeze())))
    }

    /// Bytes received but not yet returned as a frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// Request body of a piece download.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadRequest {
    pub order_limit: OrderLimit,
    /// First piece byte to send.
    pub offset: u64,
    /// Number of piece bytes to send.
    pub length: u64,
}

/// First frame of a download response: everything the uplink needs to verify the bytes
/// that follow without trusting the node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadHeader {
    /// The satellite-signed PUT limit the piece was stored under (binds the piece key).
    pub original_limit: OrderLimit,
    /// Signed by the uplink's piece key named in `original_limit`.
    pub piece_hash: PieceHash,
    pub block_hashes: Vec<BlockHash>,
}

/// Response body of a successful upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadResponse {
    /// The piece hash re-signed by the node: proof that the node stored the piece.
    pub receipt: PieceHash,
}

/// Request body of a piece deletion (the order limit's action is `Delete`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRequest {
    pub order_limit: OrderLimit,
}

/// How much a node can store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NodeCapacity {
    pub free_bytes: u64,
    pub used_bytes: u64,
}

/// A node's periodic check-in, signed by the node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInRequest {
    pub node_id: NodeId,
    pub public_key: PublicKey,
    /// `host:port` where the node serves pieces.
    pub address: String,
    pub capacity: NodeCapacity,
    pub version: String,
    /// Unix seconds.
    pub timestamp: i64,
    pub signature: Signature,
}

impl Signable for CheckInRequest {
    const DOMAIN: &'static [u8] = b"sj-checkin-v1";
    fn signed_fields(&self) -> Vec<u8> {
        postcard::to_allocvec(&(
            &self.node_id,
            &self.public_key,
            &self.address,
            &self.capacity,
            &self.version,
            self.timestamp,
        ))
        .expect("postcard encoding cannot fail")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInResponse {
    /// The satellite's node id, so the node can confirm whom it talks to.
    pub satellite_id: NodeId,
    /// The satellite's public key: the node checks that it hashes to the trusted id and
    /// then verifies order limits with it.
    pub satellite_public_key: PublicKey,
}

/// Sent by a satellite to the address a node claimed at check-in: whoever answers there
/// must sign it with the key of the node that checked in. The satellite dials nothing
/// else, and learns nothing from a failure but that the proof did not come.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityChallenge {
    /// Fresh random bytes for every challenge, so a proof cannot be replayed.
    pub nonce: [u8; 32],
    /// The satellite asking, so a proof given to one satellite is worthless to another.
    pub satellite_id: NodeId,
    /// The address the satellite dialed (the one claimed in the check-in).
    pub address: String,
}

impl Signable for IdentityChallenge {
    const DOMAIN: &'static [u8] = b"sj-identity-challenge-v1";
    fn signed_fields(&self) -> Vec<u8> {
        postcard::to_allocvec(&(&self.nonce, &self.satellite_id, &self.address))
            .expect("postcard encoding cannot fail")
    }
}

/// A node's answer to an [`IdentityChallenge`]: its signature over the challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProof {
    pub signature: Signature,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_any_chunking() {
        let mut body = Vec::new();
        body.extend_from_slice(&control_frame(FrameKind::PieceHash, &(1u32, "x")));
        body.extend_from_slice(&frame_header(FrameKind::Data, 3));
        body.extend_from_slice(b"abc");
        body.extend_from_slice(&frame_header(FrameKind::Data, 0));
        for chunk_size in [1, 2, 3, 7, 100] {
            let mut dec = FrameDecoder::new();
            let mut frames = Vec::new();
            for chunk in body.chunks(chunk_size) {
                dec.push(chunk);
                while let Some(f) = dec.next_frame().unwrap() {
                    frames.push(f);
                }
            }
            assert_eq!(frames.len(), 3);
            assert_eq!(frames[0].0, FrameKind::PieceHash);
            let (n, s): (u32, String) = decode_control(&frames[0].1).unwrap();
            assert_eq!((n, s.as_str()), (1, "x"));
            assert_eq!(&frames[1].1[..], b"abc");
            assert!(frames[2].1.is_empty());
            assert_eq!(dec.pending(), 0);
        }
    }

    #[test]
    fn identity_challenges_sign_every_field_under_their_own_domain() {
        use crate::protocol::Identity;
        let node = Identity::generate(0);
        let challenge = IdentityChallenge {
            nonce: [7; 32],
            satellite_id: NodeId::random(),
            address: "127.0.0.1:7777".into(),
        };
        let signature = node.sign(&challenge);
        node.public_key()
            .verify(&challenge.signing_bytes(), &signature)
            .unwrap();
        let edits: [fn(&mut IdentityChallenge); 3] = [
            |c| c.nonce[31] ^= 1,
            |c| c.satellite_id = NodeId::random(),
            |c| c.address.push('0'),
        ];
        for (i, edit) in edits.into_iter().enumerate() {
            let mut changed = challenge.clone();
            edit(&mut changed);
            assert!(
                node.public_key()
                    .verify(&changed.signing_bytes(), &signature)
                    .is_err(),
                "field {i} is not covered by the signature"
            );
        }
        assert!(
            challenge
                .signing_bytes()
                .starts_with(b"sj-identity-challenge-v1")
        );
    }

    #[test]
    fn oversized_and_unknown_frames_are_refused() {
        let mut dec = FrameDecoder::new();
        dec.push(&frame_header(FrameKind::Data, MAX_DATA_FRAME + 1));
        assert!(dec.next_frame().is_err());
        let mut dec = FrameDecoder::new();
        dec.push(&[9, 0, 0, 0, 0]);
        assert!(dec.next_frame().is_err());
    }

    #[test]
    fn a_frame_header_alone_does_not_allocate_its_payload() {
        // Five bytes announcing a frame of the largest size must not make the receiver
        // set aside that much memory before the bytes arrive: one slow connection per
        // few megabytes would exhaust a node.
        let mut dec = FrameDecoder::new();
        dec.push(&frame_header(FrameKind::Data, MAX_DATA_FRAME));
        assert!(dec.next_frame().unwrap().is_none());
        assert!(
            dec.buf.capacity() < 64 * 1024,
            "{} bytes reserved for 5 received",
            dec.buf.capacity()
        );
        // The frame still decodes once its bytes arrive.
        dec.push(&vec![7; MAX_DATA_FRAME]);
        let (kind, payload) = dec.next_frame().unwrap().unwrap();
        assert_eq!((kind, payload.len()), (FrameKind::Data, MAX_DATA_FRAME));
    }
}
