//! Nodes that vanish or lie: uploads and downloads route around them, and no corrupted
//! byte is ever returned.

use std::path::{Path, PathBuf};
use std::time::Duration;
use tests::uplink_core::transport::{Mode, Transport};

use tests::uplink_core::client::pieces::{PieceFetch, fetch_piece};
use tests::uplink_core::client::{PieceError, Project, Subject, UplinkError};
use tests::uplink_core::crypto::CryptoError;
use tests::uplink_core::protocol::NodeId;
use tests::uplink_core::protocol::metainfo::{DownloadObjectRequest, DownloadSegmentRequest};
use tests::{Options, TestNetwork, download, random_bytes};
use tokio::sync::mpsc;

/// Indices (1-based) of the running nodes that hold a piece for the satellite.
async fn nodes_with_pieces(net: &TestNetwork) -> Vec<usize> {
    let sat = net.network.satellite.id();
    let mut holders = Vec::new();
    for slot in &net.network.nodes {
        if let Some(node) = &slot.running
            && !node.store().list(sat).await.unwrap().is_empty()
        {
            holders.push(slot.index);
        }
    }
    holders
}

fn piece_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join("pieces")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "piece") {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_succeeds_with_total_minus_optimal_nodes_offline() {
    let mut net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("bkt").await.unwrap();
    // 4/6/8/10: two of ten nodes may be down and an upload still stores `optimal` pieces.
    net.network.stop_node(3).await;
    net.network.stop_node(7).await;
    let data = random_bytes(600_000);
    project
        .upload("bkt", "obj", &data[..], Default::default())
        .await
        .expect("upload with two nodes offline");
    assert!(download(&project, "bkt", "obj").await == data);
    let holders = nodes_with_pieces(&net).await;
    assert!(
        holders.len() >= 8,
        "only {} nodes hold pieces",
        holders.len()
    );
    assert!(!holders.contains(&3) && !holders.contains(&7));

    // With a third node down there are not `optimal` nodes left: a clear error.
    net.network.stop_node(5).await;
    let err = project
        .upload("bkt", "obj2", &data[..], Default::default())
        .await
        .unwrap_err();
    assert!(matches!(err, UplinkError::TooFewNodes(_)), "{err}");
    assert!(err.to_string().contains("too few"), "{err}");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_succeeds_with_only_k_nodes_left() {
    let mut net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("bkt").await.unwrap();
    let data = random_bytes(200_000); // one segment
    project
        .upload("bkt", "obj", &data[..], Default::default())
        .await
        .unwrap();
    let holders = nodes_with_pieces(&net).await;
    assert!(holders.len() >= 8);
    // Keep exactly k = 4 holders running.
    for &index in &holders[4..] {
        net.network.stop_node(index).await;
    }
    assert!(download(&project, "bkt", "obj").await == data);
    let mut out = Vec::new();
    project
        .download(
            "bkt",
            "obj",
            Some(tests::uplink_core::client::ByteRange::Inclusive {
                start: 70_000,
                end: 140_000,
            }),
            &mut out,
            None,
        )
        .await
        .unwrap();
    assert!(out == data[70_000..=140_000]);

    // One more gone and the segment cannot be decoded: say so, return nothing wrong.
    net.network.stop_node(holders[0]).await;
    let mut out = Vec::new();
    let err = project
        .download("bkt", "obj", None, &mut out, None)
        .await
        .unwrap_err();
    assert!(matches!(err, UplinkError::SegmentUnavailable(_)), "{err}");
    assert!(out.is_empty(), "no partial data on failure");
    net.stop().await;
}

/// Fetches `node`'s whole piece of segment 0 of `bkt/obj` with the uplink's own piece
/// fetch under a limit from the satellite; the number of verified bytes it released.
async fn fetch_directly(project: &Project, node: NodeId) -> Result<u64, PieceError> {
    let metainfo = project.metainfo();
    let subject = Subject::default();
    let encrypted_key = project
        .access()
        .encryption
        .encrypt_key("bkt", "obj")
        .unwrap();
    let object = metainfo
        .download_object(
            &DownloadObjectRequest {
                bucket: "bkt".into(),
                encrypted_key,
                segment_cursor: 0,
                segment_limit: None,
            },
            &subject,
        )
        .await
        .unwrap();
    let segment = metainfo
        .download_segment(
            &DownloadSegmentRequest {
                stream_id: object.stream_id,
                position: 0,
                exclude: vec![],
            },
            &subject,
        )
        .await
        .unwrap();
    let target = segment
        .limits
        .into_iter()
        .find(|l| l.limit.node_id == node)
        .expect("a limit for the node");
    let fetch = PieceFetch {
        target,
        offset: 0,
        length: segment.piece_size,
        piece_size: segment.piece_size,
        satellite_key: segment.satellite_public_key,
    };
    let (tx, mut rx) = mpsc::channel::<Result<bytes::Bytes, PieceError>>(4);
    let collect = async move {
        let mut verified = 0;
        while let Some(chunk) = rx.recv().await {
            verified += chunk?.len() as u64;
        }
        Ok(verified)
    };
    let (_, verified) = tokio::time::timeout(
        Duration::from_secs(60),
        futures::future::join(
            fetch_piece(
                Transport::shared(Mode::Tls),
                fetch,
                tx,
                Duration::from_secs(30),
            ),
            collect,
        ),
    )
    .await
    .expect("a piece fetch that ends");
    verified
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_piece_is_detected_and_routed_around() {
    // Hand out limits for every piece, so the corrupted one is always in the race.
    let net = TestNetwork::start_with(Options {
        nodes: 10,
        tweak: Box::new(|c| c.satellite.download_extra_pieces = Some(10)),
    })
    .await;
    let project = net.project().await;
    project.create_bucket("bkt").await.unwrap();
    let data = random_bytes(200_000);
    project
        .upload("bkt", "obj", &data[..], Default::default())
        .await
        .unwrap();
    let holders = nodes_with_pieces(&net).await;
    let bad = holders[0];
    let bad_node = net.network.node(bad).unwrap();
    let files = piece_files(bad_node.data_dir());
    assert_eq!(files.len(), 1);
    let mut bytes = std::fs::read(&files[0]).unwrap();
    bytes[10] ^= 0x55; // inside the first hash block of the piece data
    std::fs::write(&files[0], &bytes).unwrap();

    let served = |node: &tests::node_sim::node::RunningNode| {
        node.metrics()
            .requests
            .with_label_values(&["download", "200"])
            .get()
    };
    let served_before = served(bad_node);
    for _ in 0..3 {
        assert!(download(&project, "bkt", "obj").await == data);
    }
    // The corrupted node did serve its piece (its count of successful downloads, not
    // any metric that other requests move) ...
    assert!(
        served(bad_node) > served_before,
        "the corrupted node was never asked"
    );
    // ... and the uplink's piece fetch, which every download goes through, refuses what
    // it sends, while a good node's piece comes through whole.
    match fetch_directly(&project, bad_node.id()).await {
        Err(PieceError::Corrupt { reason, .. }) => {
            assert!(
                reason.contains("does not match its signed hash"),
                "{reason}"
            )
        }
        other => panic!("the corrupted piece was accepted: {other:?}"),
    }
    let good = net.network.node(holders[1]).unwrap();
    let piece_size = fetch_directly(&project, good.id()).await.unwrap();
    assert!(piece_size > 0);

    // Corrupt all but k pieces: still correct, because every piece is verified.
    for &index in &holders[1..holders.len() - 4] {
        let node = net.network.node(index).unwrap();
        for f in piece_files(node.data_dir()) {
            let mut b = std::fs::read(&f).unwrap();
            b[100] ^= 0xff;
            std::fs::write(&f, &b).unwrap();
        }
    }
    assert!(download(&project, "bkt", "obj").await == data);

    // And with one more corrupted, the download fails rather than return bad bytes.
    let node = net.network.node(holders[holders.len() - 1]).unwrap();
    for f in piece_files(node.data_dir()) {
        let mut b = std::fs::read(&f).unwrap();
        b[5] ^= 1;
        std::fs::write(&f, &b).unwrap();
    }
    let mut out = Vec::new();
    match project.download("bkt", "obj", None, &mut out, None).await {
        Err(UplinkError::SegmentUnavailable(why)) => {
            assert!(why.contains("does not match its signed hash"), "{why}")
        }
        other => panic!("expected the segment to be unavailable, got {other:?}"),
    }
    assert!(out.is_empty());
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_satellite_that_reorders_segments_is_detected() {
    use sea_orm::{ConnectionTrait, Statement};
    let net = TestNetwork::start(10).await;
    let project = net.project().await; // 256 KiB segments
    project.create_bucket("bkt").await.unwrap();
    let data = random_bytes(2 * (256 << 10));
    project
        .upload("bkt", "two", &data[..], Default::default())
        .await
        .unwrap();
    // Swap the two segments' contents in the satellite's database, keeping positions
    // and sizes: exactly what a dishonest satellite could do.
    let db = &net.network.satellite.db;
    let backend = db.get_database_backend();
    for sql in [
        "UPDATE segments SET position = 99 WHERE position = 0",
        "UPDATE segments SET position = 0 WHERE position = 1",
        "UPDATE segments SET position = 1 WHERE position = 99",
        "UPDATE segments SET plain_offset = position * 262144",
    ] {
        db.execute(Statement::from_string(backend, sql))
            .await
            .unwrap();
    }
    let mut out = Vec::new();
    let err = project
        .download("bkt", "two", None, &mut out, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, UplinkError::Crypto(CryptoError::WrongKeyOrCorrupted)),
        "{err:?}"
    );
    assert!(out.is_empty(), "no reordered bytes are returned");
    net.stop().await;
}
