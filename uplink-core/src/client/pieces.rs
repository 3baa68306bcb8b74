//! Moving one piece to or from one node, verifying everything the node sends back.
//!
//! Low level: [`Project`](super::Project) uses these to move whole segments; they are
//! public for tools and tests that talk to nodes directly.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::sync::mpsc;

use super::error::PieceError;
use super::metainfo::describe;
use crate::protocol::piece::{BlockHasher, DEFAULT_HASH_BLOCK_SIZE, root_of, verify_blocks};
use crate::protocol::wire::{
    DOWNLOAD_PATH, DownloadHeader, DownloadRequest, FRAME_HEADER_LEN, FrameDecoder, FrameKind,
    UPLOAD_PATH, UploadResponse, control_frame, decode_control, frame_header,
};
use crate::protocol::{
    AddressedOrderLimit, ErrorBody, ErrorCode, Identity, PieceHash, PublicKey, Signable, Signature,
    now_unix,
};

fn unreachable(address: &str, e: &reqwest::Error) -> PieceError {
    PieceError::Unreachable {
        address: address.to_string(),
        reason: describe(e),
    }
}

fn invalid(address: &str, reason: impl Into<String>) -> PieceError {
    PieceError::Invalid {
        address: address.to_string(),
        reason: reason.into(),
    }
}

async fn refused(address: &str, resp: reqwest::Response) -> PieceError {
    let status = resp.status();
    let bytes = resp.bytes().await.unwrap_or_default();
    match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => PieceError::Refused {
            address: address.to_string(),
            code: body.error.code,
            message: body.error.message,
        },
        Err(_) => PieceError::Refused {
            address: address.to_string(),
            code: ErrorCode::Unknown,
            message: format!("HTTP {status}"),
        },
    }
}

/// Checks that a node answers at all, so that dead nodes are dropped before any data of
/// a segment is consumed.
pub async fn ping(http: &reqwest::Client, address: &str, timeout: Duration) -> bool {
    matches!(
        http.get(format!("http://{address}/health"))
            .timeout(timeout)
            .send()
            .await,
        Ok(r) if r.status().is_success()
    )
}

/// Streams `chunks` to the node as one piece and returns the node's receipt.
///
/// The body is framed: the order limit, the data, then the piece hash signed with the
/// segment's piece key, which can only be computed after the last byte.
pub async fn upload_piece(
    http: reqwest::Client,
    target: AddressedOrderLimit,
    chunks: mpsc::Receiver<Bytes>,
    piece_key: Identity,
) -> Result<PieceHash, PieceError> {
    let limit = target.limit.clone();
    let first = control_frame(FrameKind::OrderLimit, &limit);
    struct State {
        chunks: mpsc::Receiver<Bytes>,
        hasher: Option<BlockHasher>,
        first: Option<Bytes>,
        piece_key: Identity,
        limit_piece_id: crate::protocol::PieceId,
    }
    let state = State {
        chunks,
        hasher: Some(BlockHasher::new(DEFAULT_HASH_BLOCK_SIZE)),
        first: Some(first),
        piece_key,
        limit_piece_id: limit.piece_id,
    };
    let (hash_tx, mut hash_rx) = mpsc::channel::<PieceHash>(1);
    let body = futures::stream::unfold((state, hash_tx), |(mut st, hash_tx)| async move {
        if let Some(first) = st.first.take() {
            return Some((Ok::<Bytes, std::io::Error>(first), (st, hash_tx)));
        }
        let hasher = st.hasher.as_mut()?;
        match st.chunks.recv().await {
            Some(chunk) => {
                hasher.update(&chunk);
                let mut frame = BytesMut::with_capacity(FRAME_HEADER_LEN + chunk.len());
                frame.extend_from_slice(&frame_header(FrameKind::Data, chunk.len()));
                frame.extend_from_slice(&chunk);
                Some((Ok(frame.freeze()), (st, hash_tx)))
            }
            None => {
                let hasher = st.hasher.take()?;
                let size = hasher.total();
                let (_, root) = hasher.finish();
                let mut hash = PieceHash {
                    piece_id: st.limit_piece_id,
                    piece_size: size,
                    hash_block_size: DEFAULT_HASH_BLOCK_SIZE,
                    root,
                    timestamp: now_unix(),
                    signature: Signature::default(),
                };
                hash.signature = st.piece_key.sign(&hash);
                let frame = control_frame(FrameKind::PieceHash, &hash);
                let _ = hash_tx.try_send(hash);
                Some((Ok(frame), (st, hash_tx)))
            }
        }
    });
    let address = target.address.as_str();
    let resp = http
        .post(format!("http://{address}{UPLOAD_PATH}"))
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .map_err(|e| unreachable(address, &e))?;
    if !resp.status().is_success() {
        return Err(refused(address, resp).await);
    }
    let reply: UploadResponse = resp
        .json()
        .await
        .map_err(|e| invalid(address, format!("unreadable receipt: {e}")))?;
    let sent = hash_rx
        .try_recv()
        .map_err(|_| invalid(address, "node answered before the upload finished"))?;
    let receipt = reply.receipt;
    if receipt.piece_id != sent.piece_id
        || receipt.piece_size != sent.piece_size
        || receipt.root != sent.root
    {
        return Err(invalid(
            address,
            "receipt does not match the uploaded piece",
        ));
    }
    Ok(receipt)
}

/// Everything needed to fetch and verify part of one piece.
#[derive(Clone, Debug)]
pub struct PieceFetch {
    pub target: AddressedOrderLimit,
    /// First piece byte; a multiple of the hash block size.
    pub offset: u64,
    pub length: u64,
    pub piece_size: u64,
    pub satellite_key: PublicKey,
}

/// Verified bytes of a piece, in order, starting at the requested offset.
pub type VerifiedChunk = Result<Bytes, PieceError>;

/// Fetches a byte range of a piece and sends it on `out` in hash-verified chunks.
///
/// Nothing reaches `out` that is not covered by a block hash signed with the piece key
/// that the satellite bound into the original upload's order limit.
pub async fn fetch_piece(
    http: reqwest::Client,
    fetch: PieceFetch,
    out: mpsc::Sender<VerifiedChunk>,
    idle_timeout: Duration,
) {
    let result = fetch_inner(&http, &fetch, &out, idle_timeout).await;
    if let Err(e) = result {
        let _ = out.send(Err(e)).await;
    }
}

async fn fetch_inner(
    http: &reqwest::Client,
    fetch: &PieceFetch,
    out: &mpsc::Sender<VerifiedChunk>,
    idle_timeout: Duration,
) -> Result<(), PieceError> {
    let address = fetch.target.address.as_str();
    let req = DownloadRequest {
        order_limit: fetch.target.limit.clone(),
        offset: fetch.offset,
        length: fetch.length,
    };
    let resp = http
        .post(format!("http://{address}{DOWNLOAD_PATH}"))
        .json(&req)
        .send()
        .await
        .map_err(|e| unreachable(address, &e))?;
    if !resp.status().is_success() {
        return Err(refused(address, resp).await);
    }
    let mut stream = resp.bytes_stream();
    let mut decoder = FrameDecoder::new();
    let mut header: Option<DownloadHeader> = None;
    let mut pending = BytesMut::new();
    let mut verified_to = fetch.offset;
    let end = fetch.offset + fetch.length;
    loop {
        let next = tokio::time::timeout(idle_timeout, stream.next())
            .await
            .map_err(|_| invalid(address, "stalled: no data within the timeout"))?;
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| unreachable(address, &e))?;
        decoder.push(&chunk);
        while let Some((kind, payload)) = decoder
            .next_frame()
            .map_err(|e| invalid(address, e.to_string()))?
        {
            match (kind, &header) {
                (FrameKind::DownloadHeader, None) => {
                    let h: DownloadHeader =
                        decode_control(&payload).map_err(|e| invalid(address, e.to_string()))?;
                    verify_header(&h, fetch).map_err(|reason| invalid(address, reason))?;
                    header = Some(h);
                }
                (FrameKind::Data, Some(h)) => {
                    pending.extend_from_slice(&payload);
                    let block = h.piece_hash.hash_block_size as usize;
                    let received_to = verified_to + pending.len() as u64;
                    if received_to > end {
                        return Err(invalid(address, "sent more bytes than requested"));
                    }
                    // Release every whole verified block (and the tail at the end).
                    let whole = if received_to == end {
                        pending.len()
                    } else {
                        pending.len() / block * block
                    };
                    if whole > 0 {
                        let ready = pending.split_to(whole).freeze();
                        verify_blocks(
                            &ready,
                            verified_to,
                            h.piece_hash.piece_size,
                            h.piece_hash.hash_block_size,
                            &h.block_hashes,
                        )
                        .map_err(|e| invalid(address, e.to_string()))?;
                        verified_to += ready.len() as u64;
                        if out.send(Ok(ready)).await.is_err() {
                            return Err(PieceError::Cancelled);
                        }
                    }
                }
                _ => return Err(invalid(address, "unexpected frame order")),
            }
        }
    }
    if verified_to != end || decoder.pending() != 0 {
        return Err(invalid(
            address,
            format!(
                "truncated: got {} of {} bytes",
                verified_to - fetch.offset,
                fetch.length
            ),
        ));
    }
    Ok(())
}

fn verify_header(h: &DownloadHeader, fetch: &PieceFetch) -> Result<(), String> {
    let original = &h.original_limit;
    original
        .verify_signature(&fetch.satellite_key)
        .map_err(|_| "the piece's original order limit is not signed by the satellite")?;
    if original.piece_id != fetch.target.limit.piece_id {
        return Err("the node answered with another piece".into());
    }
    let ph = &h.piece_hash;
    if ph.piece_id != original.piece_id {
        return Err("piece hash names another piece".into());
    }
    original
        .piece_public_key
        .verify(&ph.signing_bytes(), &ph.signature)
        .map_err(|_| "piece hash is not signed by the uploader's piece key")?;
    if ph.piece_size != fetch.piece_size {
        return Err(format!(
            "piece is {} bytes but the satellite recorded {}",
            ph.piece_size, fetch.piece_size
        ));
    }
    if !(4096..=16 << 20).contains(&ph.hash_block_size) {
        return Err("unreasonable hash block size".into());
    }
    if !fetch.offset.is_multiple_of(ph.hash_block_size as u64) {
        return Err("requested offset is not block aligned".into());
    }
    if root_of(&h.block_hashes) != ph.root {
        return Err("block hashes do not match the signed root".into());
    }
    Ok(())
}
