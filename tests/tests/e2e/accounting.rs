//! The live usage counters that limits are checked against always equal what the
//! metadata holds, through uploads, overwrites, deletes, expiry and abandoned uploads.

use std::time::Duration;

use tests::satellite::accounting::{measured_usage, project_usage};
use tests::uplink_core::client::{Subject, UploadOptions};
use tests::uplink_core::protocol::metainfo::{BeginObjectRequest, InlineSegmentRequest, Sealed};
use tests::uplink_core::protocol::now_unix;
use tests::{Options, TestNetwork, random_bytes};

async fn assert_counters_match(net: &TestNetwork, project_id: &str, step: &str) -> u64 {
    let db = &net.network.satellite.db;
    let live = project_usage(db, project_id).await.unwrap();
    let measured = measured_usage(db, project_id).await.unwrap();
    assert_eq!(live, measured, "after {step}");
    live.storage_bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_counters_never_drift() {
    let net = TestNetwork::start_with(Options {
        nodes: 10,
        tweak: Box::new(|c| c.satellite.pending_object_expiration = Duration::from_secs(3)),
    })
    .await;
    let project = net.project().await;
    let id = project.metainfo().project_info().await.unwrap().project_id;
    project.create_bucket("alpha").await.unwrap();
    project.create_bucket("beta").await.unwrap();
    assert_eq!(assert_counters_match(&net, &id, "nothing").await, 0);

    let big = random_bytes(700 << 10); // three segments of 256 KiB
    project
        .upload("alpha", "big", &big[..], Default::default())
        .await
        .unwrap();
    project
        .upload("alpha", "small", &b"tiny"[..], Default::default())
        .await
        .unwrap();
    project
        .upload(
            "beta",
            "other",
            &random_bytes(300 << 10)[..],
            Default::default(),
        )
        .await
        .unwrap();
    let stored = assert_counters_match(&net, &id, "uploads").await;
    assert_eq!(stored, (700 << 10) + 4 + (300 << 10));

    project
        .upload(
            "alpha",
            "big",
            &random_bytes(10 << 10)[..],
            Default::default(),
        )
        .await
        .unwrap();
    assert_counters_match(&net, &id, "an overwrite").await;

    project.delete_object("alpha", "small").await.unwrap();
    assert_counters_match(&net, &id, "a delete").await;

    project
        .upload(
            "alpha",
            "brief",
            &random_bytes(50 << 10)[..],
            UploadOptions {
                expires_at: Some(now_unix() + 1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // An upload that stores a segment and is then abandoned (never committed).
    let metainfo = project.metainfo();
    let subject = Subject::default();
    let begun = metainfo
        .begin_object(
            &BeginObjectRequest {
                bucket: "alpha".into(),
                encrypted_key: "abandoned".into(),
                expires_at: None,
            },
            &subject,
        )
        .await
        .unwrap();
    metainfo
        .inline_segment(
            &InlineSegmentRequest {
                stream_id: begun.stream_id,
                position: 0,
                plain_size: 100,
                encrypted_key: Sealed {
                    ciphertext: vec![7; 48],
                    nonce: vec![7; 12],
                },
                data: vec![9; 116],
            },
            &subject,
        )
        .await
        .unwrap();
    assert_counters_match(&net, &id, "an expiring and an abandoned upload").await;

    // Wait until both the expired object and the abandoned upload are gone.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let db = &net.network.satellite.db;
        let remaining = measured_usage(db, &id).await.unwrap().storage_bytes;
        if remaining == (10 << 10) + (300 << 10) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expiry did not run: {remaining} bytes left"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        project.list_objects("alpha", "", true).await.unwrap().len(),
        1
    );
    assert_counters_match(&net, &id, "expiry").await;

    project.delete_bucket("beta", true).await.unwrap();
    let left = assert_counters_match(&net, &id, "a forced bucket delete").await;
    assert_eq!(left, 10 << 10);
    net.stop().await;
}
