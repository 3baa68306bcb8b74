//! Nodes that vanish, lie or limp: uploads and downloads route around them, and no
//! corrupted byte is ever returned.
//!
//! Faults are set on the wrappers every node runs on ([`tests::faults`]), never by
//! editing a node's files.

use std::time::Duration;
use tests::uplink_core::transport::{Mode, Transport};

use tests::faults::{corrupting_reads, disk_full, losing, offline, refusing_uploads, slow};
use tests::uplink_core::client::pieces::{PieceFetch, fetch_piece};
use tests::uplink_core::client::{PieceError, Project, Subject, UplinkError};
use tests::uplink_core::crypto::CryptoError;
use tests::uplink_core::protocol::NodeId;
use tests::uplink_core::protocol::metainfo::{DownloadObjectRequest, DownloadSegmentRequest};
use tests::{Options, TestNetwork, download, random_bytes, seeded_rng};
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
                segment_cursor: Default::default(),
                segment_limit: None,
                first_at: None,
            },
            &subject,
        )
        .await
        .unwrap();
    let segment = metainfo
        .download_segment(
            &DownloadSegmentRequest {
                stream_id: object.stream_id,
                position: tests::uplink_core::protocol::SegmentPosition::single(0),
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
    // Every piece of the node comes back with a flipped byte.
    net.set_faults(bad, corrupting_reads(1.0, 1)).await;

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
    assert!(net.faults(bad).counts().bytes_corrupted > 0);
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
        net.set_faults(index, corrupting_reads(1.0, index as u64))
            .await;
    }
    assert!(download(&project, "bkt", "obj").await == data);

    // And with one more corrupted, the download fails rather than return bad bytes.
    net.set_faults(holders[holders.len() - 1], corrupting_reads(1.0, 99))
        .await;
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

/// Ids of nodes `indices`.
fn ids_of(net: &TestNetwork, indices: &[usize]) -> Vec<NodeId> {
    indices
        .iter()
        .map(|&i| net.network.node(i).expect("a running node").id())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_a_refusing_and_an_offline_node_leave_uploads_and_downloads_whole() {
    let net = TestNetwork::start(10).await;
    let (slow_node, refusing, down) = (2, 5, 8);
    net.set_faults(slow_node, slow(Duration::from_millis(100), 128 << 10))
        .await;
    net.set_faults(refusing, refusing_uploads()).await;
    net.set_faults(down, offline()).await;
    // An offline node no longer reaches the satellite either.
    assert!(
        net.network
            .node(down)
            .unwrap()
            .check_in_now()
            .await
            .is_err()
    );

    let project = net.project().await; // 256 KiB segments
    project.create_bucket("bkt").await.unwrap();
    let mut rng = seeded_rng("slow, refusing and offline nodes");
    let mut objects = Vec::new();
    for (i, len) in [600_000usize, 150_000, 1_100_000].into_iter().enumerate() {
        let mut data = vec![0u8; len];
        rand::RngCore::fill_bytes(&mut rng, &mut data);
        let key = format!("obj-{i}");
        project
            .upload("bkt", &key, &data[..], Default::default())
            .await
            .unwrap_or_else(|e| panic!("upload of {len} bytes: {e}"));
        objects.push((key, data));
    }
    for (key, data) in &objects {
        assert!(download(&project, "bkt", key).await == *data, "{key}");
    }

    // The faults were in force: 10 nodes for 8 pieces a segment, two failing, so every
    // segment has a piece on the slow node and none on the other two.
    let recorded = net.recorded_pieces().await;
    let [slow_id, refusing_id, down_id] = ids_of(&net, &[slow_node, refusing, down])[..] else {
        unreachable!()
    };
    let segments = recorded.iter().filter(|(n, _)| *n == slow_id).count();
    assert!(segments >= 8, "the slow node holds {segments} pieces");
    assert!(
        recorded
            .iter()
            .all(|(n, _)| *n != refusing_id && *n != down_id)
    );
    assert!(net.faults(refusing).counts().uploads_refused > 0);

    // Back online, the node takes pieces again, at once.
    net.clear_faults(down).await;
    net.network
        .node(down)
        .unwrap()
        .check_in_now()
        .await
        .unwrap();
    let data = random_bytes(200_000);
    project
        .upload("bkt", "after", &data[..], Default::default())
        .await
        .unwrap();
    assert!(download(&project, "bkt", "after").await == data);
    let recorded = net.recorded_pieces().await;
    assert!(recorded.iter().any(|(n, _)| *n == down_id));
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_pieces_and_a_full_disk_are_routed_around() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("bkt").await.unwrap();
    let data = random_bytes(200_000); // one segment
    project
        .upload("bkt", "obj", &data[..], Default::default())
        .await
        .unwrap();
    let holders = nodes_with_pieces(&net).await;
    // Four holders lose everything: the other four still give the segment back.
    for &index in &holders[..4] {
        net.set_faults(index, losing(1.0, index as u64)).await;
    }
    assert!(download(&project, "bkt", "obj").await == data);
    let sat = net.network.satellite.id();
    for &index in &holders[..4] {
        let node = net.network.node(index).unwrap();
        assert!(node.store().list(sat).await.unwrap().is_empty());
        assert_eq!(net.faults(index).counts().pieces_lost, 1, "node {index}");
    }
    // Gone for good: clearing the fault brings nothing back.
    net.clear_faults(holders[0]).await;
    let node = net.network.node(holders[0]).unwrap();
    assert!(node.store().list(sat).await.unwrap().is_empty());

    // A full disk says so at check-in and takes nothing new.
    let full = holders[5];
    net.set_faults(full, disk_full()).await;
    net.network
        .node(full)
        .unwrap()
        .check_in_now()
        .await
        .unwrap();
    let before = net
        .network
        .node(full)
        .unwrap()
        .store()
        .list(sat)
        .await
        .unwrap();
    let more = random_bytes(200_000);
    project
        .upload("bkt", "more", &more[..], Default::default())
        .await
        .unwrap();
    assert!(download(&project, "bkt", "more").await == more);
    let after = net
        .network
        .node(full)
        .unwrap()
        .store()
        .list(sat)
        .await
        .unwrap();
    assert_eq!(after, before, "the full node stored nothing new");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_removes_nodes_for_good_and_adds_new_ones() {
    use tests::node_sim::sim::faults::{FaultPlan, PlanFormat};
    let mut net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("bkt").await.unwrap();
    let data = random_bytes(200_000);
    project
        .upload("bkt", "obj", &data[..], Default::default())
        .await
        .unwrap();
    let leaving = nodes_with_pieces(&net).await[0];
    let dir = net.network.nodes[leaving - 1].config.data_dir.clone();
    assert!(dir.exists());
    let plan = FaultPlan::parse(
        &format!(
            "[churn]\nevents = [ {{ at = \"0s\", leave = {leaving} }}, {{ at = \"1s\", join = 2 }} ]"
        ),
        PlanFormat::Toml,
    )
    .unwrap();
    net.network.apply_plan(plan).unwrap();
    let mut outcomes = Vec::new();
    net.network
        .run_churn(std::future::pending(), |_, outcome| {
            outcomes.push(
                outcome
                    .as_ref()
                    .map(|o| o.to_string())
                    .map_err(|e| e.to_string()),
            )
        })
        .await;
    assert_eq!(
        outcomes,
        vec![
            Ok(format!("node {leaving} left for good")),
            Ok("node 11 joined".to_string()),
            Ok("node 12 joined".to_string()),
        ]
    );
    assert!(net.network.node(leaving).is_none());
    assert!(net.network.faults(leaving).is_none());
    assert!(!dir.exists(), "the node's data is gone");
    let new_ids = ids_of(&net, &[11, 12]);
    assert_ne!(new_ids[0], new_ids[1]);
    // Nine of the ten pieces are left; the data comes back, and new uploads go on.
    assert!(download(&project, "bkt", "obj").await == data);
    let more = random_bytes(200_000);
    project
        .upload("bkt", "more", &more[..], Default::default())
        .await
        .unwrap();
    assert!(download(&project, "bkt", "more").await == more);
    net.stop().await;
}
