//! Moving one piece to or from one node, verifying everything the node sends back.
//!
//! Low level: [`Project`](super::Project) uses these to move whole segments; they are
//! public for tools and tests that talk to nodes directly.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
    AddressedOrderLimit, ErrorBody, ErrorCode, Identity, NodeId, PieceHash, PublicKey, Signable,
    Signature, now_unix,
};
use crate::transport::Transport;

fn unreachable(address: &str, e: &reqwest::Error) -> PieceError {
    PieceError::Unreachable {
        address: address.to_string(),
        reason: describe(e),
    }
}

fn timed_out(address: &str, reason: impl Into<String>) -> PieceError {
    PieceError::TimedOut {
        address: address.to_string(),
        reason: reason.into(),
    }
}

/// What the node sent does not match what was signed: bad data, not a bad link.
fn corrupt(address: &str, reason: impl Into<String>) -> PieceError {
    PieceError::Corrupt {
        address: address.to_string(),
        reason: reason.into(),
    }
}

fn invalid(address: &str, reason: impl Into<String>) -> PieceError {
    PieceError::Invalid {
        address: address.to_string(),
        reason: reason.into(),
    }
}

/// Largest response body read from a node other than piece data (error bodies, receipts).
const MAX_CONTROL_BODY: usize = 64 << 10;

/// Reads a small response body, refusing one that is too large or too slow: a node must
/// not be able to make the uplink buffer without bound or wait forever.
async fn read_small_body(
    address: &str,
    resp: reqwest::Response,
    timeout: Duration,
) -> Result<Bytes, PieceError> {
    let mut stream = resp.bytes_stream();
    let mut body = BytesMut::new();
    let deadline = tokio::time::Instant::now() + timeout;
    while let Some(chunk) = tokio::time::timeout_at(deadline, stream.next())
        .await
        .map_err(|_| timed_out(address, "response body stalled"))?
    {
        let chunk = chunk.map_err(|e| unreachable(address, &e))?;
        if body.len() + chunk.len() > MAX_CONTROL_BODY {
            return Err(invalid(address, "response body too large"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

async fn refused(address: &str, resp: reqwest::Response, timeout: Duration) -> PieceError {
    let status = resp.status();
    let bytes = read_small_body(address, resp, timeout)
        .await
        .unwrap_or_default();
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
pub async fn ping(transport: &Transport, node: &NodeId, address: &str, timeout: Duration) -> bool {
    let Ok(url) = transport.url(node, address, "/health") else {
        return false;
    };
    matches!(
        transport.http().get(url).timeout(timeout).send().await,
        Ok(r) if r.status().is_success()
    )
}

/// Streams `chunks` to the node as one piece and returns the node's receipt.
///
/// The body is framed: the order limit, the data, then the piece hash signed with the
/// segment's piece key, which can only be computed after the last byte.
pub async fn upload_piece(
    transport: Transport,
    target: AddressedOrderLimit,
    chunks: mpsc::Receiver<Bytes>,
    piece_key: Identity,
    idle_timeout: Duration,
) -> Result<PieceHash, PieceError> {
    let progress = Arc::new(AtomicU64::new(0));
    let limit = target.limit.clone();
    let first = control_frame(FrameKind::OrderLimit, &limit);
    struct State {
        chunks: mpsc::Receiver<Bytes>,
        hasher: Option<BlockHasher>,
        first: Option<Bytes>,
        piece_key: Identity,
        limit_piece_id: crate::protocol::PieceId,
        progress: Arc<AtomicU64>,
    }
    let state = State {
        chunks,
        hasher: Some(BlockHasher::new(DEFAULT_HASH_BLOCK_SIZE)),
        first: Some(first),
        piece_key,
        limit_piece_id: limit.piece_id,
        progress: progress.clone(),
    };
    let (hash_tx, mut hash_rx) = mpsc::channel::<PieceHash>(1);
    let body = futures::stream::unfold((state, hash_tx), |(mut st, hash_tx)| async move {
        if let Some(first) = st.first.take() {
            return Some((Ok::<Bytes, std::io::Error>(first), (st, hash_tx)));
        }
        let hasher = st.hasher.as_mut()?;
        match st.chunks.recv().await {
            Some(chunk) => {
                st.progress
                    .fetch_add(chunk.len() as u64 + 1, Ordering::Relaxed);
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
                st.progress.fetch_add(1, Ordering::Relaxed);
                Some((Ok(frame), (st, hash_tx)))
            }
        }
    });
    let address = target.address.as_str();
    let url = transport
        .url(&limit.node_id, address, UPLOAD_PATH)
        .map_err(|e| invalid(address, e.to_string()))?;
    let send = transport
        .http()
        .post(url)
        .body(reqwest::Body::wrap_stream(body))
        .send();
    // A watchdog: the transfer must make progress (the node reads what is queued, or
    // answers once everything is sent) at least once per idle timeout.
    let resp = tokio::select! {
        r = send => r.map_err(|e| unreachable(address, &e))?,
        _ = stalled(&progress, idle_timeout) => {
            return Err(timed_out(address, "stalled: no progress within the timeout"));
        }
    };
    if !resp.status().is_success() {
        return Err(refused(address, resp, idle_timeout).await);
    }
    let body = read_small_body(address, resp, idle_timeout).await?;
    let reply: UploadResponse = serde_json::from_slice(&body)
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

/// Resolves once `progress` has not changed for `timeout`.
async fn stalled(progress: &AtomicU64, timeout: Duration) {
    let tick = (timeout / 4).max(Duration::from_millis(10));
    let mut last = progress.load(Ordering::Relaxed);
    let mut since = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(tick).await;
        let now = progress.load(Ordering::Relaxed);
        if now != last {
            last = now;
            since = tokio::time::Instant::now();
        } else if since.elapsed() >= timeout {
            return;
        }
    }
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
    transport: Transport,
    fetch: PieceFetch,
    out: mpsc::Sender<VerifiedChunk>,
    idle_timeout: Duration,
) {
    let result = fetch_inner(&transport, &fetch, &out, idle_timeout).await;
    if let Err(e) = result {
        let _ = out.send(Err(e)).await;
    }
}

async fn fetch_inner(
    transport: &Transport,
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
    let url = transport
        .url(&fetch.target.limit.node_id, address, DOWNLOAD_PATH)
        .map_err(|e| invalid(address, e.to_string()))?;
    let resp = tokio::time::timeout(idle_timeout, transport.http().post(url).json(&req).send())
        .await
        .map_err(|_| timed_out(address, "no answer within the timeout"))?
        .map_err(|e| unreachable(address, &e))?;
    if !resp.status().is_success() {
        return Err(refused(address, resp, idle_timeout).await);
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
            .map_err(|_| timed_out(address, "stalled: no data within the timeout"))?;
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
                    verify_header(&h, fetch).map_err(|reason| corrupt(address, reason))?;
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
                        .map_err(|e| corrupt(address, e.to_string()))?;
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
    if !original.action.is_put() {
        return Err("the piece's original order limit is not an upload limit".into());
    }
    if original.piece_id != fetch.target.limit.piece_id
        || original.node_id != fetch.target.limit.node_id
    {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{NodeId, OrderLimit, PieceAction, PieceId, SerialNumber};
    use crate::transport::Mode;
    use tokio::io::AsyncReadExt;

    fn target(address: String) -> AddressedOrderLimit {
        AddressedOrderLimit {
            piece_num: 0,
            address,
            limit: OrderLimit {
                serial_number: SerialNumber::random(),
                satellite_id: NodeId::random(),
                node_id: NodeId::random(),
                piece_id: PieceId::random(),
                action: PieceAction::Put,
                limit: 1 << 20,
                piece_public_key: Identity::generate(0).public_key(),
                order_creation: 0,
                order_expiration: 0,
                piece_expiration: None,
                satellite_signature: Signature::default(),
            },
        }
    }

    /// A "node" that accepts connections, reads everything, and never answers.
    async fn silent_node() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 1 << 16];
                    while sock.read(&mut buf).await.is_ok_and(|n| n > 0) {}
                });
            }
        });
        address
    }

    #[tokio::test]
    async fn a_node_that_never_answers_cannot_hang_an_upload() {
        let address = silent_node().await;
        let (tx, rx) = mpsc::channel(2);
        tx.send(Bytes::from(vec![1u8; 1000])).await.unwrap();
        drop(tx);
        let started = std::time::Instant::now();
        let err = upload_piece(
            Transport::shared(Mode::PlainHttp),
            target(address),
            rx,
            Identity::generate(0),
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("stalled"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn a_node_that_never_answers_cannot_hang_a_download() {
        let address = silent_node().await;
        let (tx, mut rx) = mpsc::channel(2);
        fetch_piece(
            Transport::shared(Mode::PlainHttp),
            PieceFetch {
                target: target(address),
                offset: 0,
                length: 100,
                piece_size: 100,
                satellite_key: Identity::generate(0).public_key(),
            },
            tx,
            Duration::from_millis(300),
        )
        .await;
        let err = rx.recv().await.unwrap().unwrap_err();
        assert!(err.to_string().contains("timeout"), "{err}");
    }

    /// A "node" that answers every request with an endless error body.
    async fn babbling_node() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    use tokio::io::AsyncWriteExt;
                    let mut buf = vec![0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    let _ = sock
                        .write_all(b"HTTP/1.1 500 Oops\r\ntransfer-encoding: chunked\r\n\r\n")
                        .await;
                    let chunk = format!("{:x}\r\n{}\r\n", 8192, "x".repeat(8192));
                    while sock.write_all(chunk.as_bytes()).await.is_ok() {}
                });
            }
        });
        address
    }

    #[tokio::test]
    async fn an_endless_error_body_is_cut_off() {
        let address = babbling_node().await;
        let (tx, mut rx) = mpsc::channel(2);
        fetch_piece(
            Transport::shared(Mode::PlainHttp),
            PieceFetch {
                target: target(address),
                offset: 0,
                length: 100,
                piece_size: 100,
                satellite_key: Identity::generate(0).public_key(),
            },
            tx,
            Duration::from_secs(5),
        )
        .await;
        // The refusal is reported (with an unknown code) instead of buffering forever.
        let err = rx.recv().await.unwrap().unwrap_err();
        assert!(matches!(err, PieceError::Refused { .. }), "{err}");
    }
}
