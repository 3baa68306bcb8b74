//! The live usage counters that limits are checked against always equal what the
//! metadata holds, through uploads, overwrites, deletes, expiry and abandoned uploads.
//!
//! Both the counters and the satellite's own recount are compared with what this test
//! knows it stored, field by field, so neither side can agree with itself by accident.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};
use tests::satellite::accounting::{ProjectUsage, measured_usage, project_usage};
use tests::uplink_core::client::{Subject, UploadOptions};
use tests::uplink_core::protocol::metainfo::{BeginObjectRequest, InlineSegmentRequest, Sealed};
use tests::uplink_core::protocol::now_unix;
use tests::{TestNetwork, random_bytes};

const KIB: u64 = 1 << 10;

/// What the project holds, as the test counts it.
#[derive(Clone, Copy, Debug, Default)]
struct Expected {
    buckets: u64,
    storage_bytes: u64,
    segments: u64,
    objects: u64,
}

impl Expected {
    fn usage(self) -> ProjectUsage {
        ProjectUsage {
            buckets: self.buckets,
            storage_bytes: self.storage_bytes,
            segments: self.segments,
            objects: self.objects,
            egress_bytes: 0,
        }
    }
}

async fn assert_usage(net: &TestNetwork, project_id: &str, expected: Expected, step: &str) {
    let db = &net.network.satellite.db;
    let live = project_usage(db, project_id).await.unwrap();
    let measured = measured_usage(db, project_id).await.unwrap();
    assert_eq!(live, expected.usage(), "live counters after {step}");
    assert_eq!(measured, expected.usage(), "recount after {step}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_counters_never_drift() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await; // 256 KiB segments
    let id = project.metainfo().project_info().await.unwrap().project_id;
    project.create_bucket("alpha").await.unwrap();
    project.create_bucket("beta").await.unwrap();
    let mut expected = Expected {
        buckets: 2,
        ..Default::default()
    };
    assert_usage(&net, &id, expected, "nothing").await;

    let upload = |bucket: &'static str, key: &'static str, len: u64, options| {
        let project = &project;
        async move {
            project
                .upload(bucket, key, &random_bytes(len as usize)[..], options)
                .await
                .unwrap();
        }
    };
    upload("alpha", "big", 700 * KIB, Default::default()).await; // 3 segments
    upload("alpha", "small", 4, Default::default()).await; // 1 inline segment
    upload("beta", "other", 300 * KIB, Default::default()).await; // 2 segments
    expected.storage_bytes = 700 * KIB + 4 + 300 * KIB;
    expected.segments = 6;
    expected.objects = 3;
    assert_usage(&net, &id, expected, "uploads").await;

    upload("alpha", "big", 10 * KIB, Default::default()).await; // 3 segments become 1
    expected.storage_bytes -= 700 * KIB - 10 * KIB;
    expected.segments -= 2;
    assert_usage(&net, &id, expected, "an overwrite").await;

    project.delete_object("alpha", "small").await.unwrap();
    expected.storage_bytes -= 4;
    expected.segments -= 1;
    expected.objects -= 1;
    assert_usage(&net, &id, expected, "a delete").await;

    // An object that expires (an hour from now: the clock is moved on below, so no
    // margin here can be lost to a slow machine) ...
    upload(
        "alpha",
        "brief",
        50 * KIB,
        UploadOptions {
            expires_at: Some(now_unix() + 3600),
            ..Default::default()
        },
    )
    .await;
    // ... and an upload that stores a segment and is then abandoned (never committed).
    let metainfo = project.metainfo();
    let subject = Subject::default();
    let begun = metainfo
        .begin_object(
            &BeginObjectRequest {
                encrypted_metadata: None,
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
                position: tests::uplink_core::protocol::SegmentPosition::single(0),
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
    let before_expiry = expected;
    expected.storage_bytes += 50 * KIB + 100;
    expected.segments += 2;
    expected.objects += 1; // the pending upload is not an object yet
    assert_usage(&net, &id, expected, "an expiring and an abandoned upload").await;

    // Time passes: both deadlines are moved into the past in the database, as the clock
    // would, and the expiry worker (every 500 ms in tests) removes both.
    let db = &net.network.satellite.db;
    let past = now_unix() - 1;
    for sql in [
        format!("UPDATE objects SET expires_at = {past} WHERE expires_at IS NOT NULL"),
        format!("UPDATE objects SET zombie_deadline = {past} WHERE zombie_deadline IS NOT NULL"),
    ] {
        let done = db
            .execute(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1, "one object for each deadline");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let remaining = measured_usage(db, &id).await.unwrap();
        if remaining.segments == before_expiry.segments {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expiry did not run: {remaining:?} left"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    expected = before_expiry;
    assert_usage(&net, &id, expected, "expiry").await;
    let left: Vec<String> = project
        .list_objects("alpha", "", true)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(left, ["big"]);

    project.delete_bucket("beta", true).await.unwrap();
    expected.buckets -= 1;
    expected.storage_bytes -= 300 * KIB;
    expected.segments -= 2;
    expected.objects -= 1;
    assert_usage(&net, &id, expected, "a forced bucket delete").await;
    assert_eq!(expected.storage_bytes, 10 * KIB);
    net.stop().await;
}
