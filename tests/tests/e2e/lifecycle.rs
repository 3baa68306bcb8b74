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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_objects_disappear_with_their_pieces() {
    use tests::uplink_core::client::UploadOptions;
    use tests::uplink_core::protocol::now_unix;
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("expiring").await.unwrap();
    let data = tests::random_bytes(600 << 10);
    let keep = tests::random_bytes(100 << 10);
    let expires_at = now_unix() + 2;
    project
        .upload(
            "expiring",
            "soon",
            &data[..],
            UploadOptions {
                expires_at: Some(expires_at),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    project
        .upload("expiring", "kept", &keep[..], Default::default())
        .await
        .unwrap();
    let before = net.stored_pieces().await;
    let info = project.stat_object("expiring", "soon").await.unwrap();
    assert_eq!(info.expires_at, Some(expires_at));

    // Gone from listings and downloads once expired; its pieces deleted from the nodes,
    // the other object's pieces untouched.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let kept_pieces = loop {
        let listed = project.list_objects("expiring", "", true).await.unwrap();
        let pieces = net.stored_pieces().await;
        // 3 segments of 256 KiB for the 600 KiB object, at least `optimal` (8) pieces each.
        if listed.len() == 1 && pieces + 3 * 8 <= before {
            break pieces;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expired object or its pieces still present: {} objects, {pieces} of {before} pieces",
            listed.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(now_unix() >= expires_at);
    assert!(project.stat_object("expiring", "soon").await.is_err());
    assert!(kept_pieces >= 8, "the unexpired object's pieces remain");
    assert_eq!(tests::download(&project, "expiring", "kept").await, keep);
    net.stop().await;
}
