//! The data path under faults that a real network has all the time: nodes killed in the
//! middle of a transfer, full disks, slow and flaky nodes, an overloaded satellite, and
//! uploads that fail or are abandoned (they must not leave pieces behind).
//!
//! Faults are injected by wrapping each node's real disk store in a
//! [`FaultyStore`](tests::node_sim::sim::faults::FaultyStore) and by putting a
//! [`FaultyProxy`](tests::node_sim::sim::faults::FaultyProxy) in front of the satellite.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tests::uplink_core::transport::{Mode, Transport};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngCore, SeedableRng};
use tests::node_sim::node::DiskStore;
use tests::node_sim::sim::faults::{Faults, FaultyProxy, FaultyStore};
use tests::satellite::metabase::{Piece, Segment};
use tests::uplink_core::client::error::Subject;
use tests::uplink_core::client::pieces::upload_piece;
use tests::uplink_core::client::{
    ClientConfig, MetainfoClient, Project, RetryPolicy, UplinkError, UploadOptions,
};
use tests::uplink_core::crypto::Key;
use tests::uplink_core::erasure::SegmentEncoder;
use tests::uplink_core::protocol::metainfo::*;
use tests::uplink_core::protocol::{ErrorCode, Identity, NodeId, PieceId};
use tests::{Options, TestNetwork, download};

/// Every test runs under this bound, so that a hang fails instead of blocking the suite.
const OUTER: Duration = Duration::from_secs(300);

fn rng(test: &str, seed: u64) -> StdRng {
    println!("{test}: seed {seed}");
    StdRng::seed_from_u64(seed)
}

fn bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}

async fn bounded<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(OUTER, f)
        .await
        .expect("the test did not finish within its time bound");
}

/// Polls `check` until it holds, or fails with `what` after `within`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Restarts node `index` (1-based) on its own disk store wrapped in `faults`.
async fn wrap_node(net: &mut TestNetwork, index: usize, faults: &Arc<Faults>) {
    net.network.stop_node(index).await;
    let dir = net.network.nodes[index - 1].config.data_dir.clone();
    let disk = DiskStore::open(&dir, false).expect("disk store opens");
    net.network
        .start_node_with_store(
            index,
            Arc::new(FaultyStore::new(Arc::new(disk), faults.clone(), index)),
        )
        .await
        .expect("node restarts");
}

/// Kills node `index`: its transfers in progress break and it takes no new ones.
async fn kill(net: &mut TestNetwork, index: usize, faults: &Arc<Faults>) {
    faults.set_dead(true);
    net.network.stop_node(index).await;
}

/// Every node on its own fault handle (element `i` drives node `i + 1`).
async fn wrap_all(net: &mut TestNetwork, faults: &[Arc<Faults>]) {
    for (i, f) in faults.iter().enumerate() {
        wrap_node(net, i + 1, f).await;
    }
}

fn node_ids(net: &TestNetwork) -> Vec<NodeId> {
    net.network
        .nodes
        .iter()
        .map(|s| s.running.as_ref().expect("all nodes run").id())
        .collect()
}

/// `(node, piece)` for every piece of this satellite on the running nodes.
async fn pieces_on_nodes(net: &TestNetwork) -> BTreeSet<(NodeId, PieceId)> {
    let sat = net.network.satellite_url().id;
    let mut all = BTreeSet::new();
    for node in net.network.running_nodes() {
        for piece in node.store().list(sat).await.expect("list") {
            all.insert((node.id(), piece));
        }
    }
    all
}

async fn segments(net: &TestNetwork) -> Vec<Segment> {
    net.segments().await
}

fn root_of(seg: &Segment) -> PieceId {
    seg.remote().expect("remote segment").root_piece_id
}

fn remote_pieces(seg: &Segment) -> Vec<Piece> {
    seg.remote()
        .map(|r| r.pieces.iter().copied().collect())
        .unwrap_or_default()
}

/// `(node, piece)` for every piece the satellite records for committed segments.
async fn recorded_pieces(net: &TestNetwork) -> BTreeSet<(NodeId, PieceId)> {
    let mut all = BTreeSet::new();
    for seg in segments(net).await {
        if seg.is_inline() {
            continue;
        }
        let root = root_of(&seg);
        for p in remote_pieces(&seg) {
            all.insert((p.node, root.derive(&p.node, p.num)));
        }
    }
    all
}

fn counting() -> (Arc<AtomicU64>, tests::uplink_core::client::Progress) {
    let sent = Arc::new(AtomicU64::new(0));
    let s = sent.clone();
    (
        sent,
        Arc::new(move |n| {
            s.fetch_add(n, Ordering::Relaxed);
        }),
    )
}

/// Uploads until every segment of the object has a piece on every one of the network's
/// `total` nodes (an upload may cut a slow last piece), so that a test can reason
/// about exactly which pieces remain reachable.
async fn upload_everywhere(project: &Project, net: &TestNetwork, key: &str, data: &[u8]) {
    for _ in 0..5 {
        project
            .upload("bkt", key, data, Default::default())
            .await
            .expect("upload");
        let segs = segments(net).await;
        if segs.iter().all(|s| remote_pieces(s).len() == 10) {
            return;
        }
    }
    panic!("no upload put a piece of every segment on every node");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_survive_two_nodes_killed_mid_stream() {
    bounded(async {
        let mut rng = rng("uploads_survive_two_nodes_killed_mid_stream", 0x5eed_0001);
        let mut net = TestNetwork::start(10).await;
        let faults: Vec<_> = (0..10).map(|_| Faults::new()).collect();
        wrap_all(&mut net, &faults).await;
        // A healthy but slow node: its piece falls behind in every segment, and must
        // still count (it is the eighth piece once two others are gone).
        faults[0].set_write_delay(Duration::from_millis(50));
        let segment_size = 8u64 << 20;
        let project = net
            .project_with(ClientConfig {
                segment_size,
                piece_queue: 1,
                ..Default::default()
            })
            .await;
        project.create_bucket("bkt").await.unwrap();
        for round in 0..3 {
            let data = bytes(&mut rng, (segment_size + (3 << 20) + 4321) as usize);
            let mut others: Vec<usize> = (2..=10).collect();
            others.shuffle(&mut rng);
            let victims = &others[..2];
            println!("round {round}: nodes {victims:?} die mid-stream");
            let (sent, progress) = counting();
            let key = format!("obj-{round}");
            let task = tokio::spawn({
                let (project, data, key) = (project.clone(), data.clone(), key.clone());
                async move {
                    let options = UploadOptions {
                        progress: Some(progress),
                        ..Default::default()
                    };
                    project.upload("bkt", &key, &data[..], options).await
                }
            });
            // Halfway through the first segment.
            let half = segment_size / 2;
            eventually(Duration::from_secs(60), "half a segment is sent", || {
                let sent = sent.clone();
                async move { sent.load(Ordering::Relaxed) >= half }
            })
            .await;
            for &v in victims {
                kill(&mut net, v, &faults[v - 1]).await;
            }
            let entry = task
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}: upload failed: {e}"));
            assert_eq!(entry.size, data.len() as u64);
            assert!(
                download(&project, "bkt", &key).await == data,
                "round {round}"
            );
            for &v in victims {
                faults[v - 1].set_dead(false);
                wrap_node(&mut net, v, &faults[v - 1]).await;
            }
        }
        net.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_refusing_every_upload_costs_no_upload() {
    bounded(async {
        let mut rng = rng("a_node_refusing_every_upload_costs_no_upload", 0x5eed_0002);
        let mut net = TestNetwork::start(10).await;
        let faults: Vec<_> = (0..10).map(|_| Faults::new()).collect();
        wrap_all(&mut net, &faults).await;
        let mut order: Vec<usize> = (0..10).collect();
        order.shuffle(&mut rng);
        // Its disk is full: it takes every piece and refuses it at the very end. Two
        // others are healthy but slow, so they fall behind while the full one keeps up.
        faults[order[0]].set_refuse_commits(true);
        faults[order[1]].set_write_delay(Duration::from_millis(25));
        faults[order[2]].set_write_delay(Duration::from_millis(25));
        println!(
            "full node {}, slow nodes {} and {}",
            order[0] + 1,
            order[1] + 1,
            order[2] + 1
        );
        let segment_size = 4u64 << 20;
        let project = net
            .project_with(ClientConfig {
                segment_size,
                piece_queue: 1,
                ..Default::default()
            })
            .await;
        project.create_bucket("bkt").await.unwrap();
        let mut failures = Vec::new();
        for i in 0..10 {
            let data = bytes(&mut rng, segment_size as usize);
            match project
                .upload("bkt", &format!("obj-{i}"), &data[..], Default::default())
                .await
            {
                Ok(_) => assert!(download(&project, "bkt", &format!("obj-{i}")).await == data),
                Err(e) => failures.push(format!("upload {i}: {e}")),
            }
        }
        assert!(
            failures.is_empty(),
            "{} of 10 failed: {failures:#?}",
            failures.len()
        );
        net.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pieces_that_fail_mid_stream_move_to_replacement_nodes() {
    bounded(async {
        let mut rng = rng("pieces_that_fail_mid_stream_move_to_replacement_nodes", 3);
        // 13 nodes: a segment uses 10, so 3 are left to replace failed ones.
        let mut net = TestNetwork::start(13).await;
        let faults = Faults::new();
        let shared: Vec<_> = (0..13).map(|_| faults.clone()).collect();
        wrap_all(&mut net, &shared).await;
        let ids = node_ids(&net);
        // The first three pieces created fail after their first 64 KiB, leaving seven:
        // one fewer than `optimal`.
        faults.fail_next_pieces(3, 64 << 10);
        let project = net
            .project_with(ClientConfig {
                segment_size: 1 << 20,
                ..Default::default()
            })
            .await;
        project.create_bucket("bkt").await.unwrap();
        let data = bytes(&mut rng, (1 << 20) - 100);
        project
            .upload("bkt", "obj", &data[..], Default::default())
            .await
            .expect("the segment is completed on replacement nodes");
        assert!(download(&project, "bkt", "obj").await == data);

        let failed = faults.failed_pieces();
        assert_eq!(failed.len(), 3, "{failed:?}");
        let segs = segments(&net).await;
        assert_eq!(segs.len(), 1);
        let seg = &segs[0];
        let root = root_of(seg);
        let recorded = remote_pieces(seg);
        assert!(recorded.len() >= 8, "{} pieces recorded", recorded.len());
        let mut replaced = 0;
        for (label, piece) in &failed {
            let node = ids[label - 1];
            let num = (0..10u16)
                .find(|&n| root.derive(&node, n) == *piece)
                .expect("a failed piece belongs to the segment");
            assert!(
                !recorded.iter().any(|p| p.node == node),
                "node {label}, whose piece failed, is recorded"
            );
            // The original node of piece `num` failed, so whoever holds it now is a
            // replacement: and it really holds it.
            if let Some(p) = recorded.iter().find(|p| p.num == num) {
                assert_ne!(p.node, node);
                let holder = net
                    .network
                    .running_nodes()
                    .find(|n| n.id() == p.node)
                    .unwrap();
                let held = holder
                    .store()
                    .list(net.network.satellite_url().id)
                    .await
                    .unwrap();
                assert!(held.contains(&root.derive(&p.node, num)));
                replaced += 1;
            }
        }
        assert!(
            replaced >= 1,
            "no failed piece was stored on a replacement node"
        );
        net.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_need_only_four_healthy_pieces_of_ten() {
    bounded(async {
        let mut rng = rng(
            "downloads_need_only_four_healthy_pieces_of_ten",
            0x5eed_0004,
        );
        let mut net = TestNetwork::start(10).await;
        let faults: Vec<_> = (0..10).map(|_| Faults::new()).collect();
        wrap_all(&mut net, &faults).await;
        let project = net
            .project_with(ClientConfig {
                segment_size: 4 << 20,
                ..Default::default()
            })
            .await;
        project.create_bucket("bkt").await.unwrap();
        let data = bytes(&mut rng, (7 << 20) + 17);
        upload_everywhere(&project, &net, "obj", &data).await;

        let mut order: Vec<usize> = (1..=10).collect();
        order.shuffle(&mut rng);
        let (healthy, slow, breaking, dead) =
            (&order[..4], &order[4..5], &order[5..8], &order[8..]);
        println!("healthy {healthy:?}, slow {slow:?}, breaking {breaking:?}, dead {dead:?}");
        for &i in slow {
            faults[i - 1].set_read_delay(Duration::from_millis(300));
        }
        // The slow one serves its first bytes late and then breaks too; the others
        // serve their first 256 KiB quickly (so they can win the first window) and then
        // break.
        for &i in slow.iter().chain(breaking) {
            faults[i - 1].set_fail_reads_from(Some(256 << 10));
        }
        for &i in dead {
            net.network.stop_node(i).await;
        }
        let mut failures = Vec::new();
        for attempt in 0..12 {
            let mut out = Vec::new();
            match project.download("bkt", "obj", None, &mut out, None).await {
                Ok(_) => assert!(out == data, "download {attempt} returned other bytes"),
                Err(e) => failures.push(format!("download {attempt}: {e}")),
            }
        }
        assert!(
            failures.is_empty(),
            "{} of 12 failed: {failures:#?}",
            failures.len()
        );
        net.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_survive_five_nodes_killed_mid_stream() {
    bounded(async {
        let mut rng = rng(
            "downloads_survive_five_nodes_killed_mid_stream",
            0x5eed_0005,
        );
        // Limits for every piece at once: after the kill, the pieces that lost the
        // first window's race are the only ones left to read.
        let mut net = TestNetwork::start_with(Options {
            nodes: 10,
            tweak: Box::new(|c| c.satellite.download_extra_pieces = Some(10)),
        })
        .await;
        let faults: Vec<_> = (0..10).map(|_| Faults::new()).collect();
        wrap_all(&mut net, &faults).await;
        let segment_size = 4u64 << 20;
        let project = net
            .project_with(ClientConfig {
                segment_size,
                ..Default::default()
            })
            .await;
        project.create_bucket("bkt").await.unwrap();
        let data = bytes(&mut rng, 3 * segment_size as usize);
        upload_everywhere(&project, &net, "obj", &data).await;
        // Slow enough that the download is still streaming when the nodes die.
        for f in &faults {
            f.set_read_delay(Duration::from_millis(100));
        }
        for round in 0..3 {
            let mut order: Vec<usize> = (1..=10).collect();
            order.shuffle(&mut rng);
            let victims = order[..5].to_vec();
            println!("round {round}: nodes {victims:?} die mid-stream");
            let reads = || faults.iter().map(|f| f.reads_so_far()).sum::<u64>();
            let before = reads();
            let task = tokio::spawn({
                let project = project.clone();
                async move {
                    let mut out = Vec::new();
                    project
                        .download("bkt", "obj", None, &mut out, None)
                        .await
                        .map(|_| out)
                }
            });
            // The nodes have served every piece's first chunk of the first segment and
            // are on to the next (the race is decided; each piece has four chunks).
            eventually(Duration::from_secs(60), "the download streams", || {
                let now = reads();
                async move { now >= before + 12 }
            })
            .await;
            for &v in &victims {
                kill(&mut net, v, &faults[v - 1]).await;
            }
            assert!(
                !task.is_finished(),
                "the download ended before the nodes died"
            );
            let out = task
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}: download failed: {e}"));
            assert!(out == data, "round {round}");
            for &v in &victims {
                faults[v - 1].set_dead(false);
                wrap_node(&mut net, v, &faults[v - 1]).await;
            }
        }
        net.stop().await;
    })
    .await;
}

/// A project whose metainfo calls go through `proxy`.
fn project_via(net_grant: tests::uplink_core::access::AccessGrant, proxy: &FaultyProxy) -> Project {
    let mut grant = net_grant;
    grant.satellite.address = proxy.address().to_string();
    Project::open(
        grant,
        ClientConfig {
            segment_size: 256 << 10,
            metainfo_retry: RetryPolicy {
                attempts: 6,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_secs(2),
            },
            ..Default::default()
        },
    )
    .unwrap()
}

fn pending_listing(bucket: &str) -> ListObjectsRequest {
    ListObjectsRequest {
        bucket: bucket.into(),
        delimiter: None,
        prefix: String::new(),
        cursor: None,
        recursive: true,
        limit: None,
        include_metadata: false,
        pending: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upload_is_aborted_and_its_pieces_deleted() {
    bounded(async {
        let mut rng = rng("a_failed_upload_is_aborted_and_its_pieces_deleted", 6);
        let net = TestNetwork::start(10).await;
        let proxy = FaultyProxy::start(
            net.network.satellite_url(),
            net.mode(),
            &net.satellite_identity(),
        )
        .await
        .unwrap();
        let project = project_via(net.access().await, &proxy);
        project.create_bucket("bkt").await.unwrap();
        let keep = bytes(&mut rng, 600_000);
        project
            .upload("bkt", "keep", &keep[..], Default::default())
            .await
            .unwrap();
        // The nodes end up holding exactly the pieces the satellite records.
        eventually(
            Duration::from_secs(20),
            "the kept object's pieces settle",
            || async { pieces_on_nodes(&net).await == recorded_pieces(&net).await },
        )
        .await;
        let kept = recorded_pieces(&net).await;
        assert!(!kept.is_empty());

        // The third segment's pieces are all stored, then its commit fails: two
        // segments are committed and one is only named by its segment id.
        proxy.fail(SEGMENT_COMMIT_PATH, 2, 1, 500, None);
        let data = bytes(&mut rng, 3 * (256 << 10) + 999);
        let err = project
            .upload("bkt", "doomed", &data[..], Default::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, UplinkError::Satellite { status: 500, .. }),
            "{err}"
        );
        assert!(proxy.requests(OBJECT_ABORT_PATH) >= 1, "no abort was sent");
        let pending = project
            .metainfo()
            .list_objects(&pending_listing("bkt"), &Subject::default())
            .await
            .unwrap();
        assert!(
            pending.items.is_empty(),
            "a pending object is left: {pending:?}"
        );
        assert_eq!(recorded_pieces(&net).await, kept);
        eventually(
            Duration::from_secs(20),
            "the failed upload's pieces are deleted from the nodes",
            || async { pieces_on_nodes(&net).await == kept },
        )
        .await;
        proxy.stop().await;
        net.stop().await;
    })
    .await;
}

/// Uploads one segment by hand (begin, pieces, and the receipts) for tests that need
/// the upload's handles; returns the segment id and the receipts.
async fn hand_segment(
    project: &Project,
    stream_id: &str,
    position: u32,
    data: &[u8],
) -> (String, Vec<PieceReceipt>) {
    let metainfo = project.metainfo();
    let piece_key = Identity::generate(0);
    let begun = metainfo
        .begin_segment(
            &BeginSegmentRequest {
                stream_id: stream_id.into(),
                position: tests::uplink_core::protocol::SegmentPosition::single(position),
                max_plain_size: data.len() as u64,
                piece_public_key: piece_key.public_key(),
                exclude_nodes: Vec::new(),
            },
            &Subject::default(),
        )
        .await
        .unwrap();
    let shares = SegmentEncoder::new(begun.redundancy, &Key::random())
        .encode_batch(data, true)
        .unwrap();
    let uploads = begun.limits.into_iter().map(|target| {
        let share = shares[target.piece_num as usize].clone();
        let piece_key = piece_key.clone();
        async move {
            let num = target.piece_num;
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            tx.send(share).await.unwrap();
            drop(tx);
            let hash = upload_piece(
                Transport::shared(Mode::Tls),
                target,
                rx,
                piece_key,
                Duration::from_secs(10),
            )
            .await
            .unwrap();
            PieceReceipt {
                piece_num: num,
                receipt: hash,
            }
        }
    });
    (begun.segment_id, futures::future::join_all(uploads).await)
}

fn any_sealed() -> Sealed {
    Sealed {
        ciphertext: vec![7; 48],
        nonce: vec![1; 12],
    }
}

async fn begin(metainfo: &MetainfoClient, key: &str) -> BeginObjectResponse {
    metainfo
        .begin_object(
            &BeginObjectRequest {
                encrypted_metadata: None,
                bucket: "bkt".into(),
                encrypted_key: key.into(),
                expires_at: None,
            },
            &Subject::default(),
        )
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_never_touches_committed_data() {
    bounded(async {
        let mut rng = rng("an_abort_never_touches_committed_data", 7);
        let net = TestNetwork::start(10).await;
        let project = net.project().await;
        let metainfo = project.metainfo();
        project.create_bucket("bkt").await.unwrap();
        let begun = begin(metainfo, "committed").await;
        let data = bytes(&mut rng, 100_000);
        let (segment_id, receipts) = hand_segment(&project, &begun.stream_id, 0, &data).await;
        metainfo
            .commit_segment(
                &CommitSegmentRequest {
                    encrypted_etag: None,
                    segment_id: segment_id.clone(),
                    plain_size: data.len() as u64,
                    encrypted_key: any_sealed(),
                    receipts,
                },
                &Subject::default(),
            )
            .await
            .unwrap();
        metainfo
            .commit_object(
                &CommitObjectRequest {
                    parts: None,
                    if_absent: false,
                    stream_id: begun.stream_id.clone(),
                    encrypted_metadata: None,
                },
                &Subject::default(),
            )
            .await
            .unwrap();
        eventually(Duration::from_secs(20), "the pieces settle", || async {
            pieces_on_nodes(&net).await == recorded_pieces(&net).await
        })
        .await;
        let before = pieces_on_nodes(&net).await;
        // Aborting the committed upload, with the segment id of its committed segment,
        // changes nothing.
        let resp = metainfo
            .abort_object(
                &AbortObjectRequest {
                    segments_only: false,
                    stream_id: begun.stream_id.clone(),
                    segment_ids: vec![segment_id],
                },
                &Subject::default(),
            )
            .await
            .unwrap();
        assert_eq!(
            resp,
            AbortObjectResponse {
                aborted: false,
                pieces_queued: 0
            }
        );
        // A segment id of another upload is refused.
        let other = begin(metainfo, "other").await;
        let (foreign, _) = hand_segment(&project, &other.stream_id, 0, &data).await;
        let err = metainfo
            .abort_object(
                &AbortObjectRequest {
                    segments_only: false,
                    stream_id: begun.stream_id.clone(),
                    segment_ids: vec![foreign],
                },
                &Subject::default(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                UplinkError::Satellite {
                    code: ErrorCode::BadRequest,
                    ..
                }
            ),
            "{err}"
        );
        let runs = || net.network.satellite.workers().status()["piece-deleter"].steps;
        let seen = runs();
        eventually(
            Duration::from_secs(20),
            "the piece deleter ran twice",
            || {
                let now = runs();
                async move { now >= seen + 2 }
            },
        )
        .await;
        let after: BTreeSet<_> = pieces_on_nodes(&net).await;
        assert!(before.is_subset(&after), "committed pieces were deleted");
        metainfo
            .get_object(
                &ObjectRequest {
                    bucket: "bkt".into(),
                    encrypted_key: "committed".into(),
                },
                &Subject::default(),
            )
            .await
            .expect("the committed object is still there");
        net.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_pending_object_takes_its_pieces_with_it() {
    bounded(async {
        let mut rng = rng("an_expired_pending_object_takes_its_pieces_with_it", 8);
        let net = TestNetwork::start_with(Options {
            nodes: 10,
            tweak: Box::new(|c| {
                c.satellite.pending_object_expiration = Duration::from_secs(3);
            }),
        })
        .await;
        let project = net.project().await;
        let metainfo = project.metainfo();
        project.create_bucket("bkt").await.unwrap();
        // An upload killed after committing two segments: nothing aborts it.
        let begun = begin(metainfo, "abandoned").await;
        for position in 0..2 {
            let data = bytes(&mut rng, 50_000);
            let (segment_id, receipts) =
                hand_segment(&project, &begun.stream_id, position, &data).await;
            metainfo
                .commit_segment(
                    &CommitSegmentRequest {
                        encrypted_etag: None,
                        segment_id,
                        plain_size: data.len() as u64,
                        encrypted_key: any_sealed(),
                        receipts,
                    },
                    &Subject::default(),
                )
                .await
                .unwrap();
        }
        let recorded = recorded_pieces(&net).await;
        assert!(recorded.len() >= 16, "{} pieces", recorded.len());
        assert!(recorded.is_subset(&pieces_on_nodes(&net).await));
        eventually(
            Duration::from_secs(30),
            "the expired upload's pieces are deleted from the nodes",
            || async { pieces_on_nodes(&net).await.is_empty() },
        )
        .await;
        assert!(segments(&net).await.is_empty());
        let pending = metainfo
            .list_objects(&pending_listing("bkt"), &Subject::default())
            .await
            .unwrap();
        assert!(pending.items.is_empty());
        net.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacement_assignments_are_checked_at_commit() {
    bounded(async {
        let mut rng = rng("replacement_assignments_are_checked_at_commit", 9);
        let net = TestNetwork::start(13).await;
        let project = net.project().await;
        let metainfo = project.metainfo();
        project.create_bucket("bkt").await.unwrap();
        let begun = begin(metainfo, "obj").await;
        let data = bytes(&mut rng, 80_000);
        let (segment_id, receipts) = hand_segment(&project, &begun.stream_id, 0, &data).await;
        let retry = |pieces: Vec<u16>, id: String| async move {
            metainfo
                .retry_pieces(
                    &RetryPiecesRequest {
                        segment_id: id,
                        pieces,
                    },
                    &Subject::default(),
                )
                .await
        };
        for bad in [vec![], vec![10], vec![1, 1]] {
            let err = retry(bad.clone(), segment_id.clone()).await.unwrap_err();
            assert!(
                matches!(
                    &err,
                    UplinkError::Satellite {
                        code: ErrorCode::BadRequest,
                        ..
                    }
                ),
                "{bad:?}: {err}"
            );
        }
        let resp = retry(vec![0], segment_id.clone()).await.unwrap();
        assert_eq!(resp.limits.len(), 1);
        let fresh = &resp.limits[0];
        assert_eq!(fresh.piece_num, 0);
        // Piece 0's receipt came from the replaced node: with the new segment id it no
        // longer counts, the other nine do.
        metainfo
            .commit_segment(
                &CommitSegmentRequest {
                    encrypted_etag: None,
                    segment_id: resp.segment_id,
                    plain_size: data.len() as u64,
                    encrypted_key: any_sealed(),
                    receipts,
                },
                &Subject::default(),
            )
            .await
            .unwrap();
        let segs = segments(&net).await;
        let recorded = remote_pieces(&segs[0]);
        assert!(!recorded.iter().any(|p| p.num == 0), "{recorded:?}");
        assert_eq!(recorded.len(), 9);
        assert!(!recorded.iter().any(|p| p.node == fresh.limit.node_id));
        net.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metainfo_calls_retry_while_the_satellite_is_unavailable() {
    bounded(async {
        let net = TestNetwork::start(10).await;
        let proxy = FaultyProxy::start(
            net.network.satellite_url(),
            net.mode(),
            &net.satellite_identity(),
        )
        .await
        .unwrap();
        let project = project_via(net.access().await, &proxy);
        project.create_bucket("bkt").await.unwrap();

        // Two 503s (asking for a one-second pause), then the real answer.
        proxy.fail(BUCKET_LIST_PATH, 0, 2, 503, Some(1));
        let buckets = project
            .list_buckets()
            .await
            .expect("retried until it answered");
        assert_eq!(buckets.len(), 1);
        assert_eq!(proxy.requests(BUCKET_LIST_PATH), 3);

        // Calls that change state are retried too: a 503 means nothing was done.
        proxy.fail(OBJECT_BEGIN_PATH, 0, 2, 503, None);
        project
            .upload("bkt", "obj", &[5u8; 10_000][..], Default::default())
            .await
            .expect("upload after two 503s");
        assert_eq!(proxy.requests(OBJECT_BEGIN_PATH), 3);

        // Always unavailable: the sixth attempt gives up and says so.
        let before = proxy.requests(BUCKET_GET_PATH);
        proxy.fail(BUCKET_GET_PATH, 0, 100, 503, None);
        let err = project.bucket("bkt").await.unwrap_err();
        assert!(
            matches!(err, UplinkError::Unavailable { attempts: 6, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("after 6 attempts"), "{err}");
        assert_eq!(proxy.requests(BUCKET_GET_PATH) - before, 6);

        // Other errors are not retried.
        proxy.fail(OBJECT_LIST_PATH, 0, 1, 500, None);
        let err = project.list_objects("bkt", "", true).await.unwrap_err();
        assert!(
            matches!(err, UplinkError::Satellite { status: 500, .. }),
            "{err}"
        );
        assert_eq!(proxy.requests(OBJECT_LIST_PATH), 1);
        proxy.stop().await;
        net.stop().await;
    })
    .await;
}

/// The workspace's `uplink` binary (`cargo test --workspace` builds it).
fn uplink_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("uplink");
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_aborts_the_pending_upload() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    bounded(async {
        let mut rng = rng("ctrl_c_aborts_the_pending_upload", 10);
        let net = TestNetwork::start(10).await;
        let grant = net.access().await;
        let project = Project::open(grant.clone(), Default::default()).unwrap();
        project.create_bucket("bkt").await.unwrap();
        let config = tempfile::tempdir().unwrap();
        let mut child = tokio::process::Command::new(uplink_bin())
            .args([
                "cp",
                "--quiet",
                "--segment-size",
                "1MiB",
                "-",
                "sj://bkt/cut",
            ])
            .env("UPLINK_ACCESS", grant.serialize())
            .env("UPLINK_CONFIG_DIR", config.path())
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // Two and a half segments, then the input stalls: two segments are committed
        // and the third is begun when the user presses Ctrl-C.
        stdin
            .write_all(&bytes(&mut rng, (5 << 20) / 2))
            .await
            .unwrap();
        eventually(
            Duration::from_secs(60),
            "two segments are committed",
            || async { segments(&net).await.len() >= 2 },
        )
        .await;
        let sent = std::process::Command::new("kill")
            .args(["-INT", &child.id().unwrap().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("the uplink exits after Ctrl-C")
            .unwrap();
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .await
            .unwrap();
        assert_eq!(status.code(), Some(130), "{stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        drop(stdin);
        let pending = project
            .metainfo()
            .list_objects(&pending_listing("bkt"), &Subject::default())
            .await
            .unwrap();
        assert!(pending.items.is_empty(), "{pending:?}");
        assert!(segments(&net).await.is_empty());
        eventually(
            Duration::from_secs(20),
            "the interrupted upload's pieces are deleted from the nodes",
            || async { pieces_on_nodes(&net).await.is_empty() },
        )
        .await;
        net.stop().await;
    })
    .await;
}
