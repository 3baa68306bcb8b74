//! Garbage collection over the real transport: a test identity plays the satellite and
//! POSTs signed bloom filters to a running node.
//!
//! Pieces "stored days ago" are written into the node's own disk store with an old
//! `stored_at`, as a node that has run for a while holds them; pieces uploaded through
//! the API during the test are the recent ones.

use std::collections::HashMap;

use uplink_core::protocol::{
    BloomFilter, RETAIN_PATH, RetainRequest, RetainResponse, retain::RETAIN_CONTENT_TYPE,
};

use super::*;
use crate::node::gc;

const DAY: i64 = 86_400;
/// Hang guard for background passes.
const PASS_DEADLINE: Duration = Duration::from_secs(120);

impl Net {
    /// Stores `content` as if committed `age_secs` ago.
    async fn store_aged(&self, piece: PieceId, content: &[u8], age_secs: i64) {
        let store = self.node.store();
        let sat = self.sat.node_id();
        let mut header = piecestore::conformance::test_header(sat, piece, content);
        header.stored_at = now_unix() - age_secs;
        let mut w = store.create(sat, piece).await.unwrap();
        w.write(content).await.unwrap();
        w.commit(header).await.unwrap();
    }

    fn retain_request(
        &self,
        keep: &[PieceId],
        created_before: i64,
        created_at: i64,
    ) -> RetainRequest {
        let mut filter = BloomFilter::new(keep.len(), 0.1);
        keep.iter().for_each(|p| filter.insert(p));
        RetainRequest::signed(
            &self.sat,
            self.node.id(),
            created_before,
            created_at,
            filter,
            keep.len() as u64,
        )
    }

    async fn send_retain(&self, body: Vec<u8>) -> reqwest::Response {
        self.client
            .post(format!("{}{RETAIN_PATH}", self.base))
            .header("content-type", RETAIN_CONTENT_TYPE)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn retain_accepted(&self, request: &RetainRequest) -> RetainResponse {
        let resp = self.send_retain(request.to_bytes()).await;
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        resp.json().await.unwrap()
    }

    async fn wait_for_passes(&self, n: u64) {
        tokio::time::timeout(PASS_DEADLINE, self.node.retainer().wait_for_passes(n))
            .await
            .unwrap_or_else(|_| panic!("retain pass {n} did not complete"));
    }

    async fn used(&self) -> u64 {
        self.node.store().used_bytes().await.unwrap()
    }
}

fn metric(net: &Net, name: &str) -> u64 {
    let text = net.node.metrics().render();
    text.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[tokio::test]
async fn a_signed_filter_trashes_old_garbage_restore_brings_it_back_and_emptying_frees_it() {
    let net = start().await;
    let sat = net.sat.node_id();
    let mut live = Vec::new();
    let mut garbage = Vec::new();
    let mut contents = HashMap::new();
    for i in 0..40u8 {
        let piece = PieceId::random();
        let content = data(2000 + i as usize * 100, i);
        net.store_aged(piece, &content, 2 * DAY).await;
        contents.insert(piece, content);
        if i % 2 == 0 {
            live.push(piece)
        } else {
            garbage.push(piece)
        }
    }
    // Uploaded just now, unknown to the filter: protected by the grace period (1 h).
    let mut fresh = Vec::new();
    for i in 0..3u8 {
        let piece = PieceId::random();
        let content = data(5000, 100 + i);
        net.upload(piece, &content).await;
        contents.insert(piece, content);
        fresh.push(piece);
    }
    let used_before = net.used().await;

    let now = now_unix();
    let request = net.retain_request(&live, now, now);
    let response = net.retain_accepted(&request).await;
    assert_eq!(
        response,
        RetainResponse {
            queued: true,
            replaced: false
        }
    );
    net.wait_for_passes(1).await;

    // Garbage the filter happens to hold (false positives) stays for a later run.
    let expected: Vec<PieceId> = garbage
        .iter()
        .copied()
        .filter(|p| !request.filter.contains(p))
        .collect();
    assert!(
        !expected.is_empty(),
        "every piece of garbage a false positive"
    );
    let stats = net.node.retainer().last_stats(&sat).unwrap();
    assert_eq!(stats.trashed.pieces, expected.len() as u64, "{stats:?}");
    assert_eq!(stats.kept_recent, 3, "{stats:?}");
    assert_eq!(stats.errors, 0);
    for piece in live.iter().chain(&fresh) {
        let (_, got) = net
            .download(*piece, 0, contents[piece].len() as u64)
            .await
            .unwrap_or_else(|e| panic!("kept piece {piece}: {e:?}"));
        assert!(got == contents[piece], "kept piece changed");
    }
    for piece in &expected {
        let err = net.download(*piece, 0, 10).await.unwrap_err();
        assert_eq!(
            err.error.code,
            ErrorCode::PieceNotFound,
            "trashed piece served"
        );
    }
    assert_eq!(net.used().await, used_before, "trash still takes its space");
    assert_eq!(
        metric(&net, "node_pieces_trashed_total"),
        stats.trashed.pieces
    );
    assert_eq!(
        metric(&net, "node_bytes_trashed_total"),
        stats.trashed.bytes
    );
    assert_eq!(metric(&net, "node_retain_passes_total"), 1);

    // The operator restores: byte for byte, served again.
    let restored = net.node.store().restore_trash(sat).await.unwrap();
    assert_eq!(restored, stats.trashed);
    for piece in &expected {
        let (header, got) = net
            .download(*piece, 0, contents[piece].len() as u64)
            .await
            .unwrap();
        assert!(got == contents[piece], "restored piece differs");
        assert_eq!(header.piece_hash.piece_id, *piece);
    }

    // A newer filter trashes them again; after the retention they are gone for good.
    let again = net.retain_request(&live, now, now + 1);
    net.retain_accepted(&again).await;
    net.wait_for_passes(2).await;
    let stats = net.node.retainer().last_stats(&sat).unwrap();
    let trashed: Vec<PieceId> = garbage
        .iter()
        .copied()
        .filter(|p| !again.filter.contains(p))
        .collect();
    assert_eq!(stats.trashed.pieces, trashed.len() as u64);
    let retention = Duration::from_secs(7 * DAY as u64);
    let store = net.node.store();
    let early = gc::sweep_once(&*store, now_unix() + DAY, retention, net.node.metrics()).await;
    assert_eq!(
        early.emptied,
        TrashTotals::default(),
        "emptied before the retention"
    );
    let sweep = gc::sweep_once(
        &*store,
        now_unix() + 7 * DAY + 60,
        retention,
        net.node.metrics(),
    )
    .await;
    assert!(sweep.errors.is_empty(), "{:?}", sweep.errors);
    assert_eq!(sweep.emptied, stats.trashed);
    assert_eq!(net.used().await, used_before - stats.trashed.bytes);
    assert_eq!(
        metric(&net, "node_trash_emptied_bytes_total"),
        stats.trashed.bytes
    );
    assert_eq!(
        metric(&net, "node_used_bytes"),
        used_before - stats.trashed.bytes
    );
    assert_eq!(store.restore_trash(sat).await.unwrap().pieces, 0);
    for piece in &trashed {
        let err = net.download(*piece, 0, 10).await.unwrap_err();
        assert_eq!(err.error.code, ErrorCode::PieceNotFound);
    }
    for piece in live.iter().chain(&fresh) {
        assert!(net.download(*piece, 0, 1).await.is_ok(), "live piece lost");
    }
}

#[tokio::test]
async fn refused_retain_requests_change_nothing() {
    let net = start_with(|c| {
        // Any accepted request with an empty filter would trash everything.
        c.retain_grace = Duration::ZERO;
        c.retain_max_body_bytes = 64 << 10;
    })
    .await;
    let sat = net.sat.node_id();
    let mut pieces = Vec::new();
    for i in 0..10u8 {
        let piece = PieceId::random();
        net.store_aged(piece, &data(1000, i), 2 * DAY).await;
        pieces.push(piece);
    }
    let used = net.used().await;
    let now = now_unix();
    let keep_nothing = |edit: &dyn Fn(&mut RetainRequest), signer: &Identity| {
        let mut r = net.retain_request(&[], now, now);
        edit(&mut r);
        r.satellite_signature = signer.sign(&r);
        r
    };
    let forger = Identity::generate(0);
    let untrusted = Identity::generate(0);
    let cases: Vec<(&str, Vec<u8>, ErrorCode, &str)> = vec![
        (
            "forged signature",
            keep_nothing(&|_| {}, &forger).to_bytes(),
            ErrorCode::PermissionDenied,
            "signature does not verify",
        ),
        (
            "unsigned",
            {
                let mut r = net.retain_request(&[], now, now);
                r.satellite_signature = Signature::default();
                r.to_bytes()
            },
            ErrorCode::PermissionDenied,
            "signature does not verify",
        ),
        (
            "changed after signing",
            {
                let mut r = net.retain_request(&pieces, now, now);
                r.filter = BloomFilter::new(0, 0.1);
                r.to_bytes()
            },
            ErrorCode::PermissionDenied,
            "signature does not verify",
        ),
        (
            "other node",
            keep_nothing(&|r| r.node_id = NodeId::random(), &net.sat).to_bytes(),
            ErrorCode::WrongNode,
            "this is node",
        ),
        (
            "untrusted satellite",
            keep_nothing(&|r| r.satellite_id = untrusted.node_id(), &untrusted).to_bytes(),
            ErrorCode::UntrustedSatellite,
            "does not trust",
        ),
        (
            "stale",
            keep_nothing(
                &|r| {
                    r.created_at = now - 2 * DAY;
                    r.created_before = now - 2 * DAY;
                },
                &net.sat,
            )
            .to_bytes(),
            ErrorCode::BadRequest,
            "s ago",
        ),
        (
            "from the future",
            keep_nothing(&|r| r.created_at = now + DAY, &net.sat).to_bytes(),
            ErrorCode::BadRequest,
            "ahead of this node's clock",
        ),
        (
            "snapshot after creation",
            keep_nothing(&|r| r.created_before = now + 100, &net.sat).to_bytes(),
            ErrorCode::BadRequest,
            "after its creation time",
        ),
        (
            "garbage body",
            b"this is not a retain request".to_vec(),
            ErrorCode::BadRequest,
            "retain request body",
        ),
        (
            "empty body",
            Vec::new(),
            ErrorCode::BadRequest,
            "retain request body",
        ),
        (
            "truncated body",
            {
                let bytes = net.retain_request(&pieces, now, now).to_bytes();
                bytes[..bytes.len() - 10].to_vec()
            },
            ErrorCode::BadRequest,
            "retain request body",
        ),
        (
            "body over the limit",
            RetainRequest::signed(
                &net.sat,
                net.node.id(),
                now,
                now,
                BloomFilter::new(200_000, 0.1),
                0,
            )
            .to_bytes(),
            ErrorCode::BadRequest,
            "exceeds this node's limit of 65536 bytes",
        ),
    ];
    for (what, body, code, message) in cases {
        let resp = net.send_retain(body).await;
        expect_error(resp, code, message, what).await;
    }

    // Accepted requests that keep everything, then replays and older ones (which
    // would have trashed everything).
    let older = net.retain_request(&pieces, now - 20, now - 20);
    let newest = net.retain_request(&pieces, now - 10, now - 10);
    net.retain_accepted(&older).await;
    net.wait_for_passes(1).await;
    net.retain_accepted(&newest).await;
    net.wait_for_passes(2).await;
    let replays = [
        ("replay of the last request", newest.to_bytes()),
        ("replay of an earlier request", older.to_bytes()),
        (
            "older than the last request",
            keep_nothing(
                &|r| {
                    r.created_at = now - 15;
                    r.created_before = now - 15;
                },
                &net.sat,
            )
            .to_bytes(),
        ),
    ];
    for (what, body) in replays {
        let resp = net.send_retain(body).await;
        expect_error(
            resp,
            ErrorCode::Conflict,
            "not after the last request",
            what,
        )
        .await;
    }

    assert_eq!(net.node.retainer().passes_completed(), 2);
    assert!(net.node.store().list_trash(sat).await.unwrap().is_empty());
    let mut listed = net.node.store().list(sat).await.unwrap();
    listed.sort();
    pieces.sort();
    assert_eq!(listed, pieces, "pieces changed");
    assert_eq!(net.used().await, used);
    assert_eq!(metric(&net, "node_pieces_trashed_total"), 0);
}
