//! What an eavesdropper between the parties sees: with TLS (the default), neither the
//! API key nor any order limit crosses the wire in a form it could read or reuse; with
//! plain HTTP (loopback development only) both do, which shows the tap works.

use bytes::Bytes;
use tests::uplink_core::client::error::Subject;
use tests::uplink_core::client::pieces::upload_piece;
use tests::uplink_core::protocol::metainfo::{BeginObjectRequest, BeginSegmentRequest};
use tests::uplink_core::protocol::{AddressedOrderLimit, Identity};
use tests::wiretap::{Wiretap, contains};
use tests::{Options, TestNetwork, random_bytes};

/// Everything an eavesdropper captured, and what it must not find in it.
struct Capture {
    traffic: Vec<u8>,
    api_key: String,
    limit: AddressedOrderLimit,
}

/// A network whose satellite and nodes 1..=10 are each reached through a tap: the grant
/// names the satellite's tap, and every node advertises its tap (on its own /24).
async fn tapped_network(plain_http: bool) -> (TestNetwork, Vec<Wiretap>, Wiretap) {
    let mut net = TestNetwork::start_with(Options {
        nodes: 10,
        tweak: Box::new(move |c| c.satellite.plain_http = plain_http),
    })
    .await;
    let mut node_taps = Vec::new();
    for index in 1..=10 {
        let bound = net.network.node(index).unwrap().listen_addr();
        net.network.stop_node(index).await;
        let tap = Wiretap::start(&format!("127.0.{index}.2:0"), &bound.to_string()).await;
        let slot = &mut net.network.nodes[index - 1];
        slot.config.listen_addr = bound.to_string();
        slot.config.external_address = Some(tap.address().to_string());
        // The satellite dials a node back at most once per 10 s: until then the new
        // address is refused, and the node tries again.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        while let Err(e) = net.network.start_node(index).await {
            assert!(tokio::time::Instant::now() < deadline, "node {index}: {e}");
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        node_taps.push(tap);
    }
    let sat_tap = Wiretap::start("127.0.0.1:0", &net.network.satellite_url().address).await;
    (net, node_taps, sat_tap)
}

/// Uses the network through the taps: an upload, a download, and one piece sent by
/// hand under an order limit the test keeps.
async fn eavesdrop(plain_http: bool) -> Capture {
    let (net, node_taps, sat_tap) = tapped_network(plain_http).await;
    let mut grant = net.access().await;
    grant.satellite.address = sat_tap.address().to_string();
    let api_key = grant.api_key.serialize();

    let project = tests::uplink_core::client::Project::open(
        grant.clone(),
        tests::uplink_core::client::ClientConfig {
            transport: net.mode(),
            ..Default::default()
        },
    )
    .unwrap();
    project.create_bucket("tapped").await.unwrap();
    let data = random_bytes(300_000);
    project
        .upload("tapped", "secret-name", &data[..], Default::default())
        .await
        .unwrap();
    assert!(tests::download(&project, "tapped", "secret-name").await == data);

    let metainfo = net.metainfo(&grant);
    let subject = Subject::default();
    let begun = metainfo
        .begin_object(
            &BeginObjectRequest {
                encrypted_metadata: None,
                bucket: "tapped".into(),
                encrypted_key: "by-hand".into(),
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
    let limit = segment.limits[0].clone();
    assert!(
        node_taps.iter().any(|t| t.address() == limit.address),
        "the limit names the node's tap"
    );
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.send(Bytes::from(vec![9u8; 4000])).await.unwrap();
    drop(tx);
    upload_piece(
        net.transport(),
        limit.clone(),
        rx,
        piece_key,
        std::time::Duration::from_secs(30),
    )
    .await
    .unwrap();

    let mut traffic = sat_tap.captured();
    for tap in &node_taps {
        traffic.extend(tap.captured());
    }
    net.stop().await;
    Capture {
        traffic,
        api_key,
        limit,
    }
}

/// The forms an order limit takes on the wire: its serial and signature as raw bytes
/// (piece uploads frame the limit in postcard) and as the JSON text the satellite sends.
fn limit_forms(limit: &AddressedOrderLimit) -> Vec<(String, Vec<u8>)> {
    let serial = limit.limit.serial_number;
    let signature = limit.limit.satellite_signature;
    vec![
        ("serial (raw)".into(), serial.0.to_vec()),
        ("serial (text)".into(), serial.to_string().into_bytes()),
        ("signature (raw)".into(), signature.0.to_vec()),
        (
            "limit (JSON)".into(),
            serde_json::to_vec(&limit.limit).unwrap(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tls_nothing_secret_crosses_the_wire_in_clear() {
    let capture = eavesdrop(false).await;
    assert!(
        capture.traffic.len() > 600_000,
        "the taps carried the transfers ({} bytes)",
        capture.traffic.len()
    );
    assert!(
        !contains(&capture.traffic, capture.api_key.as_bytes()),
        "the API key crossed the wire in clear"
    );
    for (what, bytes) in limit_forms(&capture.limit) {
        assert!(
            !contains(&capture.traffic, &bytes),
            "the order limit's {what} crossed the wire in clear"
        );
    }
    assert!(!contains(&capture.traffic, b"secret-name"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_plain_http_the_tap_sees_the_key_and_the_limits() {
    let capture = eavesdrop(true).await;
    assert!(
        contains(&capture.traffic, capture.api_key.as_bytes()),
        "the tap missed the API key"
    );
    let forms = limit_forms(&capture.limit);
    assert!(
        contains(&capture.traffic, &forms[0].1) && contains(&capture.traffic, &forms[1].1),
        "the tap missed the order limit"
    );
    // Names are encrypted by the uplink either way.
    assert!(!contains(&capture.traffic, b"secret-name"));
}
