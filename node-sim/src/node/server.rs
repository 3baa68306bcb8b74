//! The node's HTTP API (actix-web): piece upload, download and delete, the identity
//! challenge of check-in, satellites' retain requests (garbage collection), health,
//! metrics.
//!
//! Bodies follow [`uplink_core::protocol::wire`]: uploads and download responses are
//! frame streams, the rest JSON. Errors are [`uplink_core::protocol::ErrorBody`] JSON with
//! the status of their code.
//!
//! Every connection is bounded in time before anything is authenticated: the head of
//! each request must arrive within `keep_alive + header_timeout` of the previous
//! response (or of the connection's start), and a request body must keep up a minimum
//! rate (the network's shared hardening, `uplink_core::transport::server`).

use std::net::TcpListener;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, Server, Service, ServiceRequest};
use actix_web::http::KeepAlive;
use actix_web::{App, HttpMessage, HttpRequest, HttpResponse, HttpServer, web};
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use prometheus::{Histogram, IntCounter};
use uplink_core::protocol::piece::DEFAULT_HASH_BLOCK_SIZE;
use uplink_core::protocol::wire::{
    self, DELETE_PATH, DOWNLOAD_PATH, DeleteRequest, DownloadHeader, DownloadRequest, FrameDecoder,
    FrameKind, IDENTITY_CHALLENGE_PATH, IdentityChallenge, IdentityProof, UPLOAD_PATH,
    UploadResponse,
};
use uplink_core::protocol::{
    BlockHasher, Identity, NodeId, OrderLimit, PieceHash, RETAIN_PATH, RetainRequest,
    RetainResponse, Signable, Signature, now_unix,
};

use super::error::NodeError;
use super::gc::Retainer;
use super::metrics::NodeMetrics;
use super::piecestore::{PieceHeader, PieceReader, PieceStore, StoreError};
use uplink_core::transport::server::ServerConfig;
use uplink_core::transport::server::body_rate::{BodyRate, MinRate};
use uplink_core::transport::server::deadlines::{self, Watched, conn_watch};

use super::space::{Reservation, Space};
use super::verify::{ActionKind, OrderVerifier};

/// Largest data frame a download response carries.
pub const DOWNLOAD_CHUNK: usize = 256 << 10;
/// Largest JSON request body (download and delete requests are small).
const MAX_JSON_BODY: usize = 1 << 20;

/// What the request handlers share.
pub(crate) struct NodeState {
    pub identity: Identity,
    pub store: Arc<dyn PieceStore>,
    pub verifier: Arc<OrderVerifier>,
    pub space: Arc<Space>,
    /// The address this node advertises; the only one it proves its identity for.
    pub address: String,
    pub metrics: NodeMetrics,
    pub retainer: Arc<Retainer>,
    /// Largest retain request body accepted.
    pub retain_max_body: usize,
}

/// How long connections may take; see [`super::NodeConfig`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct ServerLimits {
    pub workers: usize,
    pub header_timeout: Duration,
    pub keep_alive: Duration,
    pub disconnect_timeout: Duration,
    pub body_rate: BodyRate,
}

impl NodeState {
    fn node_id(&self) -> NodeId {
        self.identity.node_id()
    }

    async fn refresh_used_gauge(&self) {
        if let Ok(used) = self.store.used_bytes().await {
            self.metrics
                .used_bytes
                .set(i64::try_from(used).unwrap_or(i64::MAX));
        }
    }
}

/// Builds the server on an already bound listener. The returned future runs it.
/// With `tls`, the server speaks only TLS (with the node's identity certificate).
pub(crate) fn build(
    state: Arc<NodeState>,
    listener: TcpListener,
    limits: ServerLimits,
    tls: Option<ServerConfig>,
) -> std::io::Result<Server> {
    listener.set_nonblocking(true)?;
    let body_rate = limits.body_rate;
    let server = HttpServer::new(move || {
        let metrics = state.metrics.clone();
        App::new()
            .app_data(web::Data::from(state.clone()))
            .app_data(
                web::JsonConfig::default()
                    .limit(MAX_JSON_BODY)
                    .error_handler(|err, _| {
                        NodeError::BadRequest(format!(
                            "request body is not the expected JSON: {err}"
                        ))
                        .into()
                    }),
            )
            .wrap_fn(move |mut req: ServiceRequest, srv| {
                // The one choke point for request metrics, and for the connection's
                // deadline: none while a request is served, the next from its end.
                let conn = conn_watch(&req);
                if let Some(conn) = &conn {
                    conn.busy();
                }
                let endpoint = endpoint_label(req.path());
                let started = Instant::now();
                let received = metrics.bytes_received.with_label_values(&[endpoint]);
                let payload = req.take_payload().inspect_ok(move |chunk| {
                    received.inc_by(chunk.len() as u64);
                });
                req.set_payload(Payload::Stream {
                    payload: Box::pin(MinRate::new(Box::pin(payload), body_rate)),
                });
                let response = srv.call(req);
                let metrics = metrics.clone();
                async move {
                    let response = response.await.inspect_err(|e| {
                        let status = e.as_response_error().status_code().as_u16().to_string();
                        metrics
                            .requests
                            .with_label_values(&[endpoint, status.as_str()])
                            .inc();
                        if let Some(conn) = &conn {
                            conn.waiting();
                        }
                    })?;
                    let status = response.status().as_u16().to_string();
                    let done = MeteredDone {
                        requests: metrics
                            .requests
                            .with_label_values(&[endpoint, status.as_str()]),
                        duration: metrics
                            .request_duration
                            .with_label_values(&[endpoint, status.as_str()]),
                        started,
                    };
                    let sent = metrics.bytes_sent.with_label_values(&[endpoint]);
                    Ok(response.map_body(move |_, body| {
                        let metered = MeteredBody {
                            inner: body,
                            sent,
                            done: Some(done),
                        };
                        Watched::new(metered, conn)
                    }))
                }
            })
            .route(UPLOAD_PATH, web::post().to(upload))
            .route(DOWNLOAD_PATH, web::post().to(download))
            .route(DELETE_PATH, web::post().to(delete))
            .route(IDENTITY_CHALLENGE_PATH, web::post().to(identity_challenge))
            .route(RETAIN_PATH, web::post().to(retain))
            .route("/health", web::get().to(health))
            .route("/metrics", web::get().to(metrics_text))
            .default_service(web::to(not_found))
    })
    // Small frames (a piece's header, a short answer) go out at once: with Nagle's
    // algorithm the second write of a response waits for the client's delayed ACK,
    // 40 ms a request.
    .tcp_nodelay(true)
    .workers(limits.workers.max(1))
    .on_connect(deadlines::on_connect(
        limits.keep_alive + limits.header_timeout,
    ))
    .client_request_timeout(limits.header_timeout)
    .client_disconnect_timeout(limits.disconnect_timeout)
    .keep_alive(if limits.keep_alive.is_zero() {
        KeepAlive::Disabled
    } else {
        KeepAlive::Timeout(limits.keep_alive)
    })
    .disable_signals();
    let server = match tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls)?,
        None => server.listen(listener)?,
    };
    Ok(server.run())
}

/// Bounded label values: one per known endpoint.
fn endpoint_label(path: &str) -> &'static str {
    match path {
        UPLOAD_PATH => "upload",
        DOWNLOAD_PATH => "download",
        DELETE_PATH => "delete",
        IDENTITY_CHALLENGE_PATH => "identity",
        RETAIN_PATH => "retain",
        "/health" => "health",
        "/metrics" => "metrics",
        _ => "other",
    }
}

/// Recorded once, when the response body is finished or dropped.
struct MeteredDone {
    requests: IntCounter,
    duration: Histogram,
    started: Instant,
}

/// A response body that counts its bytes and records the request when it ends, so that
/// the duration of a streamed download includes the streaming.
struct MeteredBody {
    inner: BoxBody,
    sent: IntCounter,
    done: Option<MeteredDone>,
}

impl MeteredBody {
    fn finish(&mut self) {
        if let Some(done) = self.done.take() {
            done.requests.inc();
            done.duration.observe(done.started.elapsed().as_secs_f64());
        }
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        self.finish();
    }
}

impl MessageBody for MeteredBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.inner.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => this.sent.inc_by(chunk.len() as u64),
            Poll::Ready(None) => this.finish(),
            _ => {}
        }
        polled
    }
}

async fn health(state: web::Data<NodeState>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "node_id": state.node_id().to_string(),
        "ok": true,
    }))
}

async fn metrics_text(state: web::Data<NodeState>) -> HttpResponse {
    state.refresh_used_gauge().await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, NodeError> {
    Err(NodeError::NotFoundEndpoint(format!(
        "no such endpoint: {} {}",
        req.method(),
        req.path()
    )))
}

/// Reads frames from a request body.
struct FrameReader {
    payload: web::Payload,
    decoder: FrameDecoder,
}

impl FrameReader {
    async fn next(&mut self) -> Result<Option<(FrameKind, Bytes)>, NodeError> {
        loop {
            if let Some(frame) = self
                .decoder
                .next_frame()
                .map_err(|e| NodeError::BadRequest(format!("upload body: {e}")))?
            {
                return Ok(Some(frame));
            }
            match self.payload.next().await {
                Some(Ok(chunk)) => self.decoder.push(&chunk),
                Some(Err(e)) => {
                    return Err(NodeError::BadRequest(format!(
                        "upload body could not be read: {e}"
                    )));
                }
                None if self.decoder.pending() > 0 => {
                    return Err(NodeError::BadRequest(format!(
                        "upload body ends inside a frame ({} bytes of it arrived)",
                        self.decoder.pending()
                    )));
                }
                None => return Ok(None),
            }
        }
    }
}

/// `POST UPLOAD_PATH`: `OrderLimit, Data*, PieceHash` frames.
async fn upload(
    state: web::Data<NodeState>,
    payload: web::Payload,
) -> Result<HttpResponse, NodeError> {
    let mut frames = FrameReader {
        payload,
        decoder: FrameDecoder::new(),
    };
    let limit: OrderLimit = match frames.next().await? {
        Some((FrameKind::OrderLimit, payload)) => wire::decode_control(&payload)
            .map_err(|e| NodeError::BadRequest(format!("order limit frame: {e}")))?,
        Some((kind, _)) => {
            return Err(NodeError::BadRequest(format!(
                "an upload body must start with an order limit frame, not {kind:?}"
            )));
        }
        None => {
            return Err(NodeError::BadRequest(
                "upload body is empty; it must start with an order limit frame".into(),
            ));
        }
    };
    state.verifier.verify(&limit, ActionKind::Upload)?;
    let (satellite, piece) = (limit.satellite_id, limit.piece_id);
    // Room for all the limit allows, before a byte is written.
    let mut reservation = state
        .space
        .reserve(limit.limit)
        .await
        .map_err(|e| match e {
            NodeError::DiskFull(why) => NodeError::DiskFull(format!("piece {piece}: {why}")),
            other => other,
        })?;
    let mut writer = state
        .store
        .create(satellite, piece)
        .await
        .map_err(|e| NodeError::from_store(e, satellite, piece))?;
    let received = receive_piece(&limit, &mut frames, writer.as_mut(), &mut reservation).await;
    let (piece_hash, block_hashes) = match received {
        Ok(r) => r,
        Err(e) => {
            if let Err(cancel) = writer.cancel().await {
                tracing::warn!(%piece, "cancelling a failed upload: {cancel}");
            }
            return Err(e);
        }
    };
    let header = PieceHeader {
        order_limit: limit,
        piece_hash: piece_hash.clone(),
        block_hashes,
        stored_at: now_unix(),
    };
    writer
        .commit(header)
        .await
        .map_err(|e| NodeError::from_store(e, satellite, piece))?;
    drop(reservation);
    state.metrics.pieces_stored.inc();
    state.refresh_used_gauge().await;

    let mut receipt = PieceHash {
        timestamp: now_unix(),
        signature: Signature::default(),
        ..piece_hash
    };
    receipt.signature = state.identity.sign(&receipt);
    tracing::debug!(%piece, %satellite, size = receipt.piece_size, "stored piece");
    Ok(HttpResponse::Ok().json(UploadResponse { receipt }))
}

/// Receives data frames and the closing piece hash, writing and hashing as they come;
/// returns the verified piece hash and the block hashes.
async fn receive_piece(
    limit: &OrderLimit,
    frames: &mut FrameReader,
    writer: &mut dyn super::piecestore::PieceWriter,
    reservation: &mut Reservation<'_>,
) -> Result<(PieceHash, Vec<uplink_core::protocol::piece::BlockHash>), NodeError> {
    let piece = limit.piece_id;
    let mut hasher = BlockHasher::new(DEFAULT_HASH_BLOCK_SIZE);
    let mut piece_hash: Option<PieceHash> = None;
    while let Some((kind, payload)) = frames.next().await? {
        if piece_hash.is_some() {
            return Err(NodeError::BadRequest(format!(
                "a {kind:?} frame follows the piece hash; the piece hash must be the last frame"
            )));
        }
        match kind {
            FrameKind::Data => {
                let len = payload.len() as u64;
                let size = writer.size() + len;
                if size > limit.limit {
                    return Err(NodeError::PieceTooLarge(format!(
                        "piece {piece} exceeds its order limit of {} bytes ({size} bytes sent)",
                        limit.limit
                    )));
                }
                hasher.update(&payload);
                writer
                    .write(&payload)
                    .await
                    .map_err(|e| NodeError::from_store(e, limit.satellite_id, piece))?;
                reservation.wrote(len);
            }
            FrameKind::PieceHash => {
                piece_hash = Some(
                    wire::decode_control(&payload)
                        .map_err(|e| NodeError::BadRequest(format!("piece hash frame: {e}")))?,
                );
            }
            other => {
                return Err(NodeError::BadRequest(format!(
                    "unexpected {other:?} frame in an upload body"
                )));
            }
        }
    }
    let received = writer.size();
    let piece_hash = piece_hash.ok_or_else(|| {
        NodeError::BadRequest(format!(
            "upload of piece {piece} ended after {received} data bytes without a piece hash \
             frame (truncated body)"
        ))
    })?;
    if piece_hash.hash_block_size != DEFAULT_HASH_BLOCK_SIZE {
        return Err(NodeError::BadRequest(format!(
            "piece hash uses hash blocks of {} bytes; this node hashes in blocks of \
             {DEFAULT_HASH_BLOCK_SIZE} bytes",
            piece_hash.hash_block_size
        )));
    }
    if piece_hash.piece_id != piece {
        return Err(NodeError::HashMismatch(format!(
            "piece hash is for piece {}, the order limit for piece {piece}",
            piece_hash.piece_id
        )));
    }
    if piece_hash.piece_size != received {
        return Err(NodeError::HashMismatch(format!(
            "piece hash states {} bytes for piece {piece}, {received} bytes were received",
            piece_hash.piece_size
        )));
    }
    let (block_hashes, root) = hasher.finish();
    if piece_hash.root != root {
        return Err(NodeError::HashMismatch(format!(
            "piece hash root {} does not match the {received} bytes received for piece \
             {piece} (their root is {})",
            hex::encode(piece_hash.root),
            hex::encode(root)
        )));
    }
    limit
        .piece_public_key
        .verify(&piece_hash.signing_bytes(), &piece_hash.signature)
        .map_err(|e| {
            NodeError::OrderLimitInvalid(format!(
                "piece hash of piece {piece} is not signed by the piece key of its order \
                 limit: {e}"
            ))
        })?;
    Ok((piece_hash, block_hashes))
}

/// `POST DOWNLOAD_PATH`: JSON request, then `DownloadHeader, Data*` frames.
async fn download(
    state: web::Data<NodeState>,
    request: web::Json<DownloadRequest>,
) -> Result<HttpResponse, NodeError> {
    let DownloadRequest {
        order_limit: limit,
        offset,
        length,
    } = request.into_inner();
    state.verifier.verify(&limit, ActionKind::Download)?;
    let (satellite, piece) = (limit.satellite_id, limit.piece_id);
    if length > limit.limit {
        return Err(NodeError::PieceTooLarge(format!(
            "download of {length} bytes of piece {piece} exceeds its order limit of {} bytes",
            limit.limit
        )));
    }
    let reader = state
        .store
        .open(satellite, piece)
        .await
        .map_err(|e| NodeError::from_store(e, satellite, piece))?;
    let size = reader.size();
    let end = offset
        .checked_add(length)
        .filter(|end| *end <= size)
        .ok_or_else(|| {
            NodeError::BadRequest(format!(
                "range of {length} bytes at offset {offset} reaches past the end of piece \
                 {piece} ({size} bytes)"
            ))
        })?;
    let header = reader.header();
    let first = wire::control_frame(
        FrameKind::DownloadHeader,
        &DownloadHeader {
            original_limit: header.order_limit.clone(),
            piece_hash: header.piece_hash.clone(),
            block_hashes: header.block_hashes.clone(),
        },
    );
    let chunks = length.div_ceil(DOWNLOAD_CHUNK as u64);
    let total = first.len() as u64 + chunks * wire::FRAME_HEADER_LEN as u64 + length;
    let body = futures::stream::once(async move { Ok::<_, StoreError>(first) })
        .chain(data_frames(reader, offset, end));
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .no_chunking(total)
        .streaming(body))
}

/// Data frames of `[offset, end)`, read from the store one chunk at a time.
fn data_frames(
    reader: Box<dyn PieceReader>,
    offset: u64,
    end: u64,
) -> impl futures::Stream<Item = Result<Bytes, StoreError>> {
    futures::stream::unfold((reader, offset, end), |(reader, pos, end)| async move {
        if pos >= end {
            return None;
        }
        let n = (end - pos).min(DOWNLOAD_CHUNK as u64) as usize;
        match reader.read_at(pos, n).await {
            Ok(data) => {
                let mut frame = BytesMut::with_capacity(wire::FRAME_HEADER_LEN + n);
                frame.extend_from_slice(&wire::frame_header(FrameKind::Data, n));
                frame.extend_from_slice(&data);
                Some((Ok(frame.freeze()), (reader, pos + n as u64, end)))
            }
            Err(e) => {
                tracing::warn!("reading piece for download at {pos}: {e}");
                // End the stream after the error: the response is cut short.
                Some((Err(e), (reader, end, end)))
            }
        }
    })
}

/// `POST DELETE_PATH`: JSON `DeleteRequest`; deleting an absent piece succeeds.
async fn delete(
    state: web::Data<NodeState>,
    request: web::Json<DeleteRequest>,
) -> Result<HttpResponse, NodeError> {
    let limit = request.into_inner().order_limit;
    state.verifier.verify(&limit, ActionKind::Delete)?;
    let (satellite, piece) = (limit.satellite_id, limit.piece_id);
    let deleted = state
        .store
        .delete(satellite, piece)
        .await
        .map_err(|e| NodeError::from_store(e, satellite, piece))?;
    if deleted {
        state.metrics.pieces_deleted.inc();
        state.refresh_used_gauge().await;
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "deleted": deleted })))
}

/// `POST IDENTITY_CHALLENGE_PATH`: signs a trusted satellite's challenge for this node's
/// own address, proving to the satellite that this node answers there.
async fn identity_challenge(
    state: web::Data<NodeState>,
    challenge: web::Json<IdentityChallenge>,
) -> Result<web::Json<IdentityProof>, NodeError> {
    let challenge = challenge.into_inner();
    if !state.verifier.is_trusted(&challenge.satellite_id) {
        return Err(NodeError::UntrustedSatellite(format!(
            "identity challenge from satellite {}, which this node does not trust",
            challenge.satellite_id
        )));
    }
    if challenge.address != state.address {
        return Err(NodeError::BadRequest(format!(
            "identity challenge for address {:?}; this node is at {:?}",
            challenge.address, state.address
        )));
    }
    Ok(web::Json(IdentityProof {
        signature: state.identity.sign(&challenge),
    }))
}

/// `POST RETAIN_PATH`: a postcard [`RetainRequest`] of at most `retain_max_body` bytes.
/// Answers once the request is verified and queued; the pass runs in the background.
async fn retain(
    state: web::Data<NodeState>,
    request: HttpRequest,
    mut payload: web::Payload,
) -> Result<web::Json<RetainResponse>, NodeError> {
    let max = state.retain_max_body;
    let too_large = |size: String| {
        NodeError::BadRequest(format!(
            "retain request body of {size} bytes exceeds this node's limit of {max} bytes"
        ))
    };
    let announced = request
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = announced
        && len > max as u64
    {
        return Err(too_large(len.to_string()));
    }
    // Grows with what arrives, never past the limit.
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            NodeError::BadRequest(format!("retain request body could not be read: {e}"))
        })?;
        if body.len() + chunk.len() > max {
            return Err(too_large(format!("more than {max}")));
        }
        body.extend_from_slice(&chunk);
    }
    let retain = RetainRequest::from_bytes(&body)
        .map_err(|e| NodeError::BadRequest(format!("retain request body: {e}")))?;
    Ok(web::Json(state.retainer.submit(retain)?))
}
