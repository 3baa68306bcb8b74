//! Objects of every size class go in and come out intact, whole and by range.

use rand::Rng;
use tests::uplink_core::client::{ByteRange, UplinkError};
use tests::{TestNetwork, download, random_bytes, round_trip};
use tokio::io::AsyncRead;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_from_empty_to_several_segments() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("sizes").await.unwrap();
    let inline_limit = 4096;
    // 0, 1, the inline limit, one above it, a few stripes, and several 256 KiB segments.
    for size in [
        0,
        1,
        inline_limit,
        inline_limit + 1,
        50_000,
        3 * (256 << 10) + 12_345,
    ] {
        let data = random_bytes(size);
        let key = format!("objects/size-{size}");
        let got = round_trip(&project, "sizes", &key, &data).await;
        assert_eq!(got.len(), data.len(), "size {size}");
        assert!(got == data, "content of size {size} differs");
        let stat = project.stat_object("sizes", &key).await.unwrap();
        assert_eq!(stat.size, size as u64);
    }
    net.stop().await;
}

/// Yields its data in randomly sized chunks and never says how long it is.
struct Trickle {
    data: Vec<u8>,
    pos: usize,
    rng: rand::rngs::StdRng,
}

impl AsyncRead for Trickle {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let left = self.data.len() - self.pos;
        let n = self.rng.gen_range(1..=9000).min(left).min(buf.remaining());
        let pos = self.pos;
        buf.put_slice(&self.data[pos..pos + n]);
        self.pos += n;
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_of_unknown_length_and_exact_segment_multiples() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("streams").await.unwrap();
    // Exactly two segments (the end is only found by reading past it), and an odd size.
    for size in [2 * (256 << 10), 700_001] {
        let data = random_bytes(size);
        let reader = Trickle {
            data: data.clone(),
            pos: 0,
            rng: tests::seeded_rng(&format!("chunk sizes of a {size}-byte stream")),
        };
        let key = format!("stream-{size}");
        let obj = project
            .upload("streams", &key, reader, Default::default())
            .await
            .unwrap();
        assert_eq!(obj.size, size as u64);
        assert!(download(&project, "streams", &key).await == data);
    }
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_ranges_match_the_local_copy() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("ranges").await.unwrap();
    let data = random_bytes(3 * (256 << 10) + 777);
    project
        .upload("ranges", "video.mp4", &data[..], Default::default())
        .await
        .unwrap();
    let small = random_bytes(3000);
    project
        .upload("ranges", "inline", &small[..], Default::default())
        .await
        .unwrap();
    let mut rng = tests::seeded_rng("random ranges");
    let len = data.len() as u64;
    let mut cases: Vec<(u64, u64)> = vec![
        (0, 0),
        (len - 1, len - 1),
        (0, len - 1),
        ((256 << 10) - 1, (256 << 10) + 1), // across a segment boundary
        (4079, 4081),                       // across an encryption block
    ];
    for _ in 0..20 {
        let a = rng.gen_range(0..len);
        let b = rng.gen_range(a..len.min(a + 600_000));
        cases.push((a, b));
    }
    for (a, b) in cases {
        let mut out = Vec::new();
        let n = project
            .download(
                "ranges",
                "video.mp4",
                Some(ByteRange::Inclusive { start: a, end: b }),
                &mut out,
                None,
            )
            .await
            .unwrap();
        assert_eq!(n, b - a + 1);
        assert!(
            out == data[a as usize..=b as usize],
            "range {a}-{b} differs"
        );
    }
    let mut out = Vec::new();
    project
        .download(
            "ranges",
            "video.mp4",
            Some(ByteRange::Suffix(100)),
            &mut out,
            None,
        )
        .await
        .unwrap();
    assert!(out == data[data.len() - 100..]);
    let mut out = Vec::new();
    project
        .download(
            "ranges",
            "inline",
            Some(ByteRange::From(2990)),
            &mut out,
            None,
        )
        .await
        .unwrap();
    assert_eq!(out, small[2990..]);
    // A range starting past the end is refused rather than silently empty.
    let mut out = Vec::new();
    let err = project
        .download(
            "ranges",
            "inline",
            Some(ByteRange::From(5000)),
            &mut out,
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, UplinkError::RangeNotSatisfiable { start: 5000, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("range starts at byte 5000"),
        "{err}"
    );
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_and_overwrite() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("del").await.unwrap();
    let first = random_bytes(100_000);
    round_trip(&project, "del", "k", &first).await;
    let first_pieces = net.recorded_pieces().await;
    let second = random_bytes(60_000);
    assert!(round_trip(&project, "del", "k", &second).await == second);
    // The pieces the satellite recorded for each version, by node.
    let second_pieces = net.recorded_pieces().await;
    assert!(
        first_pieces.len() >= 8,
        "{} pieces recorded",
        first_pieces.len()
    );
    assert!(
        second_pieces.len() >= 8,
        "{} pieces recorded",
        second_pieces.len()
    );
    assert!(
        first_pieces.is_disjoint(&second_pieces),
        "the overwrite replaced them"
    );
    let gone = project.delete_object("del", "k").await.unwrap();
    assert_eq!(gone.map(|o| o.size), Some(60_000));
    assert!(net.recorded_pieces().await.is_empty());
    let mut out = Vec::new();
    let err = project
        .download("del", "k", None, &mut out, None)
        .await
        .unwrap_err();
    assert!(matches!(err, UplinkError::ObjectNotFound(_)), "{err}");
    assert!(project.delete_object("del", "k").await.unwrap().is_none());
    // The satellite's piece deleter removes both versions' pieces from the nodes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let on_nodes = net.pieces_on_nodes().await;
        let left = first_pieces.intersection(&on_nodes).count()
            + second_pieces.intersection(&on_nodes).count();
        if left == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{left} deleted pieces still on nodes"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Buckets: non-empty refused, forced deletion takes the objects.
    round_trip(&project, "del", "again", &first).await;
    let err = project.delete_bucket("del", false).await.unwrap_err();
    assert!(
        matches!(err, UplinkError::BucketNotEmpty(ref b) if b == "del"),
        "{err:?}"
    );
    assert_eq!(project.delete_bucket("del", true).await.unwrap(), 1);
    assert!(project.list_buckets().await.unwrap().is_empty());
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_objects_take_one_satellite_request_once_the_limit_is_known() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use tests::satellite::db::entities::object;
    use tests::uplink_core::client::UploadOptions;
    use tests::uplink_core::protocol::metainfo::{
        OBJECT_BEGIN_PATH, OBJECT_COMMIT_PATH, OBJECT_UPLOAD_INLINE_PATH, SEGMENT_INLINE_PATH,
    };
    let net = TestNetwork::start(10).await;
    let sat = &net.network.satellite;
    let calls = |path: &str| {
        sat.metrics
            .http_requests
            .with_label_values(&[path, "200"])
            .get()
    };
    let counts = || {
        [
            OBJECT_BEGIN_PATH,
            SEGMENT_INLINE_PATH,
            OBJECT_COMMIT_PATH,
            OBJECT_UPLOAD_INLINE_PATH,
        ]
        .map(calls)
    };
    let project = net.project().await;
    project.create_bucket("bkt").await.unwrap();

    // The first upload learns the limit: begin, inline segment, commit.
    let first = random_bytes(300);
    let before = counts();
    assert_eq!(round_trip(&project, "bkt", "first", &first).await, first);
    let after = counts();
    assert_eq!(
        [0, 1, 2, 3].map(|i| after[i] - before[i]),
        [1, 1, 1, 0],
        "the first small upload"
    );

    // Then every small object, empty ones and overwrites too, is one request.
    let small = random_bytes(1000);
    let options = UploadOptions {
        content_type: Some("text/plain".into()),
        metadata: [("k".to_string(), "v".to_string())].into(),
        ..Default::default()
    };
    let before = counts();
    project
        .upload("bkt", "small", &small[..], options.clone())
        .await
        .unwrap();
    project
        .upload("bkt", "empty", &[][..], Default::default())
        .await
        .unwrap();
    let replaced = random_bytes(900);
    project
        .upload("bkt", "first", &replaced[..], Default::default())
        .await
        .unwrap();
    let after = counts();
    assert_eq!(
        [0, 1, 2, 3].map(|i| after[i] - before[i]),
        [0, 0, 0, 3],
        "three small uploads"
    );
    assert!(download(&project, "bkt", "small").await == small);
    assert!(download(&project, "bkt", "empty").await.is_empty());
    assert!(download(&project, "bkt", "first").await == replaced);
    let stat = project.stat_object("bkt", "small").await.unwrap();
    assert_eq!(stat.size, 1000);
    assert_eq!(stat.content_type.as_deref(), Some("text/plain"));
    assert_eq!(stat.metadata.get("k").map(String::as_str), Some("v"));

    // A larger object still goes the segment way.
    let large = random_bytes(300_000);
    let before = counts();
    assert_eq!(round_trip(&project, "bkt", "large", &large).await, large);
    assert_eq!(counts()[0] - before[0], 1);

    // A small upload the satellite refuses (metadata past its bound) fails with its
    // reason and leaves no pending object behind.
    let huge = UploadOptions {
        metadata: [("big".to_string(), "x".repeat(100_000))].into(),
        ..Default::default()
    };
    let err = project
        .upload("bkt", "refused", &small[..], huge)
        .await
        .expect_err("metadata past the bound is refused");
    assert!(err.to_string().contains("metadata"), "{err}");
    let pending = object::Entity::find()
        .filter(object::Column::Status.eq(object::STATUS_PENDING))
        .all(&sat.db)
        .await
        .unwrap();
    assert!(pending.is_empty(), "{pending:?}");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opened_object_gives_its_entry_and_streams_its_bytes() {
    use futures::StreamExt;
    use tests::uplink_core::client::UploadOptions;
    use tests::uplink_core::protocol::metainfo::OBJECT_GET_PATH;
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("bkt").await.unwrap();
    let data = random_bytes(700_000);
    project
        .upload(
            "bkt",
            "video.mp4",
            &data[..],
            UploadOptions {
                content_type: Some("video/mp4".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let stats = || {
        net.network
            .satellite
            .metrics
            .http_requests
            .with_label_values(&[OBJECT_GET_PATH, "200"])
            .get()
    };
    let before = stats();

    // The whole object: the entry comes with the first answer, no separate stat.
    let mut reader = project.open_object("bkt", "video.mp4", None).await.unwrap();
    assert_eq!(reader.entry.size, 700_000);
    assert_eq!(reader.entry.content_type.as_deref(), Some("video/mp4"));
    assert_eq!(reader.range, (0, 700_000));
    let mut got = Vec::new();
    while let Some(chunk) = reader.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert!(got == data);
    assert_eq!(stats(), before, "no stat request was needed");

    // A range, and a suffix range.
    for (range, want) in [
        (
            ByteRange::Inclusive {
                start: 1000,
                end: 1999,
            },
            1000..2000,
        ),
        (ByteRange::Suffix(5000), 695_000..700_000),
    ] {
        let mut reader = project
            .open_object("bkt", "video.mp4", Some(range))
            .await
            .unwrap();
        assert_eq!(reader.range, (want.start as u64, want.end as u64));
        let mut got = Vec::new();
        while let Some(chunk) = reader.next().await {
            got.extend_from_slice(&chunk.unwrap());
        }
        assert!(got == data[want.clone()], "{range:?}");
    }

    // Dropped halfway, the download stops; the project goes on working.
    let mut reader = project.open_object("bkt", "video.mp4", None).await.unwrap();
    let _ = reader.next().await.unwrap().unwrap();
    drop(reader);
    assert!(download(&project, "bkt", "video.mp4").await == data);

    // Errors come before any byte: a missing object, a range past the end.
    assert!(matches!(
        project.open_object("bkt", "missing", None).await,
        Err(UplinkError::ObjectNotFound(_))
    ));
    assert!(matches!(
        project
            .open_object("bkt", "video.mp4", Some(ByteRange::From(800_000)))
            .await,
        Err(UplinkError::RangeNotSatisfiable { start: 800_000, .. })
    ));
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_past_the_largest_part_are_refused_not_clamped() {
    use tests::uplink_core::client::Subject;
    use tests::uplink_core::protocol::SegmentPosition;
    use tests::uplink_core::protocol::metainfo::{DownloadObjectRequest, DownloadSegmentRequest};
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("bkt").await.unwrap();
    let data = random_bytes(300_000);
    assert_eq!(round_trip(&project, "bkt", "obj", &data).await, data);
    let metainfo = project.metainfo();
    let subject = Subject::default();
    let too_far = SegmentPosition::new(SegmentPosition::MAX_PART + 1, 0);
    let request = |cursor| DownloadObjectRequest {
        bucket: "bkt".into(),
        encrypted_key: project
            .access()
            .encryption
            .encrypt_key("bkt", "obj")
            .unwrap(),
        segment_cursor: cursor,
        segment_limit: None,
        first_at: None,
    };
    let refused = |e: UplinkError| matches!(e, UplinkError::Satellite { status: 400, .. });
    let err = metainfo
        .download_object(&request(too_far), &subject)
        .await
        .expect_err("a cursor past the largest part");
    assert!(refused(err));
    let object = metainfo
        .download_object(&request(SegmentPosition::default()), &subject)
        .await
        .unwrap();
    let err = metainfo
        .download_segment(
            &DownloadSegmentRequest {
                stream_id: object.stream_id,
                position: too_far,
                exclude: vec![],
            },
            &subject,
        )
        .await
        .expect_err("a position past the largest part");
    assert!(refused(err));
    net.stop().await;
}
