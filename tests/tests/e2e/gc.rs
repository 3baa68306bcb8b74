//! Garbage collection: after deletes, overwrites and failed uploads every node holds
//! exactly the pieces live segments need, plus trash; a live piece is never trashed;
//! after the retention the trash is empty.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tests::uplink_core::protocol::{NodeId, PieceId};
use tests::{Options, TestNetwork, download, random_bytes};
use tokio::io::AsyncRead;

/// Yields `len` bytes, then fails: an upload that dies midway.
struct Failing {
    left: usize,
}

impl AsyncRead for Failing {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.left == 0 {
            return std::task::Poll::Ready(Err(std::io::Error::other("the source broke")));
        }
        let n = self.left.min(buf.remaining()).min(8192);
        buf.put_slice(&vec![7u8; n]);
        self.left -= n;
        std::task::Poll::Ready(Ok(()))
    }
}

async fn stored(net: &TestNetwork) -> BTreeSet<(NodeId, PieceId)> {
    let sat = net.network.satellite_url().id;
    let mut all = BTreeSet::new();
    for node in net.network.running_nodes() {
        for piece in node.store().list(sat).await.unwrap() {
            all.insert((node.id(), piece));
        }
    }
    all
}

async fn trashed(net: &TestNetwork) -> BTreeSet<(NodeId, PieceId)> {
    let sat = net.network.satellite_url().id;
    let mut all = BTreeSet::new();
    for node in net.network.running_nodes() {
        for piece in node.store().list_trash(sat).await.unwrap() {
            all.insert((node.id(), piece.piece_id));
        }
    }
    all
}

/// One garbage-collection run: a segment-loop pass sends the filters; waits until
/// every running node has applied one more.
async fn collect(net: &TestNetwork) {
    let before: Vec<u64> = net
        .network
        .running_nodes()
        .map(|n| n.retainer().passes_completed())
        .collect();
    let status = net
        .network
        .satellite
        .workers()
        .trigger("segment-loop")
        .await
        .unwrap();
    assert!(status.last_error.is_none(), "{status:?}");
    let (report, _): (tests::satellite::gc::GcReport, i64) =
        tests::satellite::reports::get(&net.network.satellite.db, tests::satellite::gc::REPORT)
            .await
            .unwrap()
            .expect("a gc report");
    assert!(report.skipped.is_none(), "{report:?}");
    assert_eq!(report.nodes_failed, 0, "{report:?}");
    for (node, before) in net.network.running_nodes().zip(before) {
        tokio::time::timeout(
            Duration::from_secs(30),
            node.retainer().wait_for_passes(before + 1),
        )
        .await
        .expect("the node applies the filter");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_keep_exactly_the_live_pieces_plus_trash() {
    let net = TestNetwork::start_with(Options {
        nodes: 10,
        tweak: Box::new(|c| {
            // No deletions sent to nodes: everything removed must be found by GC.
            c.satellite.piece_deletion_interval = Duration::from_secs(3600);
            c.satellite.order_expiration = Duration::from_secs(2);
            c.satellite.gc.interval = Duration::ZERO;
            c.retain_grace = Duration::ZERO;
            c.trash_retention = Duration::from_secs(2);
            c.trash_check_interval = Duration::from_millis(300);
        }),
    })
    .await;
    let project = net.project().await;
    project.create_bucket("bkt").await.unwrap();
    let keep = random_bytes(700_000);
    let replaced = random_bytes(300_000);
    let replacement = random_bytes(200_000);
    project
        .upload("bkt", "keep", &keep[..], Default::default())
        .await
        .unwrap();
    project
        .upload("bkt", "over", &replaced[..], Default::default())
        .await
        .unwrap();
    project
        .upload(
            "bkt",
            "gone",
            &random_bytes(400_000)[..],
            Default::default(),
        )
        .await
        .unwrap();
    project
        .upload("bkt", "over", &replacement[..], Default::default())
        .await
        .unwrap();
    project.delete_object("bkt", "gone").await.unwrap();
    let failed = project
        .upload(
            "bkt",
            "broken",
            Failing { left: 600_000 },
            Default::default(),
        )
        .await;
    assert!(failed.is_err(), "the broken upload must fail");

    let before = stored(&net).await;
    let live = net.recorded_pieces().await;
    assert!(live.is_subset(&before), "a live piece is missing before GC");
    let garbage: BTreeSet<_> = before.difference(&live).cloned().collect();
    assert!(
        garbage.len() > 20,
        "only {} garbage pieces to collect",
        garbage.len()
    );

    // Everything so far is older than the snapshot minus the upload window.
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Each run uses fresh filter seeds: a garbage piece survives a run with about
    // 10% probability, so a few runs collect all of it.
    let mut runs = 0;
    loop {
        collect(&net).await;
        runs += 1;
        let now = stored(&net).await;
        assert!(live.is_subset(&now), "run {runs}: GC trashed a live piece");
        let trash = trashed(&net).await;
        assert!(
            trash.is_disjoint(&live),
            "run {runs}: a live piece is in the trash"
        );
        if now == live {
            break;
        }
        assert!(
            runs < 6,
            "garbage left after {runs} runs: {}",
            now.difference(&live).count()
        );
    }
    for (key, data) in [("keep", &keep), ("over", &replacement)] {
        assert!(
            download(&project, "bkt", key).await == *data,
            "{key} differs"
        );
    }
    // Trash goes after the retention.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !trashed(&net).await.is_empty() {
        assert!(Instant::now() < deadline, "trash was never emptied");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(stored(&net).await, live);
    net.stop().await;
}
