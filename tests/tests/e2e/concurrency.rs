//! Many clients at once on the default SQLite database (and on PostgreSQL when
//! `TEST_DATABASE_URL` is set): no upload fails because another one commits at the same
//! moment, and no limit is passed by requests that race for its last unit.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::TestNetwork;
use tests::satellite::accounting::egress_this_month;
use tests::satellite::projects::{LimitsUpdate, set_limits};
use tests::uplink_core::client::error::{Subject, UplinkError};
use tests::uplink_core::client::{ClientConfig, MetainfoClient, Project};
use tests::uplink_core::protocol::ErrorCode;
use tests::uplink_core::protocol::metainfo::{
    DownloadObjectRequest, DownloadSegmentRequest, ListObjectsRequest,
};

const SEED: u64 = 0x5eed_c0ff_ee07;

/// Twenty clients, each as its own process would be (own connection pool), upload ten
/// objects each at the same time; every upload succeeds and reads back exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uploaders_all_succeed() {
    let net = TestNetwork::start(10).await;
    let grant = net.access().await;
    let config = ClientConfig {
        segment_size: 128 << 10,
        ..ClientConfig::default()
    };
    Project::open(grant.clone(), config.clone())
        .unwrap()
        .create_bucket("crowd")
        .await
        .unwrap();
    println!("seed {SEED:#x}");
    let clients = 20;
    let per_client = 10;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let project = Project::open(grant.clone(), config.clone()).unwrap();
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(SEED + c as u64);
            let mut failures = Vec::new();
            let mut written = Vec::new();
            for i in 0..per_client {
                let mut data = vec![0u8; rng.gen_range(5_000..200_000)];
                rng.fill_bytes(&mut data);
                let key = format!("client-{c}/object-{i}");
                match project
                    .upload("crowd", &key, &data[..], Default::default())
                    .await
                {
                    Ok(_) => written.push((key, data)),
                    Err(e) => failures.push(format!("{key}: {e}")),
                }
            }
            (project, written, failures)
        }));
    }
    let mut all_failures = Vec::new();
    let mut checked = 0;
    for task in tasks {
        let (project, written, failures) = task.await.unwrap();
        all_failures.extend(failures);
        for (key, data) in written {
            assert!(
                tests::download(&project, "crowd", &key).await == data,
                "{key} reads back different bytes"
            );
            checked += 1;
        }
    }
    assert!(
        all_failures.is_empty(),
        "{} of {} uploads failed: {:#?}",
        all_failures.len(),
        clients * per_client,
        all_failures
    );
    assert_eq!(checked, clients * per_client);
    net.stop().await;
}

/// Twelve bucket creations at once against a limit of two: exactly two succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_bucket_creations_respect_the_limit() {
    let net = TestNetwork::start(4).await;
    let project = net.project().await;
    let id = project.metainfo().project_info().await.unwrap().project_id;
    set_limits(
        &net.network.satellite.db,
        &id,
        LimitsUpdate {
            buckets: Some(2),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let metainfo = Arc::new(project.metainfo().clone());
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let metainfo = metainfo.clone();
            tokio::spawn(async move { metainfo.create_bucket(&format!("race-{i}")).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(UplinkError::LimitExceeded(message)) => {
                assert!(message.contains("bucket limit of 2"), "{message}")
            }
            Err(other) => panic!("a creation failed for another reason: {other}"),
        }
    }
    assert_eq!(created, 2);
    assert_eq!(project.list_buckets().await.unwrap().len(), 2);
    net.stop().await;
}

/// Twelve project creations at once by one account against a limit of three.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_project_creations_respect_the_limit() {
    let net = TestNetwork::start(1).await;
    let http = net.http();
    let base = format!("{}/api/v0", net.console_url());
    let res = http
        .post(format!("{base}/auth/signup"))
        .json(&json!({"email": "racer@example.com", "password": "a long passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let (http, base, token) = (http.clone(), base.clone(), token.clone());
            tokio::spawn(async move {
                let res = http
                    .post(format!("{base}/projects"))
                    .bearer_auth(token)
                    .json(&json!({"name": format!("p{i}")}))
                    .send()
                    .await
                    .unwrap();
                (res.status(), res.text().await.unwrap())
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(body.contains("own 3 projects"), "{body}")
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(created, 3);
    let res = http
        .get(format!("{base}/projects"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let listed = res.json::<Value>().await.unwrap();
    assert_eq!(listed["projects"].as_array().unwrap().len(), 3, "{listed}");
    net.stop().await;
}

/// The raw download handle and encrypted key of the only object in `bucket`.
async fn only_object(metainfo: &MetainfoClient, bucket: &str) -> (String, u32) {
    let subject = Subject::bucket(bucket);
    let listed = metainfo
        .list_objects(
            &ListObjectsRequest {
                bucket: bucket.into(),
                delimiter: None,
                prefix: String::new(),
                cursor: None,
                recursive: true,
                limit: None,
                include_metadata: false,
                pending: false,
            },
            &subject,
        )
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    let download = metainfo
        .download_object(
            &DownloadObjectRequest {
                bucket: bucket.into(),
                encrypted_key: listed.items[0].encrypted_key.clone(),
                segment_cursor: Default::default(),
                segment_limit: None,
                first_at: None,
            },
            &subject,
        )
        .await
        .unwrap();
    (download.stream_id, download.segments.len() as u32)
}

fn segment(stream_id: &str, exclude: Vec<u16>) -> DownloadSegmentRequest {
    DownloadSegmentRequest {
        stream_id: stream_id.to_string(),
        position: tests::uplink_core::protocol::SegmentPosition::single(0),
        exclude,
    }
}

/// Requests that replace failed pieces (`exclude`) are charged too, and may only name
/// pieces of the segment; at the limit they are refused like any other download.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_up_download_requests_are_charged() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    let id = project.metainfo().project_info().await.unwrap().project_id;
    let db = &net.network.satellite.db;
    project.create_bucket("egress").await.unwrap();
    let size = 200_000u64;
    project
        .upload(
            "egress",
            "video",
            &tests::random_bytes(size as usize)[..],
            Default::default(),
        )
        .await
        .unwrap();
    let metainfo = project.metainfo();
    let (stream_id, segments) = only_object(metainfo, "egress").await;
    assert_eq!(segments, 1);
    let subject = Subject::default();

    // Bad input is refused and charges nothing.
    let before = egress_this_month(db, &id).await.unwrap();
    for bad in [vec![999], vec![0, 0]] {
        match metainfo
            .download_segment(&segment(&stream_id, bad.clone()), &subject)
            .await
        {
            Err(UplinkError::Satellite {
                code: ErrorCode::BadRequest,
                message,
                ..
            }) => assert!(message.contains("exclude names piece"), "{message}"),
            other => panic!("exclude {bad:?} was not refused: {other:?}"),
        }
    }
    assert_eq!(egress_this_month(db, &id).await.unwrap(), before);

    // A limit of exactly one download.
    set_limits(
        db,
        &id,
        LimitsUpdate {
            egress_bytes: Some(before + size),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let first = metainfo
        .download_segment(&segment(&stream_id, vec![]), &subject)
        .await
        .unwrap();
    let piece = first.limits[0].piece_num;
    for exclude in [vec![], vec![piece]] {
        for _ in 0..3 {
            match metainfo
                .download_segment(&segment(&stream_id, exclude.clone()), &subject)
                .await
            {
                Err(UplinkError::LimitExceeded(message)) => {
                    assert!(message.contains("monthly egress"), "{message}")
                }
                other => panic!("a download past the limit (exclude {exclude:?}) got {other:?}"),
            }
        }
    }
    assert_eq!(egress_this_month(db, &id).await.unwrap(), before + size);
    net.stop().await;
}

/// Twelve downloads at once against a limit of three: exactly three get limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_downloads_respect_the_egress_limit() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    let id = project.metainfo().project_info().await.unwrap().project_id;
    let db = &net.network.satellite.db;
    project.create_bucket("egress").await.unwrap();
    let size = 100_000u64;
    project
        .upload(
            "egress",
            "clip",
            &tests::random_bytes(size as usize)[..],
            Default::default(),
        )
        .await
        .unwrap();
    let (stream_id, _) = only_object(project.metainfo(), "egress").await;
    let before = egress_this_month(db, &id).await.unwrap();
    set_limits(
        db,
        &id,
        LimitsUpdate {
            egress_bytes: Some(before + 3 * size),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let metainfo = Arc::new(project.metainfo().clone());
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let (metainfo, stream_id) = (metainfo.clone(), stream_id.clone());
            tokio::spawn(async move {
                metainfo
                    .download_segment(&segment(&stream_id, vec![]), &Subject::default())
                    .await
            })
        })
        .collect();
    let mut granted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => granted += 1,
            Err(UplinkError::LimitExceeded(_)) => {}
            Err(other) => panic!("a download failed for another reason: {other}"),
        }
    }
    assert_eq!(granted, 3);
    assert_eq!(egress_this_month(db, &id).await.unwrap(), before + 3 * size);
    net.stop().await;
}

/// Reads racing overwrites of their key: a read of a one-segment object that has
/// opened always finishes with the version it opened (its segment comes with the open,
/// and replaced pieces wait out a grace period); a longer read either finishes with
/// exactly one version or ends with an error that says the object changed. Never a
/// mix of versions, never bytes of no version.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_racing_overwrites_return_one_version_or_say_it_changed() {
    let net = TestNetwork::start_with(tests::Options {
        tweak: Box::new(|c| {
            c.satellite.piece_deletion_grace = std::time::Duration::from_secs(60);
        }),
        ..Default::default()
    })
    .await;
    let project = net.project().await;
    project.create_bucket("race").await.unwrap();
    // Test projects cut 256 KiB segments: one segment, and six.
    for (key, size, must_finish) in [("small", 200_000, true), ("large", 1_500_000, false)] {
        let versions: Vec<Vec<u8>> = (0..6).map(|_| tests::random_bytes(size)).collect();
        project
            .upload("race", key, &versions[0][..], Default::default())
            .await
            .unwrap();
        let writer = {
            let project = project.clone();
            let versions = versions.clone();
            tokio::spawn(async move {
                for v in &versions[1..] {
                    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
                    project
                        .upload("race", key, &v[..], Default::default())
                        .await
                        .unwrap();
                }
            })
        };
        let (mut finished, mut changed) = (0, 0);
        while !writer.is_finished() {
            use futures::StreamExt;
            let mut reader = project.open_object("race", key, None).await.unwrap();
            let mut got = Vec::new();
            let mut failed = None;
            while let Some(chunk) = reader.next().await {
                match chunk {
                    Ok(chunk) => got.extend_from_slice(&chunk),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
                // A slow reader: the overwrite lands while it is mid-body.
                tokio::time::sleep(std::time::Duration::from_millis(40)).await;
            }
            match failed {
                None => {
                    assert!(versions.contains(&got), "{key}: bytes of no version");
                    finished += 1;
                }
                Some(e) => {
                    assert!(!must_finish, "{key}: an opened read broke off: {e}");
                    assert!(
                        e.to_string().contains("deleted or replaced while"),
                        "{key}: {e}"
                    );
                    changed += 1;
                }
            }
        }
        writer.await.unwrap();
        println!("{key}: {finished} reads finished, {changed} ended because the object changed");
        assert!(finished > 0, "{key}: no read finished");
    }
    net.stop().await;
}

/// Segment requests racing the deletion of their object: the satellite reads the
/// object and then its segment, and a deletion may commit between the two. Every
/// refusal must still say that the object is gone (what a reader turns into "deleted or
/// replaced while it was being read"), never that a segment of a live object is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn segment_requests_racing_a_deletion_say_the_object_is_gone() {
    let net = TestNetwork::start(4).await;
    let project = net.project().await;
    project.create_bucket("gone").await.unwrap();
    let metainfo = Arc::new(project.metainfo().clone());
    let (mut served, mut refused) = (0u64, 0u64);
    for round in 0..40 {
        // Small enough to be inline: a round is one commit and one deletion.
        project
            .upload(
                "gone",
                "note",
                &tests::random_bytes(1_000)[..],
                Default::default(),
            )
            .await
            .unwrap();
        let (stream_id, _) = only_object(&metainfo, "gone").await;
        let readers: Vec<_> = (0..6)
            .map(|_| {
                let (metainfo, stream_id) = (metainfo.clone(), stream_id.clone());
                tokio::spawn(async move {
                    let mut served = 0u64;
                    loop {
                        match metainfo
                            .download_segment(&segment(&stream_id, vec![]), &Subject::default())
                            .await
                        {
                            Ok(_) => served += 1,
                            Err(e) => return (served, e),
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        project.delete_object("gone", "note").await.unwrap();
        for reader in readers {
            let (n, e) = reader.await.unwrap();
            served += n;
            refused += 1;
            assert!(
                matches!(e, UplinkError::ObjectNotFound(_)),
                "round {round}: a segment request after the deletion got: {e}"
            );
        }
    }
    println!("{served} segment requests served, {refused} refused as deleted");
    net.stop().await;
}

/// What a read sees when an overwrite commits between the satellite's lookup of the
/// object and of its segments: the object, without (all of) its segments. Such a read
/// must fail and say so, never end quietly short. Here the segments are removed
/// directly, to stand in for that moment deterministically.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_whose_segments_stop_short_fails_instead_of_ending_early() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use tests::satellite::db::entities::{object, segment};
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("short").await.unwrap();
    let db = &net.network.satellite.db;
    let mut seen = std::collections::HashSet::new();
    // One segment (all of it goes), and six (the last one goes).
    for (key, size, keep) in [("one", 200_000, 0), ("six", 1_500_000, 5)] {
        let data = tests::random_bytes(size);
        project
            .upload("short", key, &data[..], Default::default())
            .await
            .unwrap();
        let mut got = Vec::new();
        project
            .download("short", key, None, &mut got, None)
            .await
            .unwrap();
        assert!(got == data, "{key}: the intact object reads back");

        // This upload's object is the one not seen before.
        let id = object::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.id)
            .find(|id| seen.insert(id.clone()))
            .unwrap();
        let mut positions: Vec<i64> = segment::Entity::find()
            .filter(segment::Column::ObjectId.eq(id.clone()))
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.position)
            .collect();
        positions.sort_unstable();
        assert!(positions.len() > keep, "{key}: {positions:?}");
        for position in &positions[keep..] {
            segment::Entity::delete_by_id((id.clone(), *position))
                .exec(db)
                .await
                .unwrap();
        }

        let mut got = Vec::new();
        let outcome = project.download("short", key, None, &mut got, None).await;
        assert!(
            outcome.is_err(),
            "{key}: a read without its last segments ended quietly after {} of {size} bytes",
            got.len()
        );
        assert!(got.len() < size, "{key}");
    }
    net.stop().await;
}

/// A client uploads at most `segment_uploads` segments at once (what bounds a gateway's
/// memory under hundreds of parts): with one turn, a second upload reads no more than
/// its head while the first holds the turn, then both finish and read back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn segment_uploads_wait_for_a_turn() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncWriteExt;

    let net = TestNetwork::start(10).await;
    let project = net
        .project_with(ClientConfig {
            segment_size: 1 << 20,
            segment_uploads: 1,
            ..ClientConfig::default()
        })
        .await;
    project.create_bucket("turns").await.unwrap();
    let first = tests::random_bytes(3 << 20);
    let second = tests::random_bytes(3 << 20);
    let pipe = 64 << 10;
    let (mut first_in, first_out) = tokio::io::duplex(pipe);
    let (mut second_in, second_out) = tokio::io::duplex(pipe);

    let p = project.clone();
    let first_upload = tokio::spawn(async move {
        p.upload("turns", "first", first_out, Default::default())
            .await
    });
    // Once this much is taken, the first upload is inside its first segment (it reads
    // past its head only with a turn).
    first_in.write_all(&first[..512 << 10]).await.unwrap();

    let p = project.clone();
    let second_upload = tokio::spawn(async move {
        p.upload("turns", "second", second_out, Default::default())
            .await
    });
    let taken = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (taken, data) = (taken.clone(), second.clone());
        tokio::spawn(async move {
            for chunk in data.chunks(16 << 10) {
                second_in.write_all(chunk).await.unwrap();
                taken.fetch_add(chunk.len(), Ordering::SeqCst);
            }
            second_in.shutdown().await.unwrap();
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let early = taken.load(Ordering::SeqCst);
    assert!(
        early < 512 << 10,
        "the second upload took {early} bytes while the first held the only turn"
    );

    first_in.write_all(&first[512 << 10..]).await.unwrap();
    first_in.shutdown().await.unwrap();
    first_upload.await.unwrap().unwrap();
    writer.await.unwrap();
    second_upload.await.unwrap().unwrap();
    assert_eq!(taken.load(Ordering::SeqCst), second.len());
    assert!(tests::download(&project, "turns", "first").await == first);
    assert!(tests::download(&project, "turns", "second").await == second);
    net.stop().await;
}
