//! Uploads that are never committed expire, objects expire when they said they would,
//! and their pieces go with them. Deadlines are moved into the past in the database (as
//! the clock would move past them), so no margin can be lost to a slow machine.

use std::time::Duration;

use tests::uplink_core::client::error::Subject;
use tests::uplink_core::client::{UplinkError, UploadOptions};
use tests::uplink_core::protocol::metainfo::{BeginObjectRequest, ListObjectsRequest};
use tests::uplink_core::protocol::{ErrorCode, now_unix};
use tests::{Options, PieceSet, TestNetwork};

/// Moves a deadline column of the objects that match `filter` into the past, as the
/// clock would: the tests then wait for the worker without racing a short expiry.
async fn pass_deadline(net: &TestNetwork, column: &str, filter: &str) {
    use sea_orm::{ConnectionTrait, Statement};
    let db = &net.network.satellite.db;
    let sql = format!(
        "UPDATE objects SET {column} = {} WHERE {filter}",
        now_unix() - 1
    );
    let done = db
        .execute(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1, "{column} of one object");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_objects_that_are_never_committed_expire() {
    let net = TestNetwork::start_with(Options {
        nodes: 4,
        tweak: Box::new(|c| c.satellite.pending_object_expiration = Duration::from_secs(3600)),
    })
    .await;
    let grant = net.access().await;
    let metainfo = net.metainfo(&grant);
    metainfo.create_bucket("pending").await.unwrap();
    let subject = Subject::default();
    let begun_at = now_unix();
    metainfo
        .begin_object(
            &BeginObjectRequest {
                encrypted_metadata: None,
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
        delimiter: None,
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
    // Its deadline is the configured expiration after it began.
    {
        use sea_orm::EntityTrait;
        use tests::satellite::db::entities::object;
        let rows = object::Entity::find()
            .all(&net.network.satellite.db)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        let deadline = rows[0]
            .zombie_deadline
            .expect("a pending object has a deadline");
        assert!(
            (begun_at + 3600..=now_unix() + 3600).contains(&deadline),
            "deadline {deadline} for an upload begun at {begun_at}"
        );
    }

    // The deadline passes; the expiry worker (every 500 ms in tests) removes the upload.
    pass_deadline(&net, "zombie_deadline", "zombie_deadline IS NOT NULL").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
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
    assert!(status["expiry"].steps > 0);
    net.stop().await;
}

/// The satellite refused the call with `code`, saying `why`.
fn refused(err: &UplinkError, code: ErrorCode, why: &str) {
    match err {
        UplinkError::Satellite {
            code: got, message, ..
        } => {
            assert_eq!(*got, code, "{message}");
            assert!(message.contains(why), "{message}");
        }
        other => panic!("expected a refusal with {code:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_inline_segments_are_refused() {
    use tests::uplink_core::protocol::metainfo::{
        CommitObjectRequest, InlineSegmentRequest, ObjectRequest, Sealed,
    };
    let net = TestNetwork::start(4).await;
    let grant = net.access().await;
    let metainfo = net.metainfo(&grant);
    metainfo.create_bucket("inline").await.unwrap();
    let subject = Subject::default();
    let begun = metainfo
        .begin_object(
            &BeginObjectRequest {
                encrypted_metadata: None,
                bucket: "inline".into(),
                encrypted_key: "k".into(),
                expires_at: None,
            },
            &subject,
        )
        .await
        .unwrap();
    let inline = |index: u32, plain_size, len| InlineSegmentRequest {
        stream_id: begun.stream_id.clone(),
        position: tests::uplink_core::protocol::SegmentPosition::single(index),
        plain_size,
        encrypted_key: Sealed::default(),
        data: vec![0u8; len],
    };
    // Many small inline segments would fill the database without touching a node.
    let err = metainfo
        .inline_segment(&inline(1, 10, 26), &subject)
        .await
        .unwrap_err();
    refused(&err, ErrorCode::BadRequest, "segment 0");
    // A size that does not match the data would truncate or pad downloads.
    let err = metainfo
        .inline_segment(&inline(0, 4000, 26), &subject)
        .await
        .unwrap_err();
    refused(&err, ErrorCode::BadRequest, "must carry 4016");
    metainfo
        .inline_segment(&inline(0, 10, 26), &subject)
        .await
        .unwrap();
    let err = metainfo
        .inline_segment(&inline(0, 10, 26), &subject)
        .await
        .unwrap_err();
    refused(&err, ErrorCode::BadRequest, "already committed");
    let info = metainfo
        .commit_object(
            &CommitObjectRequest {
                parts: None,
                if_absent: false,
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
    refused(&err, ErrorCode::NotFound, "no longer pending");
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
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("expiring").await.unwrap();
    let data = tests::random_bytes(600 << 10);
    let keep = tests::random_bytes(100 << 10);
    // An hour away, so that nothing below can run into it on a slow machine; the clock
    // is moved on in the database instead of waited for.
    let expires_at = now_unix() + 3600;
    let recorded_before = net.recorded_pieces().await;
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
    let recorded_soon = net.recorded_pieces().await;
    project
        .upload("expiring", "kept", &keep[..], Default::default())
        .await
        .unwrap();
    let recorded_all = net.recorded_pieces().await;
    let soon: PieceSet = recorded_soon
        .difference(&recorded_before)
        .copied()
        .collect();
    let kept: PieceSet = recorded_all.difference(&recorded_soon).copied().collect();
    // 3 segments of 256 KiB for the 600 KiB object, at least `optimal` (8) pieces each.
    assert!(
        soon.len() >= 3 * 8,
        "{} pieces for the expiring object",
        soon.len()
    );
    assert!(kept.len() >= 8, "{} pieces for the kept object", kept.len());
    let on_nodes = net.pieces_on_nodes().await;
    assert!(soon.is_subset(&on_nodes) && kept.is_subset(&on_nodes));
    let info = project.stat_object("expiring", "soon").await.unwrap();
    assert_eq!(info.expires_at, Some(expires_at));
    assert!(tests::download(&project, "expiring", "soon").await == data);

    pass_deadline(&net, "expires_at", "expires_at IS NOT NULL").await;
    // Refused at once, before the worker has even run ...
    match project.stat_object("expiring", "soon").await {
        Err(UplinkError::ObjectNotFound(_)) => {}
        other => panic!("an expired object is still served: {other:?}"),
    }
    let mut out = Vec::new();
    match project
        .download("expiring", "soon", None, &mut out, None)
        .await
    {
        Err(UplinkError::ObjectNotFound(_)) => {}
        other => panic!("an expired object is still downloaded: {other:?}"),
    }
    assert!(out.is_empty());
    // ... then gone from listings, and every one of its pieces deleted from the nodes,
    // while every piece of the other object stays.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let listed: Vec<String> = project
            .list_objects("expiring", "", true)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect();
        let on_nodes = net.pieces_on_nodes().await;
        let left = soon.intersection(&on_nodes).count();
        assert!(
            kept.is_subset(&on_nodes),
            "pieces of the unexpired object were deleted: {:?}",
            kept.difference(&on_nodes).collect::<Vec<_>>()
        );
        if listed == ["kept"] && left == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expired object or its pieces still present: {listed:?}, {left} of {} pieces",
            soon.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(net.recorded_pieces().await, kept);
    assert_eq!(tests::download(&project, "expiring", "kept").await, keep);
    net.stop().await;
}
