//! Nodes accept only what a trusted satellite signed for them, once, in time.

use bytes::Bytes;
use tests::TestNetwork;
use tests::uplink_core::client::error::{PieceError, Subject};
use tests::uplink_core::client::pieces::upload_piece;
use tests::uplink_core::protocol::metainfo::{BeginObjectRequest, BeginSegmentRequest};
use tests::uplink_core::protocol::{
    AddressedOrderLimit, ErrorCode, Identity, PieceHash, Signable, now_unix,
};
use tests::uplink_core::transport::{Mode, Transport};
use tokio::sync::mpsc;

async fn put(
    target: &AddressedOrderLimit,
    address: &str,
    key: &Identity,
) -> Result<PieceHash, PieceError> {
    let (tx, rx) = mpsc::channel(4);
    tx.send(Bytes::from(vec![7u8; 5000])).await.unwrap();
    drop(tx);
    let mut target = target.clone();
    target.address = address.to_string();
    // The node's answer is awaited for a bounded time: a node that never answers fails
    // the test instead of hanging it.
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        upload_piece(
            Transport::shared(Mode::Tls),
            target,
            rx,
            key.clone(),
            std::time::Duration::from_secs(30),
        ),
    )
    .await
    .expect("the node answers within a minute")
}

fn refused_with(result: Result<PieceHash, PieceError>, code: ErrorCode) {
    match result {
        Err(PieceError::Refused {
            code: got, message, ..
        }) => {
            assert_eq!(got, code, "refused for another reason: {message}")
        }
        other => panic!("expected a refusal with {code:?}, got {other:?}"),
    }
}

fn resign(limit: &mut tests::uplink_core::protocol::OrderLimit, by: &Identity) {
    limit.satellite_signature = by.sign(&*limit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_replayed_and_misdirected_limits_are_refused() {
    let net = TestNetwork::start(10).await;
    let grant = net.access().await;
    let metainfo = net.metainfo(&grant);
    metainfo.create_bucket("limits").await.unwrap();
    let subject = Subject::default();
    let begun = metainfo
        .begin_object(
            &BeginObjectRequest {
                encrypted_metadata: None,
                bucket: "limits".into(),
                encrypted_key: "not-really-encrypted".into(),
                expires_at: None,
            },
            &subject,
        )
        .await
        .unwrap();
    let piece_key = Identity::generate(0);
    let segment = metainfo
        .begin_segment(
            &BeginSegmentRequest {
                stream_id: begun.stream_id,
                position: tests::uplink_core::protocol::SegmentPosition::single(0),
                max_plain_size: 1 << 20,
                piece_public_key: piece_key.public_key(),
                exclude_nodes: vec![],
            },
            &subject,
        )
        .await
        .unwrap();
    let limits = segment.limits;
    assert_eq!(limits.len(), 10);
    let satellite = Identity::load(&net.satellite_dir().join("identity.key")).unwrap();

    // A genuine limit works once; the receipt is signed by the node it names.
    let receipt = put(&limits[0], &limits[0].address, &piece_key)
        .await
        .unwrap();
    let node = net
        .network
        .running_nodes()
        .find(|n| n.id() == limits[0].limit.node_id)
        .unwrap();
    node.identity()
        .public_key()
        .verify(&receipt.signing_bytes(), &receipt.signature)
        .unwrap();
    // Replayed: the same serial again.
    refused_with(
        put(&limits[0], &limits[0].address, &piece_key).await,
        ErrorCode::SerialReused,
    );

    // Wrong node: a limit for node 1 is never even sent to node 2, which cannot prove
    // node 1's identity. (A node given another's limit refuses it with `WrongNode`: see
    // the node's own tests.)
    match put(&limits[1], &limits[2].address, &piece_key).await {
        Err(PieceError::Unreachable { reason, .. }) => assert!(
            reason.contains(&format!("the peer is not {}", limits[1].limit.node_id)),
            "{reason}"
        ),
        other => panic!("a limit went to the wrong node: {other:?}"),
    }

    // Forged: a larger byte limit under the old signature.
    let mut bigger = limits[3].clone();
    bigger.limit.limit *= 2;
    refused_with(
        put(&bigger, &bigger.address, &piece_key).await,
        ErrorCode::OrderLimitInvalid,
    );

    // Forged: signed by someone else claiming to be the satellite.
    let forger = Identity::generate(0);
    let mut forged = limits[4].clone();
    resign(&mut forged.limit, &forger);
    refused_with(
        put(&forged, &forged.address, &piece_key).await,
        ErrorCode::OrderLimitInvalid,
    );

    // Untrusted: a satellite the node never heard of.
    let mut foreign = limits[5].clone();
    foreign.limit.satellite_id = forger.node_id();
    resign(&mut foreign.limit, &forger);
    refused_with(
        put(&foreign, &foreign.address, &piece_key).await,
        ErrorCode::UntrustedSatellite,
    );

    // Expired: properly signed by the real satellite, but too late.
    let mut expired = limits[6].clone();
    expired.limit.order_creation = now_unix() - 7200;
    expired.limit.order_expiration = now_unix() - 3600;
    resign(&mut expired.limit, &satellite);
    refused_with(
        put(&expired, &expired.address, &piece_key).await,
        ErrorCode::OrderLimitExpired,
    );

    // A piece hash not signed by the key the satellite bound into the limit.
    let impostor = Identity::generate(0);
    refused_with(
        put(&limits[7], &limits[7].address, &impostor).await,
        ErrorCode::OrderLimitInvalid,
    );

    // None of the refused uploads left anything behind.
    assert_eq!(
        net.pieces_on_nodes().await,
        [(limits[0].limit.node_id, limits[0].limit.piece_id)].into(),
        "only the one genuine upload is stored"
    );
    net.stop().await;
}
