//! Uploads that are never committed expire, and their pieces go with them.

use std::time::Duration;

use tests::uplink_core::client::MetainfoClient;
use tests::uplink_core::client::error::Subject;
use tests::uplink_core::protocol::metainfo::{BeginObjectRequest, ListObjectsRequest};
use tests::{Options, TestNetwork};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_objects_that_are_never_committed_expire() {
    let net = TestNetwork::start_with(Options {
        nodes: 4,
        tweak: Box::new(|c| c.satellite.pending_object_expiration = Duration::from_secs(1)),
    })
    .await;
    let grant = net.access().await;
    let metainfo = MetainfoClient::new(
        reqwest::Client::new(),
        grant.satellite.address.clone(),
        grant.api_key.serialize(),
    );
    metainfo.create_bucket("pending").await.unwrap();
    let subject = Subject::default();
    metainfo
        .begin_object(
            &BeginObjectRequest {
                bucket: "pending".into(),
                encrypted_key: "abandoned".into(),
                expires_at: None,
            },
            &subject,
        )
        .await
        .unwrap();
    let list = |pending| ListObjectsRequest {
        bucket: "pending".into(),
        prefix: String::new(),
        cursor: None,
        recursive: true,
        limit: None,
        include_metadata: false,
        pending,
    };
    let before = metainfo.list_objects(&list(true), &subject).await.unwrap();
    assert_eq!(before.items.len(), 1);
    // Pending objects are invisible to normal listings.
    assert!(
        metainfo
            .list_objects(&list(false), &subject)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // The expiry worker (every 500 ms in tests) removes it once its deadline passed.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let now = metainfo.list_objects(&list(true), &subject).await.unwrap();
        if now.items.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pending object never expired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = net.network.satellite.workers().status();
    assert!(status["expiry"].runs > 0);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_inline_segments_are_refused() {
    use tests::uplink_core::protocol::metainfo::{
        CommitObjectRequest, InlineSegmentRequest, ObjectRequest, Sealed,
    };
    let net = TestNetwork::start(4).await;
    let grant = net.access().await;
    let metainfo = MetainfoClient::new(
        reqwest::Client::new(),
        grant.satellite.address.clone(),
        grant.api_key.serialize(),
    );
    metainfo.create_bucket("inline").await.unwrap();
    let subject = Subject::default();
    let begun = metainfo
        .begin_object(
            &BeginObjectRequest {
                bucket: "inline".into(),
                encrypted_key: "k".into(),
                expires_at: None,
            },
            &subject,
        )
        .await
        .unwrap();
    let inline = |position, plain_size, len| InlineSegmentRequest {
        stream_id: begun.stream_id.clone(),
        position,
        plain_size,
        encrypted_key: Sealed::default(),
        data: vec![0u8; len],
    };
    // Many small inline segments would fill the database without touching a node.
    let err = metainfo
        .inline_segment(&inline(1, 10, 26), &subject)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("segment 0"), "{err}");
    // A size that does not match the data would truncate or pad downloads.
    let err = metainfo
        .inline_segment(&inline(0, 4000, 26), &subject)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("must carry 4016"), "{err}");
    metainfo
        .inline_segment(&inline(0, 10, 26), &subject)
        .await
        .unwrap();
    let err = metainfo
        .inline_segment(&inline(0, 10, 26), &subject)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already committed"), "{err}");
    let info = metainfo
        .commit_object(
            &CommitObjectRequest {
                stream_id: begun.stream_id.clone(),
                encrypted_metadata: None,
            },
            &subject,
        )
        .await
        .unwrap();
    assert_eq!(info.plain_size, 10);
    // Once committed, nothing more can be added to the object.
    let err = metainfo
        .inline_segment(&inline(0, 10, 26), &subject)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no longer pending"), "{err}");
    let got = metainfo
        .get_object(
            &ObjectRequest {
                bucket: "inline".into(),
                encrypted_key: "k".into(),
            },
            &subject,
        )
        .await
        .unwrap();
    assert_eq!(got.segment_count, 1);
    net.stop().await;
}
