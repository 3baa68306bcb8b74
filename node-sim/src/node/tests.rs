//! A node over real HTTP: a test identity plays the satellite (its key pinned in the
//! configuration), requests are made with reqwest exactly as an uplink would.

use std::time::Duration;

use tempfile::TempDir;
use tokio::io::AsyncWriteExt;
use uplink_core::protocol::piece::{DEFAULT_HASH_BLOCK_SIZE, root_of, verify_blocks};
use uplink_core::protocol::wire::{
    self, DELETE_PATH, DOWNLOAD_PATH, DeleteRequest, DownloadHeader, DownloadRequest, FrameDecoder,
    FrameKind, UPLOAD_PATH, UploadResponse,
};
use uplink_core::protocol::{
    BlockHasher, ErrorBody, ErrorCode, Identity, NodeId, NodeUrl, OrderLimit, PieceAction,
    PieceHash, PieceId, SerialNumber, Signable, Signature, now_unix,
};

use super::*;

mod disk_full;
mod identity;
mod no_paths;
mod raw;
mod retain;
mod slow_clients;

struct Net {
    sat: Identity,
    node: RunningNode,
    client: reqwest::Client,
    base: String,
    _dir: TempDir,
}

/// The URL prefix of a node's API: over TLS (unless the test turned it off), verified
/// against the node's id.
fn base_of(node: &RunningNode) -> String {
    Transport::shared(node.transport_mode())
        .url(&node.id(), &node.listen_addr().to_string(), "")
        .unwrap()
}

/// The client to dial `node` with.
fn client_for(node: &RunningNode) -> reqwest::Client {
    Transport::shared(node.transport_mode()).http().clone()
}

fn test_config(dir: &Path, sat: &Identity) -> NodeConfig {
    let mut config = NodeConfig::new(dir);
    // Nothing listens there: check-in fails quietly in the background.
    config.satellites = vec![NodeUrl {
        id: sat.node_id(),
        address: "127.0.0.1:1".into(),
    }];
    config.satellite_keys = vec![sat.public_key()];
    config.sync_writes = false;
    config.workers = 1;
    config
}

async fn start_with(edit: impl FnOnce(&mut NodeConfig)) -> Net {
    let dir = tempfile::tempdir().unwrap();
    let sat = Identity::generate(0);
    let mut config = test_config(dir.path(), &sat);
    edit(&mut config);
    let node = StorageNode::start(config).await.unwrap();
    let base = base_of(&node);
    Net {
        sat,
        client: client_for(&node),
        node,
        base,
        _dir: dir,
    }
}

async fn start() -> Net {
    start_with(|_| {}).await
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    piecestore::conformance::test_data(len, seed)
}

/// An uplink's view of one piece transfer.
struct Transfer {
    limit: OrderLimit,
    piece_key: Identity,
}

impl Net {
    fn limit_with(
        &self,
        action: PieceAction,
        piece: PieceId,
        max: u64,
        piece_key: &Identity,
        edit: impl FnOnce(&mut OrderLimit),
    ) -> OrderLimit {
        let now = now_unix();
        let mut limit = OrderLimit {
            serial_number: SerialNumber::random(),
            satellite_id: self.sat.node_id(),
            node_id: self.node.id(),
            piece_id: piece,
            action,
            limit: max,
            piece_public_key: piece_key.public_key(),
            order_creation: now,
            order_expiration: now + 3600,
            piece_expiration: None,
            satellite_signature: Signature::default(),
        };
        edit(&mut limit);
        limit.satellite_signature = self.sat.sign(&limit);
        limit
    }

    fn transfer(&self, action: PieceAction, piece: PieceId, max: u64) -> Transfer {
        let piece_key = Identity::generate(0);
        let limit = self.limit_with(action, piece, max, &piece_key, |_| {});
        Transfer { limit, piece_key }
    }

    async fn post(&self, path: &str, body: Vec<u8>) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn post_json<T: serde::Serialize>(&self, path: &str, body: &T) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Uploads `data` under a fresh PUT limit; returns the transfer and the receipt.
    async fn upload(&self, piece: PieceId, data: &[u8]) -> (Transfer, PieceHash) {
        let t = self.transfer(PieceAction::Put, piece, data.len() as u64);
        let hash = piece_hash(&t.piece_key, piece, data);
        let resp = self
            .post(UPLOAD_PATH, upload_body(&t.limit, data, Some(&hash)))
            .await;
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        let receipt = resp.json::<UploadResponse>().await.unwrap().receipt;
        (t, receipt)
    }

    async fn download(
        &self,
        piece: PieceId,
        offset: u64,
        length: u64,
    ) -> Result<(DownloadHeader, Vec<u8>), ErrorBody> {
        let t = self.transfer(PieceAction::Get, piece, length);
        let resp = self
            .post_json(
                DOWNLOAD_PATH,
                &DownloadRequest {
                    order_limit: t.limit,
                    offset,
                    length,
                },
            )
            .await;
        if resp.status() != 200 {
            let status = resp.status().as_u16();
            let body: ErrorBody = resp.json().await.unwrap();
            assert_eq!(status, body.error.code.http_status());
            return Err(body);
        }
        let body = resp.bytes().await.unwrap();
        Ok(parse_download(&body))
    }

    /// Asserts that the node holds no trace of `piece`: not readable, not listed, no
    /// partial file, no bytes counted.
    async fn assert_not_stored(&self, piece: PieceId, what: &str) {
        let store = self.node.store();
        assert!(
            matches!(
                store.open(self.sat.node_id(), piece).await,
                Err(StoreError::NotFound)
            ),
            "{what}: piece is readable"
        );
        assert!(
            !store
                .list(self.sat.node_id())
                .await
                .unwrap()
                .contains(&piece),
            "{what}: piece is listed"
        );
        assert_eq!(tmp_files(&self.node), 0, "{what}: partial file left behind");
    }
}

fn tmp_files(node: &RunningNode) -> usize {
    std::fs::read_dir(node.data_dir().join("tmp"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn piece_hash(key: &Identity, piece: PieceId, data: &[u8]) -> PieceHash {
    let mut hasher = BlockHasher::new(DEFAULT_HASH_BLOCK_SIZE);
    hasher.update(data);
    let (_, root) = hasher.finish();
    let mut hash = PieceHash {
        piece_id: piece,
        piece_size: data.len() as u64,
        hash_block_size: DEFAULT_HASH_BLOCK_SIZE,
        root,
        timestamp: now_unix(),
        signature: Signature::default(),
    };
    hash.signature = key.sign(&hash);
    hash
}

/// `OrderLimit, Data*, PieceHash?` with data frames of at most 100 000 bytes.
fn upload_body(limit: &OrderLimit, data: &[u8], hash: Option<&PieceHash>) -> Vec<u8> {
    let mut body = wire::control_frame(FrameKind::OrderLimit, limit).to_vec();
    for chunk in data.chunks(100_000) {
        body.extend_from_slice(&wire::frame_header(FrameKind::Data, chunk.len()));
        body.extend_from_slice(chunk);
    }
    if let Some(hash) = hash {
        body.extend_from_slice(&wire::control_frame(FrameKind::PieceHash, hash));
    }
    body
}

fn parse_download(body: &[u8]) -> (DownloadHeader, Vec<u8>) {
    let mut dec = FrameDecoder::new();
    dec.push(body);
    let (kind, payload) = dec.next_frame().unwrap().unwrap();
    assert_eq!(kind, FrameKind::DownloadHeader);
    let header: DownloadHeader = wire::decode_control(&payload).unwrap();
    let mut data = Vec::new();
    while let Some((kind, payload)) = dec.next_frame().unwrap() {
        assert_eq!(kind, FrameKind::Data);
        assert!(payload.len() <= server::DOWNLOAD_CHUNK);
        data.extend_from_slice(&payload);
    }
    assert_eq!(dec.pending(), 0, "download ends inside a frame");
    (header, data)
}

async fn expect_error(resp: reqwest::Response, code: ErrorCode, contains: &str, what: &str) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body: ErrorBody = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{what}: not an error body ({e}): {status} {text}"));
    assert_eq!(body.error.code, code, "{what}: {text}");
    assert_eq!(status, code.http_status(), "{what}: status");
    assert!(
        body.error.message.contains(contains),
        "{what}: message {:?} lacks {contains:?}",
        body.error.message
    );
}

#[tokio::test]
async fn upload_download_delete_round_trip() {
    for backend in [StorageBackend::Disk, StorageBackend::Memory] {
        let net = start_with(|c| c.storage = backend).await;
        let piece = PieceId::random();
        let content = data(300_000, 1);
        let (t, receipt) = net.upload(piece, &content).await;

        // The receipt is the uplink's hash, re-signed by the node.
        net.node
            .identity()
            .public_key()
            .verify(&receipt.signing_bytes(), &receipt.signature)
            .expect("receipt verifies under the node key");
        let sent = piece_hash(&t.piece_key, piece, &content);
        assert_eq!(
            (receipt.piece_id, receipt.piece_size, receipt.root),
            (piece, 300_000, sent.root)
        );
        assert_eq!(receipt.hash_block_size, DEFAULT_HASH_BLOCK_SIZE);

        // Full download: everything verifies without trusting the node.
        let (header, got) = net.download(piece, 0, 300_000).await.unwrap();
        assert!(got == content, "{backend:?}: downloaded bytes differ");
        header
            .original_limit
            .verify_signature(&net.sat.public_key())
            .unwrap();
        assert_eq!(header.original_limit, t.limit);
        header
            .original_limit
            .piece_public_key
            .verify(
                &header.piece_hash.signing_bytes(),
                &header.piece_hash.signature,
            )
            .unwrap();
        assert_eq!(root_of(&header.block_hashes), header.piece_hash.root);
        assert_eq!(header.piece_hash.root, sent.root);

        // A range, checked against the block hashes.
        let (header, got) = net.download(piece, 65_536, 131_072).await.unwrap();
        assert!(got[..] == content[65_536..196_608]);
        verify_blocks(
            &got,
            65_536,
            300_000,
            DEFAULT_HASH_BLOCK_SIZE,
            &header.block_hashes,
        )
        .unwrap();
        let (_, tail) = net.download(piece, 299_990, 10).await.unwrap();
        assert!(tail[..] == content[299_990..]);
        let (_, empty) = net.download(piece, 300_000, 0).await.unwrap();
        assert!(empty.is_empty());

        // Delete, then it is gone; deleting again is fine.
        for _ in 0..2 {
            let del = net.transfer(PieceAction::Delete, piece, 0);
            let resp = net
                .post_json(
                    DELETE_PATH,
                    &DeleteRequest {
                        order_limit: del.limit,
                    },
                )
                .await;
            assert_eq!(resp.status(), 200);
        }
        let err = net.download(piece, 0, 1).await.unwrap_err();
        assert_eq!(err.error.code, ErrorCode::PieceNotFound);
        assert!(err.error.message.contains(&piece.to_string()));
        assert_eq!(net.node.store().used_bytes().await.unwrap(), 0);
        net.node.stop().await;
    }
}

#[tokio::test]
async fn health_and_metrics() {
    let net = start().await;
    let piece = PieceId::random();
    net.upload(piece, &data(1000, 2)).await;
    net.download(piece, 0, 1000).await.unwrap();
    let _ = net.download(PieceId::random(), 0, 1).await.unwrap_err();

    let health: serde_json::Value = net
        .client
        .get(format!("{}/health", net.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["ok"], true);
    assert_eq!(health["node_id"], net.node.id().to_string());

    let text = net
        .client
        .get(format!("{}/metrics", net.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let has = |needle: &str| {
        assert!(
            text.lines().any(|l| l.contains(needle)),
            "metrics lack {needle}:\n{text}"
        )
    };
    let requests = |endpoint: &str, status: u16| {
        format!(
            r#"node_requests_total{{endpoint="{endpoint}",status="{status}",node_id="{}"}} 1"#,
            net.node.id()
        )
    };
    has(&requests("upload", 200));
    has(&requests("download", 200));
    has(&requests("download", 404));
    has(&requests("health", 200));
    has("node_request_duration_seconds_bucket");
    has("node_pieces_stored_total");
    has("node_bytes_received_total{endpoint=\"upload\"");
    has("node_bytes_sent_total{endpoint=\"download\"");
    let used = net.node.store().used_bytes().await.unwrap();
    has(&format!(
        "node_used_bytes{{node_id=\"{}\"}} {used}",
        net.node.id()
    ));
    assert!(net.node.metrics().pieces_stored.get() == 1);
    assert!(
        net.node
            .metrics()
            .bytes_sent
            .with_label_values(&["download"])
            .get()
            > 1000,
        "download bytes are counted"
    );
    assert!(
        net.node
            .metrics()
            .bytes_received
            .with_label_values(&["upload"])
            .get()
            > 1000
    );

    let resp = net
        .client
        .get(format!("{}/nope", net.base))
        .send()
        .await
        .unwrap();
    expect_error(resp, ErrorCode::NotFound, "/nope", "unknown path").await;
}

#[tokio::test]
async fn refused_uploads_store_nothing() {
    let net = start().await;
    let other_sat = Identity::generate(0);
    let content = data(150_000, 3);
    let len = content.len() as u64;

    type Case = Box<dyn Fn(&Net, PieceId) -> Vec<u8>>;
    let valid = move |net: &Net, piece: PieceId, edit: &dyn Fn(&mut OrderLimit)| {
        let key = Identity::generate(0);
        let limit = net.limit_with(PieceAction::Put, piece, len, &key, edit);
        (limit, key)
    };
    let content2 = content.clone();
    let cases: Vec<(&str, ErrorCode, &str, Case)> = vec![
        (
            "forged satellite signature",
            ErrorCode::OrderLimitInvalid,
            "does not verify",
            Box::new(move |net, piece| {
                let (mut limit, key) = valid(net, piece, &|_| {});
                limit.satellite_signature = Identity::generate(0).sign(&limit);
                upload_body(&limit, &content2, Some(&piece_hash(&key, piece, &content2)))
            }),
        ),
        (
            "expired limit",
            ErrorCode::OrderLimitExpired,
            "expired at",
            Box::new({
                let content = content.clone();
                move |net, piece| {
                    let (limit, key) = valid(net, piece, &|l| {
                        l.order_creation -= 7200;
                        l.order_expiration = l.order_creation + 3600;
                    });
                    upload_body(&limit, &content, Some(&piece_hash(&key, piece, &content)))
                }
            }),
        ),
        (
            "limit for another node",
            ErrorCode::WrongNode,
            "this is node",
            Box::new({
                let content = content.clone();
                move |net, piece| {
                    let (limit, key) = valid(net, piece, &|l| l.node_id = NodeId::random());
                    upload_body(&limit, &content, Some(&piece_hash(&key, piece, &content)))
                }
            }),
        ),
        (
            "untrusted satellite",
            ErrorCode::UntrustedSatellite,
            "does not trust",
            Box::new({
                let content = content.clone();
                let other_sat = other_sat.clone();
                move |net, piece| {
                    let (mut limit, key) =
                        valid(net, piece, &|l| l.satellite_id = other_sat.node_id());
                    limit.satellite_signature = other_sat.sign(&limit);
                    upload_body(&limit, &content, Some(&piece_hash(&key, piece, &content)))
                }
            }),
        ),
        (
            "GET limit used for upload",
            ErrorCode::OrderLimitInvalid,
            "not upload",
            Box::new({
                let content = content.clone();
                move |net, piece| {
                    let (limit, key) = valid(net, piece, &|l| l.action = PieceAction::Get);
                    upload_body(&limit, &content, Some(&piece_hash(&key, piece, &content)))
                }
            }),
        ),
        (
            "upload exceeding the limit",
            ErrorCode::PieceTooLarge,
            "exceeds its order limit of 100000 bytes",
            Box::new({
                let content = content.clone();
                move |net, piece| {
                    let (limit, key) = valid(net, piece, &|l| l.limit = 100_000);
                    upload_body(&limit, &content, Some(&piece_hash(&key, piece, &content)))
                }
            }),
        ),
        (
            "bad piece-hash signature",
            ErrorCode::OrderLimitInvalid,
            "not signed by the piece key",
            Box::new({
                let content = content.clone();
                move |net, piece| {
                    let (limit, _) = valid(net, piece, &|_| {});
                    let forged = piece_hash(&Identity::generate(0), piece, &content);
                    upload_body(&limit, &content, Some(&forged))
                }
            }),
        ),
        (
            "wrong root",
            ErrorCode::HashMismatch,
            "does not match",
            Box::new({
                let content = content.clone();
                move |net, piece| {
                    let (limit, key) = valid(net, piece, &|_| {});
                    let mut other = content.clone();
                    other[77_777] ^= 1;
                    upload_body(&limit, &content, Some(&piece_hash(&key, piece, &other)))
                }
            }),
        ),
        (
            "piece hash with the wrong size",
            ErrorCode::HashMismatch,
            "149999 bytes were received",
            Box::new({
                let content = content.clone();
                move |net, piece| {
                    let (limit, key) = valid(net, piece, &|_| {});
                    let hash = piece_hash(&key, piece, &content);
                    upload_body(&limit, &content[1..], Some(&hash))
                }
            }),
        ),
        (
            "piece hash for another piece",
            ErrorCode::HashMismatch,
            "piece hash is for piece",
            Box::new({
                let content = content.clone();
                move |net, piece| {
                    let (limit, key) = valid(net, piece, &|_| {});
                    let hash = piece_hash(&key, PieceId::random(), &content);
                    upload_body(&limit, &content, Some(&hash))
                }
            }),
        ),
        (
            "piece hash with another block size",
            ErrorCode::BadRequest,
            "hash blocks of 4096 bytes",
            Box::new({
                let content = content.clone();
                move |net, piece| {
                    let (limit, key) = valid(net, piece, &|_| {});
                    let mut hash = piece_hash(&key, piece, &content);
                    hash.hash_block_size = 4096;
                    hash.signature = key.sign(&hash);
                    upload_body(&limit, &content, Some(&hash))
                }
            }),
        ),
        (
            "truncated body without piece hash",
            ErrorCode::BadRequest,
            "without a piece hash",
            Box::new({
                let content = content.clone();
                move |net, piece| {
                    let (limit, _) = valid(net, piece, &|_| {});
                    upload_body(&limit, &content, None)
                }
            }),
        ),
        (
            "body cut inside a frame",
            ErrorCode::BadRequest,
            "ends inside a frame",
            Box::new({
                let content = content.clone();
                move |net, piece| {
                    let (limit, key) = valid(net, piece, &|_| {});
                    let mut body =
                        upload_body(&limit, &content, Some(&piece_hash(&key, piece, &content)));
                    body.truncate(body.len() - 3);
                    body
                }
            }),
        ),
        (
            "unknown frame kind",
            ErrorCode::BadRequest,
            "unknown frame kind",
            Box::new({
                let content = content.clone();
                move |net, piece| {
                    let (limit, _) = valid(net, piece, &|_| {});
                    let mut body = upload_body(&limit, &content, None);
                    body.extend_from_slice(&[9, 0, 0, 0, 1, 0]);
                    body
                }
            }),
        ),
        (
            "frame after the piece hash",
            ErrorCode::BadRequest,
            "must be the last frame",
            Box::new({
                let content = content.clone();
                move |net, piece| {
                    let (limit, key) = valid(net, piece, &|_| {});
                    let mut body =
                        upload_body(&limit, &content, Some(&piece_hash(&key, piece, &content)));
                    body.extend_from_slice(&wire::frame_header(FrameKind::Data, 0));
                    body
                }
            }),
        ),
        (
            "data before the order limit",
            ErrorCode::BadRequest,
            "must start with an order limit",
            Box::new(|_, _| {
                let mut body = wire::frame_header(FrameKind::Data, 3).to_vec();
                body.extend_from_slice(b"abc");
                body
            }),
        ),
        (
            "empty body",
            ErrorCode::BadRequest,
            "empty",
            Box::new(|_, _| Vec::new()),
        ),
    ];
    for (what, code, contains, body) in cases {
        let piece = PieceId::random();
        let resp = net.post(UPLOAD_PATH, body(&net, piece)).await;
        expect_error(resp, code, contains, what).await;
        net.assert_not_stored(piece, what).await;
    }
    assert_eq!(net.node.store().used_bytes().await.unwrap(), 0);
    assert!(
        net.node
            .store()
            .list(net.sat.node_id())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn serials_are_single_use_and_pieces_immutable() {
    let net = start().await;
    let piece = PieceId::random();
    let content = data(10_000, 4);
    let t = net.transfer(PieceAction::Put, piece, 10_000);
    let body = upload_body(
        &t.limit,
        &content,
        Some(&piece_hash(&t.piece_key, piece, &content)),
    );
    assert_eq!(net.post(UPLOAD_PATH, body.clone()).await.status(), 200);
    let resp = net.post(UPLOAD_PATH, body).await;
    expect_error(
        resp,
        ErrorCode::SerialReused,
        "already used",
        "replayed upload",
    )
    .await;

    // A fresh limit for a stored piece does not overwrite it.
    let other = data(10_000, 5);
    let t = net.transfer(PieceAction::Put, piece, 10_000);
    let body = upload_body(
        &t.limit,
        &other,
        Some(&piece_hash(&t.piece_key, piece, &other)),
    );
    let resp = net.post(UPLOAD_PATH, body).await;
    expect_error(
        resp,
        ErrorCode::BadRequest,
        "already stored",
        "second upload",
    )
    .await;
    assert_eq!(tmp_files(&net.node), 0);
    let (_, got) = net.download(piece, 0, 10_000).await.unwrap();
    assert!(got == content);

    // Downloads too.
    let t = net.transfer(PieceAction::Get, piece, 100);
    let req = DownloadRequest {
        order_limit: t.limit,
        offset: 0,
        length: 100,
    };
    assert_eq!(net.post_json(DOWNLOAD_PATH, &req).await.status(), 200);
    let resp = net.post_json(DOWNLOAD_PATH, &req).await;
    expect_error(
        resp,
        ErrorCode::SerialReused,
        "already used",
        "replayed download",
    )
    .await;
}

#[tokio::test]
async fn refused_downloads_and_deletes() {
    let net = start().await;
    let piece = PieceId::random();
    net.upload(piece, &data(5000, 6)).await;
    let key = Identity::generate(0);

    let request = |limit: OrderLimit, offset, length| DownloadRequest {
        order_limit: limit,
        offset,
        length,
    };
    let get =
        |edit: &dyn Fn(&mut OrderLimit)| net.limit_with(PieceAction::Get, piece, 5000, &key, edit);
    let cases = vec![
        (
            "range past the end",
            request(get(&|_| {}), 4000, 1001),
            ErrorCode::BadRequest,
            "reaches past the end",
        ),
        (
            "offset overflow",
            request(get(&|_| {}), u64::MAX, 2),
            ErrorCode::BadRequest,
            "reaches past the end",
        ),
        (
            "more than the limit allows",
            request(get(&|l| l.limit = 100), 0, 101),
            ErrorCode::PieceTooLarge,
            "exceeds its order limit",
        ),
        (
            "PUT limit used for download",
            request(get(&|l| l.action = PieceAction::Put), 0, 10),
            ErrorCode::OrderLimitInvalid,
            "not download",
        ),
        (
            "absent piece",
            request(get(&|l| l.piece_id = PieceId::random()), 0, 10),
            ErrorCode::PieceNotFound,
            "is not stored",
        ),
        (
            "expired",
            request(get(&|l| l.order_expiration = now_unix() - 5), 0, 10),
            ErrorCode::OrderLimitExpired,
            "expired at",
        ),
    ];
    for (what, req, code, contains) in cases {
        expect_error(
            net.post_json(DOWNLOAD_PATH, &req).await,
            code,
            contains,
            what,
        )
        .await;
    }
    let resp = net.post(DOWNLOAD_PATH, b"{not json".to_vec()).await;
    expect_error(resp, ErrorCode::BadRequest, "JSON", "malformed request").await;

    // A GET limit cannot delete.
    let req = DeleteRequest {
        order_limit: get(&|_| {}),
    };
    let resp = net.post_json(DELETE_PATH, &req).await;
    expect_error(
        resp,
        ErrorCode::OrderLimitInvalid,
        "not delete",
        "GET limit deletes",
    )
    .await;
    assert_eq!(
        net.node.store().list(net.sat.node_id()).await.unwrap(),
        vec![piece]
    );
}

#[tokio::test]
async fn uploads_that_could_exceed_the_capacity_are_refused_up_front() {
    let net = start_with(|c| c.capacity_bytes = 50_000).await;
    let piece = PieceId::random();
    let content = data(120_000, 7);
    let t = net.transfer(PieceAction::Put, piece, 1 << 20);
    let body = upload_body(
        &t.limit,
        &content,
        Some(&piece_hash(&t.piece_key, piece, &content)),
    );
    let resp = net.post(UPLOAD_PATH, body).await;
    expect_error(
        resp,
        ErrorCode::DiskFull,
        "room for 50000 more bytes and the order limit allows 1048576",
        "over capacity",
    )
    .await;
    net.assert_not_stored(piece, "over capacity").await;
    // A piece that fits is fine.
    net.upload(PieceId::random(), &data(10_000, 8)).await;
}

#[tokio::test]
async fn client_disconnecting_mid_upload_leaves_nothing() {
    // The request is written by hand, so plain HTTP.
    let net = start_with(|c| c.plain_http = true).await;
    let piece = PieceId::random();
    let t = net.transfer(PieceAction::Put, piece, 1 << 20);
    let body = upload_body(&t.limit, &data(200_000, 9), None);
    let mut stream = tokio::net::TcpStream::connect(net.node.listen_addr())
        .await
        .unwrap();
    let head = format!(
        "POST {UPLOAD_PATH} HTTP/1.1\r\nhost: node\r\ncontent-length: {}\r\n\r\n",
        body.len() + 500_000
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    stream.flush().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tmp_files(&net.node) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "upload never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(stream);
    while tmp_files(&net.node) != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "partial piece left behind after the client went away"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    net.assert_not_stored(piece, "disconnect").await;
}

#[tokio::test]
async fn restart_keeps_identity_and_pieces_and_stop_takes_the_node_offline() {
    let dir = tempfile::tempdir().unwrap();
    let sat = Identity::generate(0);
    let node = StorageNode::start(test_config(dir.path(), &sat))
        .await
        .unwrap();
    let id = node.id();
    let old_addr = node.listen_addr();
    let net = Net {
        sat: sat.clone(),
        client: client_for(&node),
        base: base_of(&node),
        node,
        _dir: tempfile::tempdir().unwrap(),
    };
    let piece = PieceId::random();
    let content = data(70_000, 10);
    net.upload(piece, &content).await;
    net.node.stop().await;
    assert!(
        tokio::net::TcpStream::connect(old_addr).await.is_err(),
        "a stopped node still accepts connections"
    );

    let node = StorageNode::start(test_config(dir.path(), &sat))
        .await
        .unwrap();
    assert_eq!(node.id(), id, "identity kept");
    let net = Net {
        sat,
        base: base_of(&node),
        client: client_for(&node),
        node,
        _dir: tempfile::tempdir().unwrap(),
    };
    let (_, got) = net.download(piece, 0, 70_000).await.unwrap();
    assert!(got == content, "piece kept");
}

#[tokio::test]
async fn configuration_errors_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let sat = Identity::generate(0);
    let mut config = test_config(dir.path(), &sat);
    config.satellite_keys = vec![Identity::generate(0).public_key()];
    let err = StorageNode::start(config).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("not among the configured satellites"),
        "{err}"
    );

    let mut config = test_config(dir.path(), &sat);
    config.listen_addr = "not an address".into();
    let err = StorageNode::start(config).await.unwrap_err();
    assert!(err.to_string().contains("listen_addr"), "{err}");
}

/// A stand-in satellite that answers check-ins as `answer_as` and records requests.
async fn fake_satellite(
    answer_as: Identity,
    claim_id: NodeId,
    mode: Mode,
) -> (
    String,
    actix_web::dev::ServerHandle,
    Arc<parking_lot::Mutex<Vec<wire::CheckInRequest>>>,
) {
    use actix_web::{App, HttpResponse, HttpServer, web};
    // The TLS identity is the one the node dials (`claim_id`'s owner, where known).
    let tls_as = answer_as.clone();
    let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let server = HttpServer::new(move || {
        let recorded = recorded.clone();
        let answer_as = answer_as.clone();
        App::new().route(
            wire::CHECKIN_PATH,
            web::post().to(move |req: web::Json<wire::CheckInRequest>| {
                let recorded = recorded.clone();
                let answer_as = answer_as.clone();
                async move {
                    let req = req.into_inner();
                    req.public_key
                        .verify(&req.signing_bytes(), &req.signature)
                        .expect("check-in is signed by the node");
                    assert_eq!(req.public_key.node_id(), req.node_id);
                    recorded.lock().push(req);
                    HttpResponse::Ok().json(wire::CheckInResponse {
                        satellite_id: claim_id,
                        satellite_public_key: answer_as.public_key(),
                    })
                }
            }),
        )
    })
    .workers(1)
    .disable_signals();
    let server = match mode {
        Mode::Tls => server.bind_rustls_0_23(
            "127.0.0.1:0",
            uplink_core::transport::server::server_config(&tls_as, None).unwrap(),
        ),
        Mode::PlainHttp => server.bind("127.0.0.1:0"),
    }
    .unwrap();
    let addr = server.addrs()[0].to_string();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (addr, handle, seen)
}

#[tokio::test]
async fn check_in_learns_satellite_keys_and_refuses_impostors() {
    let honest = Identity::generate(0);
    let (honest_addr, honest_handle, seen) =
        fake_satellite(honest.clone(), honest.node_id(), Mode::Tls).await;
    // Claims to be `victim` but presents its own key.
    let victim = Identity::generate(0);
    let impostor = Identity::generate(0);
    let (impostor_addr, impostor_handle, _) =
        fake_satellite(impostor, victim.node_id(), Mode::Tls).await;

    let dir = tempfile::tempdir().unwrap();
    let mut config = NodeConfig::new(dir.path());
    config.storage = StorageBackend::Memory;
    config.capacity_bytes = 1_000_000;
    config.external_address = Some("node.example:7777".into());
    config.satellites = vec![
        NodeUrl {
            id: honest.node_id(),
            address: honest_addr,
        },
        NodeUrl {
            id: victim.node_id(),
            address: impostor_addr,
        },
    ];
    let node = StorageNode::start(config).await.unwrap();
    let err = node.check_in_now().await.unwrap_err();
    assert!(
        err.to_string().contains(&victim.node_id().to_string()),
        "{err}"
    );
    assert_eq!(
        node.verifier().satellite_key(&honest.node_id()),
        Some(honest.public_key())
    );
    assert_eq!(node.verifier().satellite_key(&victim.node_id()), None);

    let req = seen
        .lock()
        .last()
        .cloned()
        .expect("the satellite saw a check-in");
    assert_eq!(req.node_id, node.id());
    assert_eq!(req.address, "node.example:7777");
    assert_eq!(req.capacity.free_bytes + req.capacity.used_bytes, 1_000_000);
    assert_eq!(req.version, env!("CARGO_PKG_VERSION"));

    // With the learned key, the node serves the honest satellite's limits.
    let net = Net {
        base: base_of(&node),
        sat: honest,
        client: client_for(&node),
        node,
        _dir: dir,
    };
    net.upload(PieceId::random(), &data(1000, 11)).await;
    net.node.stop().await;
    honest_handle.stop(false).await;
    impostor_handle.stop(false).await;
}
