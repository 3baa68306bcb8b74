//! Multipart uploads through the library: parts in any order and in parallel, listed
//! with their ETags, completed from a chosen subset without copying, replaced when
//! uploaded again, aborted; and the refusals that leave the upload as it was.

use md5::{Digest, Md5};
use tests::uplink_core::client::{ByteRange, CompleteError, CompletePart, UplinkError};
use tests::uplink_core::protocol::ErrorCode;
use tests::{TestNetwork, download, random_bytes};

fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

fn complete(parts: &[(u32, &str)]) -> Vec<CompletePart> {
    parts
        .iter()
        .map(|(part, etag)| CompletePart {
            part: *part,
            etag: Some(etag.to_string()),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_out_of_order_in_parallel_complete_into_one_object() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("multi").await.unwrap();
    let key = "videos/film.mp4";
    let options = tests::uplink_core::client::UploadOptions {
        content_type: Some("video/mp4".into()),
        ..Default::default()
    };
    let id = project
        .begin_multipart("multi", key, &options)
        .await
        .unwrap();

    // Two parts over the test segment size (256 KiB: two segments each) and a small one.
    let parts: Vec<Vec<u8>> = vec![
        random_bytes(300 << 10),
        random_bytes(600 << 10),
        random_bytes(10_000),
    ];
    let uploads = [3u32, 1, 2].map(|n| {
        let (project, id, data) = (project.clone(), id.clone(), parts[n as usize - 1].clone());
        tokio::spawn(async move {
            project
                .upload_part("multi", key, &id, n, &data[..], None)
                .await
                .unwrap()
        })
    });
    for (handle, n) in uploads.into_iter().zip([3u32, 1, 2]) {
        let uploaded = handle.await.unwrap();
        assert_eq!(uploaded.part, n);
        assert_eq!(uploaded.size, parts[n as usize - 1].len() as u64);
        assert_eq!(uploaded.etag, md5_hex(&parts[n as usize - 1]));
    }

    // Listed in part order with sizes and ETags; and paged.
    let (listed, more) = project
        .list_parts("multi", key, &id, 0, None)
        .await
        .unwrap();
    assert!(!more);
    assert_eq!(listed.iter().map(|p| p.part).collect::<Vec<_>>(), [1, 2, 3]);
    for p in &listed {
        assert_eq!(p.size, parts[p.part as usize - 1].len() as u64);
        assert_eq!(
            p.etag.as_deref(),
            Some(md5_hex(&parts[p.part as usize - 1]).as_str())
        );
    }
    let (first, more) = project
        .list_parts("multi", key, &id, 0, Some(1))
        .await
        .unwrap();
    assert_eq!((first.len(), first[0].part, more), (1, 1, true));
    let (rest, more) = project
        .list_parts("multi", key, &id, 1, Some(5))
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|p| p.part).collect::<Vec<_>>(), [2, 3]);
    assert!(!more);

    // The pending upload is listed, and nothing is visible at the key yet.
    let uploads = project
        .list_multipart_uploads("multi", "videos/", None, None)
        .await
        .unwrap();
    assert_eq!(uploads.uploads.len(), 1);
    assert_eq!(uploads.uploads[0].key, key);
    assert_eq!(uploads.uploads[0].upload_id, id);
    assert!(matches!(
        project.stat_object("multi", key).await,
        Err(UplinkError::ObjectNotFound(_))
    ));

    let etags: Vec<String> = parts.iter().map(|p| md5_hex(p)).collect();
    let entry = project
        .complete_multipart(
            "multi",
            key,
            &id,
            &complete(&[(1, &etags[0]), (2, &etags[1]), (3, &etags[2])]),
            0,
            &Default::default(),
        )
        .await
        .unwrap()
        .unwrap();
    let whole: Vec<u8> = parts.concat();
    assert_eq!(entry.size, whole.len() as u64);
    let mut outer = Md5::new();
    for p in &parts {
        outer.update(Md5::digest(p));
    }
    let expected_etag = format!("{}-3", hex::encode(outer.finalize()));
    assert_eq!(entry.etag.as_deref(), Some(expected_etag.as_str()));
    assert_eq!(entry.content_type.as_deref(), Some("video/mp4"));

    // Read back whole, and across the boundary between parts 1 and 2.
    assert!(
        download(&project, "multi", key).await == whole,
        "content differs"
    );
    let stat = project.stat_object("multi", key).await.unwrap();
    assert_eq!(stat.etag.as_deref(), Some(expected_etag.as_str()));
    assert_eq!(stat.sha256, None);
    let start = (300 << 10) - 1000;
    let mut out = Vec::new();
    project
        .download(
            "multi",
            key,
            Some(ByteRange::Inclusive {
                start,
                end: start + 5999,
            }),
            &mut out,
            None,
        )
        .await
        .unwrap();
    assert!(out[..] == whole[start as usize..start as usize + 6000]);
    // The upload is gone once completed.
    let uploads = project
        .list_multipart_uploads("multi", "", None, None)
        .await
        .unwrap();
    assert!(uploads.uploads.is_empty());
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_completions_change_nothing_and_a_subset_completes() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("multi").await.unwrap();
    let key = "db/backup.tar";
    let id = project
        .begin_multipart("multi", key, &Default::default())
        .await
        .unwrap();
    let p1 = random_bytes(20_000);
    let p2 = random_bytes(30_000);
    let p3 = random_bytes(5_000);
    for (n, data) in [(1u32, &p1), (2, &p2), (3, &p3)] {
        project
            .upload_part("multi", key, &id, n, &data[..], None)
            .await
            .unwrap();
    }
    let (e1, e2, e3) = (md5_hex(&p1), md5_hex(&p2), md5_hex(&p3));

    // A wrong ETag, a part never uploaded, parts out of order, a part below the
    // minimum size: each refused, and the upload is still there with all its parts.
    let refusals = [
        (
            complete(&[(1, &e2), (2, &e2)]),
            0,
            CompleteError::InvalidPart(1),
        ),
        (
            complete(&[(1, &e1), (4, &e3)]),
            0,
            CompleteError::InvalidPart(4),
        ),
        (
            complete(&[(2, &e2), (1, &e1)]),
            0,
            CompleteError::InvalidPartOrder,
        ),
        (
            complete(&[(1, &e1), (2, &e2)]),
            25_000,
            CompleteError::PartTooSmall {
                part: 1,
                size: 20_000,
                min: 25_000,
            },
        ),
    ];
    for (parts, min, expected) in refusals {
        let got = project
            .complete_multipart("multi", key, &id, &parts, min, &Default::default())
            .await
            .unwrap();
        assert_eq!(got.unwrap_err(), expected);
    }
    let (listed, _) = project
        .list_parts("multi", key, &id, 0, None)
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);

    // Part 2 uploaded again replaces the first upload of it.
    let p2b = random_bytes(12_345);
    let again = project
        .upload_part("multi", key, &id, 2, &p2b[..], None)
        .await
        .unwrap();
    assert_eq!(again.etag, md5_hex(&p2b));
    let (listed, _) = project
        .list_parts("multi", key, &id, 0, None)
        .await
        .unwrap();
    assert_eq!(listed[1].size, 12_345);
    assert_eq!(listed[1].etag.as_deref(), Some(again.etag.as_str()));
    // The old ETag of part 2 no longer completes.
    let stale = project
        .complete_multipart(
            "multi",
            key,
            &id,
            &complete(&[(2, &e2)]),
            0,
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(stale.unwrap_err(), CompleteError::InvalidPart(2));

    // A subset (parts 1 and 3) makes the object; part 2's data is dropped.
    let segments_before = net.segments().await.len();
    let entry = project
        .complete_multipart(
            "multi",
            key,
            &id,
            &complete(&[(1, &e1), (3, &e3)]),
            0,
            &Default::default(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.size, (p1.len() + p3.len()) as u64);
    assert!(download(&project, "multi", key).await == [p1.clone(), p3.clone()].concat());
    assert_eq!(net.segments().await.len(), segments_before - 1);

    // If-None-Match: * refuses a completion over the existing object, which stays.
    let id2 = project
        .begin_multipart("multi", key, &Default::default())
        .await
        .unwrap();
    let p = random_bytes(6000);
    project
        .upload_part("multi", key, &id2, 1, &p[..], None)
        .await
        .unwrap();
    let only_if_absent = tests::uplink_core::client::UploadOptions {
        if_absent: true,
        ..Default::default()
    };
    let err = project
        .complete_multipart(
            "multi",
            key,
            &id2,
            &complete(&[(1, &md5_hex(&p))]),
            0,
            &only_if_absent,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            UplinkError::Satellite {
                code: ErrorCode::PreconditionFailed,
                status: 412,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(download(&project, "multi", key).await == [p1, p3].concat());
    // The refused upload is still pending; aborting it removes it and its part.
    project.abort_multipart("multi", key, &id2).await.unwrap();
    let err = project
        .list_parts("multi", key, &id2, 0, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            UplinkError::Satellite {
                code: ErrorCode::NotFound,
                ..
            }
        ),
        "{err:?}"
    );
    // An upload id is good only at its own key.
    let id3 = project
        .begin_multipart("multi", "other", &Default::default())
        .await
        .unwrap();
    let err = project
        .upload_part("multi", key, &id3, 1, &b"x"[..], None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            UplinkError::Satellite {
                code: ErrorCode::NotFound,
                ..
            }
        ),
        "{err:?}"
    );
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_uploads_record_md5_and_sha256_and_if_absent_refuses_overwrites() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("plain").await.unwrap();
    for size in [0usize, 100, 300 << 10] {
        let data = random_bytes(size);
        let key = format!("k{size}");
        let entry = project
            .upload("plain", &key, &data[..], Default::default())
            .await
            .unwrap();
        assert_eq!(
            entry.etag.as_deref(),
            Some(md5_hex(&data).as_str()),
            "size {size}"
        );
        let stat = project.stat_object("plain", &key).await.unwrap();
        assert_eq!(stat.etag, entry.etag);
        assert_eq!(
            stat.sha256.as_deref(),
            Some(hex::encode(sha2::Sha256::digest(&data)).as_str())
        );
        let again = project
            .upload(
                "plain",
                &key,
                &b"replacement"[..],
                tests::uplink_core::client::UploadOptions {
                    if_absent: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                again,
                UplinkError::Satellite {
                    code: ErrorCode::PreconditionFailed,
                    ..
                }
            ),
            "{again:?}"
        );
        assert!(download(&project, "plain", &key).await == data);
    }
    // Without an object there, the same option commits.
    project
        .upload(
            "plain",
            "fresh",
            &b"new"[..],
            tests::uplink_core::client::UploadOptions {
                if_absent: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    net.stop().await;
}
