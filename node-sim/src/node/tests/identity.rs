//! The identity challenge: a node proves its identity to trusted satellites at its own
//! address, and a real satellite accepts a real node's check-in through it.

use uplink_core::protocol::wire::{IDENTITY_CHALLENGE_PATH, IdentityChallenge, IdentityProof};

use super::*;

#[tokio::test]
async fn a_node_signs_challenges_of_trusted_satellites_for_its_own_address_only() {
    let net = start().await;
    let challenge = IdentityChallenge {
        nonce: [9; 32],
        satellite_id: net.sat.node_id(),
        address: net.node.address(),
    };
    let resp = net.post_json(IDENTITY_CHALLENGE_PATH, &challenge).await;
    assert_eq!(resp.status(), 200);
    let proof: IdentityProof = resp.json().await.unwrap();
    net.node
        .identity()
        .public_key()
        .verify(&challenge.signing_bytes(), &proof.signature)
        .expect("signed by the node's key");

    let untrusted = IdentityChallenge {
        satellite_id: Identity::generate(0).node_id(),
        ..challenge.clone()
    };
    let resp = net.post_json(IDENTITY_CHALLENGE_PATH, &untrusted).await;
    expect_error(
        resp,
        ErrorCode::UntrustedSatellite,
        "does not trust",
        "untrusted satellite",
    )
    .await;

    let elsewhere = IdentityChallenge {
        address: "198.51.100.7:7777".into(),
        ..challenge
    };
    let resp = net.post_json(IDENTITY_CHALLENGE_PATH, &elsewhere).await;
    expect_error(
        resp,
        ErrorCode::BadRequest,
        "this node is at",
        "another address",
    )
    .await;
}

#[tokio::test]
async fn a_real_node_passes_a_real_satellites_dial_back() {
    let dir = tempfile::tempdir().unwrap();
    let satellite = satellite::start(satellite::SatelliteConfig {
        data_dir: dir.path().join("satellite"),
        listen_addr: "127.0.0.1:0".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(satellite.overlay.config().checkin_ping, "dial-back is on");
    let mut config = NodeConfig::new(dir.path().join("node"));
    config.satellites = vec![satellite.url.clone()];
    config.sync_writes = false;
    config.workers = 1;
    // More than any disk: what the node offers is bounded by its file system.
    config.capacity_bytes = 1 << 62;
    let node = StorageNode::start(config).await.unwrap();
    node.check_in_now().await.unwrap();
    let info = satellite
        .overlay
        .get(&node.id())
        .expect("the satellite recorded the node");
    assert_eq!(info.address, node.address());
    assert!(
        info.free_bytes < 1 << 62,
        "free space is the disk's, not the allowance: {}",
        info.free_bytes
    );
    node.stop().await;
    satellite.stop().await;
}
