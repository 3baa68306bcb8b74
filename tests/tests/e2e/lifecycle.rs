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
