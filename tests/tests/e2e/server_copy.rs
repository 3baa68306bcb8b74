//! Server-side copy and move: the new object shares the source's pieces under
//! re-wrapped keys (no bytes move), survives the source's deletion, and its own
//! deletion frees the pieces; and the refusals that change nothing.

use std::time::Duration;

use tests::uplink_core::client::{CopyOptions, UplinkError, UploadOptions};
use tests::uplink_core::protocol::ErrorCode;
use tests::uplink_core::protocol::metainfo::{CopyObjectRequest, ObjectRequest};
use tests::{Options, TestNetwork, download, random_bytes};

async fn network() -> TestNetwork {
    TestNetwork::start_with(Options {
        nodes: 10,
        tweak: Box::new(|c| {
            c.satellite.piece_deletion_interval = Duration::from_millis(200);
        }),
    })
    .await
}

/// The pieces the nodes hold once every queued deletion (the long tail of the uploads
/// so far) has been carried out.
async fn settled_pieces(net: &TestNetwork) -> usize {
    use sea_orm::{EntityTrait, PaginatorTrait};
    for _ in 0..100 {
        let queued = satellite::db::entities::piece_deletion::Entity::find()
            .count(&net.network.satellite.db)
            .await
            .unwrap();
        if queued == 0 {
            return net.stored_pieces().await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("piece deletions were never carried out");
}

/// Waits until the nodes hold `n` pieces (deletions are sent in the background).
async fn pieces_become(net: &TestNetwork, n: usize) {
    for _ in 0..100 {
        if net.stored_pieces().await == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "nodes hold {} pieces, expected {n}",
        net.stored_pieces().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_shares_pieces_and_outlives_its_source() {
    let net = network().await;
    let project = net.project().await;
    project.create_bucket("src").await.unwrap();
    project.create_bucket("dst").await.unwrap();
    // Three segments (256 KiB each in tests) and metadata.
    let data = random_bytes(700_000);
    let options = UploadOptions {
        content_type: Some("image/png".into()),
        metadata: [("artist".to_string(), "ada".to_string())].into(),
        ..Default::default()
    };
    let original = project
        .upload("src", "art/piece.png", &data[..], options)
        .await
        .unwrap();
    let pieces = settled_pieces(&net).await;
    assert!(pieces > 0);

    let copy = project
        .copy_object(
            "src",
            "art/piece.png",
            "dst",
            "gallery/copy.png",
            &CopyOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(copy.size, data.len() as u64);
    assert_eq!(copy.etag, original.etag);
    assert_eq!(copy.sha256, original.sha256);
    assert_eq!(copy.content_type.as_deref(), Some("image/png"));
    assert_eq!(copy.metadata.get("artist").map(String::as_str), Some("ada"));
    // No data moved: the nodes hold the same pieces.
    assert_eq!(net.stored_pieces().await, pieces);
    assert!(download(&project, "dst", "gallery/copy.png").await == data);
    let stat = project
        .stat_object("dst", "gallery/copy.png")
        .await
        .unwrap();
    assert_eq!(stat.metadata, copy.metadata);

    // The source goes; its pieces stay for the copy.
    project.delete_object("src", "art/piece.png").await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(net.stored_pieces().await, pieces);
    assert!(download(&project, "dst", "gallery/copy.png").await == data);

    // A copy of the copy onto a new name with new metadata, then the first copy
    // replaced by an upload: the second copy still reads, and only when the last name
    // goes are the pieces deleted.
    let again = project
        .copy_object(
            "dst",
            "gallery/copy.png",
            "dst",
            "second.png",
            &CopyOptions {
                replace_metadata: Some((Some("image/x-png".into()), Default::default())),
                if_absent: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(again.content_type.as_deref(), Some("image/x-png"));
    assert!(again.metadata.is_empty());
    project
        .upload("dst", "gallery/copy.png", &b"small"[..], Default::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(net.stored_pieces().await, pieces);
    assert!(download(&project, "dst", "second.png").await == data);
    project.delete_object("dst", "second.png").await.unwrap();
    pieces_become(&net, 0).await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_renames_without_moving_data_and_refusals_change_nothing() {
    let net = network().await;
    let project = net.project().await;
    project.create_bucket("bkt").await.unwrap();
    let data = random_bytes(600_000);
    project
        .upload("bkt", "old/name.bin", &data[..], Default::default())
        .await
        .unwrap();
    let small = random_bytes(1000);
    project
        .upload("bkt", "inline.txt", &small[..], Default::default())
        .await
        .unwrap();
    let pieces = settled_pieces(&net).await;

    let moved = project
        .move_object(
            "bkt",
            "old/name.bin",
            "bkt",
            "new/name.bin",
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(moved.size, data.len() as u64);
    assert!(matches!(
        project.stat_object("bkt", "old/name.bin").await,
        Err(UplinkError::ObjectNotFound(_))
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(net.stored_pieces().await, pieces);
    assert!(download(&project, "bkt", "new/name.bin").await == data);
    // Inline objects copy too.
    project
        .copy_object(
            "bkt",
            "inline.txt",
            "bkt",
            "inline-copy.txt",
            &Default::default(),
        )
        .await
        .unwrap();
    assert!(download(&project, "bkt", "inline-copy.txt").await == small);

    // Refusals: onto an existing key with if_absent, a missing source, a missing
    // bucket, a move onto itself. Each leaves everything as it was.
    let err = project
        .copy_object(
            "bkt",
            "new/name.bin",
            "bkt",
            "inline.txt",
            &CopyOptions {
                if_absent: true,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            UplinkError::Satellite {
                code: ErrorCode::PreconditionFailed,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(download(&project, "bkt", "inline.txt").await == small);
    assert!(matches!(
        project
            .copy_object("bkt", "missing", "bkt", "x", &Default::default())
            .await,
        Err(UplinkError::ObjectNotFound(_))
    ));
    assert!(matches!(
        project
            .copy_object("bkt", "new/name.bin", "nobucket", "x", &Default::default())
            .await,
        Err(UplinkError::BucketNotFound(_))
    ));
    assert!(matches!(
        project
            .move_object(
                "bkt",
                "new/name.bin",
                "bkt",
                "new/name.bin",
                &Default::default()
            )
            .await,
        Err(UplinkError::InvalidArgument(_))
    ));
    assert!(download(&project, "bkt", "new/name.bin").await == data);

    // Keys taken from one version do not copy another: the source was replaced
    // between copy-begin and copy.
    let grant = project.access().clone();
    let metainfo = net.metainfo(&grant);
    let store = &grant.encryption;
    let subject = Default::default();
    let encrypted_key = store.encrypt_key("bkt", "new/name.bin").unwrap();
    let begun = metainfo
        .copy_begin(
            &ObjectRequest {
                bucket: "bkt".into(),
                encrypted_key: encrypted_key.clone(),
            },
            &subject,
        )
        .await
        .unwrap();
    project
        .upload("bkt", "new/name.bin", &b"replaced"[..], Default::default())
        .await
        .unwrap();
    let err = metainfo
        .copy_object(
            &CopyObjectRequest {
                bucket: "bkt".into(),
                encrypted_key,
                object_id: begun.object.object_id.clone(),
                new_bucket: "bkt".into(),
                new_encrypted_key: store.encrypt_key("bkt", "stale-copy").unwrap(),
                encrypted_metadata: None,
                segment_keys: begun.segment_keys.clone(),
                delete_source: false,
                if_absent: false,
            },
            &subject,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            UplinkError::Satellite {
                code: ErrorCode::Conflict,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        project.stat_object("bkt", "stale-copy").await,
        Err(UplinkError::ObjectNotFound(_))
    ));
    net.stop().await;
}
