//! Repair: redundancy goes back up after nodes leave or spoil their pieces, far beyond
//! what erasure coding alone survives, without the uplink and without any key.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use rand::Rng;
use rand::seq::SliceRandom;
use sea_orm::EntityTrait;
use tests::faults::{corrupting_reads, disk_gone, losing};
use tests::node_sim::sim::network::NetworkConfig;
use tests::satellite::db::entities::node;
use tests::satellite::repair::checker::{CheckerReport, REPORT};
use tests::{Options, TestNetwork, download, seeded_rng};

use crate::audit::audit_round;

/// Settings that make offline nodes visible within seconds.
fn quick_settings(c: &mut NetworkConfig) {
    c.checkin_interval = Duration::from_millis(500);
    c.satellite.node_online_window = Duration::from_secs(3);
    c.satellite.selection_refresh_interval = Duration::from_millis(500);
    c.satellite.repair.concurrency = 2;
    c.satellite.repair.piece_timeout = Duration::from_secs(5);
}

fn quick(nodes: usize) -> Options {
    Options {
        nodes,
        tweak: Box::new(quick_settings),
    }
}

/// Runs the segment loop (checker) and the repair workers until the checker queues
/// nothing; returns the last checker report.
pub async fn repair_until_healthy(net: &TestNetwork) -> CheckerReport {
    let sat = &net.network.satellite;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = sat
            .workers()
            .trigger("segment-loop")
            .await
            .expect("the loop runs");
        assert!(
            status.last_error.is_none(),
            "segment loop failed: {status:?}"
        );
        let (report, _): (CheckerReport, i64) = tests::satellite::reports::get(&sat.db, REPORT)
            .await
            .unwrap()
            .expect("the checker wrote its report");
        assert!(report.complete, "{report:?}");
        assert_eq!(report.unreadable_segments, 0, "{report:?}");
        assert_eq!(report.lost, 0, "segments lost: {report:?}");
        if report.queued == 0 {
            return report;
        }
        assert!(
            Instant::now() < deadline,
            "repair did not converge: {report:?}"
        );
        for i in 0..2 {
            sat.workers()
                .trigger(&format!("repair-{i}"))
                .await
                .expect("repair worker runs");
        }
    }
}

/// Waits until the satellite sees exactly the running nodes as online.
async fn settle(net: &TestNetwork) {
    let want = net.network.running_nodes().count();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        net.network.satellite.overlay.refresh().await.unwrap();
        let (_, online) = net.network.satellite.overlay.counts();
        if online == want {
            return;
        }
        assert!(Instant::now() < deadline, "{online} online, {want} running");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waves_of_lost_nodes_far_beyond_the_code_lose_nothing() {
    let mut rng = seeded_rng("repair waves");
    let mut net = TestNetwork::start_with(quick(20)).await;
    let project = net.project().await;
    project.create_bucket("keep").await.unwrap();
    let mut objects = BTreeMap::new();
    for i in 0..8 {
        let size = match i {
            0 => 1000,                               // inline
            1 => 600 << 10,                          // three segments
            _ => rng.gen_range(5_000..300_000usize), // one or two segments
        };
        let mut data = vec![0u8; size];
        rng.fill(&mut data[..]);
        let key = format!("obj-{i}");
        project
            .upload("keep", &key, &data[..], Default::default())
            .await
            .unwrap();
        objects.insert(key, data);
    }
    let report = repair_until_healthy(&net).await;
    assert!(report.remote_segments >= 8, "{report:?}");

    // Four waves of three nodes each: 12 of 20 nodes gone for good, twice what the
    // 4/6/8/10 scheme survives without repair (total - k = 6).
    let mut alive: Vec<usize> = (1..=20).collect();
    let mut lost = 0;
    let mut repaired_segments = 0;
    for wave in 0..4 {
        alive.shuffle(&mut rng);
        let gone: Vec<usize> = alive.drain(..3).collect();
        for index in &gone {
            net.network.stop_node(*index).await;
        }
        lost += gone.len();
        settle(&net).await;
        let wave_started = tests::uplink_core::protocol::now_unix();
        let report = repair_until_healthy(&net).await;
        // No segment is left at or below the repair threshold (6) ...
        for (healthy, count) in &report.by_healthy {
            assert!(
                *healthy > 6,
                "wave {wave}: {count} segments at {healthy} healthy pieces: {report:?}"
            );
        }
        // ... and every segment repaired in this wave is back at optimal (8), on
        // running nodes only, each piece in its own network.
        let running: HashSet<_> = net.network.running_nodes().map(|n| n.id()).collect();
        for segment in net.segments().await {
            let Some(remote) = segment.remote() else {
                continue;
            };
            let nodes: HashSet<_> = remote.pieces.nodes().collect();
            let on_running = nodes.intersection(&running).count();
            assert!(
                on_running > 6,
                "wave {wave}: segment {} has {on_running} pieces left",
                segment.key
            );
            if segment.repaired_at.is_some_and(|t| t >= wave_started) {
                repaired_segments += 1;
                assert!(
                    on_running >= 8,
                    "wave {wave}: repaired segment {} has {on_running} pieces on running nodes",
                    segment.key
                );
            }
        }
        for (key, data) in &objects {
            assert!(
                download(&project, "keep", key).await == *data,
                "wave {wave}: {key} differs"
            );
        }
    }
    assert_eq!(lost, 12);
    let repaired = tests::satellite::repair::queue::repaired_since(&net.network.satellite.db, 0)
        .await
        .unwrap();
    assert!(
        repaired > 0 && repaired_segments > 0,
        "nothing was repaired"
    );
    net.stop().await;
}

/// How a node is lost in [`waves_of_killed_corrupting_losing_and_diskless_nodes_under_churn`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loss {
    /// Stopped for good.
    Killed,
    /// Keeps answering, with a flipped byte in every piece it reads.
    Corrupting,
    /// Keeps answering, but every piece has vanished.
    Losing,
    /// Keeps answering, with no pieces and no room for new ones.
    DiskGone,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waves_of_killed_corrupting_losing_and_diskless_nodes_under_churn() {
    let mut rng = seeded_rng("mixed repair waves");
    let mut net = TestNetwork::start_with(Options {
        nodes: 20,
        tweak: Box::new(|c| {
            quick_settings(c);
            // Every segment audited every round.
            c.satellite.audit.segments_per_pass = 1000;
            c.satellite.audit.piece_timeout = Duration::from_secs(5);
        }),
    })
    .await;
    let project = net.project().await;
    project.create_bucket("keep").await.unwrap();
    let mut objects = BTreeMap::new();
    for i in 0..8 {
        let size = match i {
            0 => 1000,      // inline
            1 => 600 << 10, // three segments
            _ => rng.gen_range(5_000..300_000usize),
        };
        let mut data = vec![0u8; size];
        rng.fill(&mut data[..]);
        let key = format!("obj-{i}");
        project
            .upload("keep", &key, &data[..], Default::default())
            .await
            .unwrap();
        objects.insert(key, data);
    }
    repair_until_healthy(&net).await;

    // Four waves of three nodes each, every kind of loss three times: 12 of the first
    // 20 nodes gone or misbehaving, twice what 4/6/8/10 survives without repair. A new
    // node joins before every wave.
    let kinds = [Loss::Killed, Loss::Corrupting, Loss::Losing, Loss::DiskGone];
    let mut good: Vec<usize> = (1..=20).collect();
    let mut lost = Vec::new();
    for wave in 0..4 {
        let joined = net.network.add_node().await.expect("a node joins");
        good.shuffle(&mut rng);
        let hit: Vec<usize> = good.drain(..3).collect();
        good.push(joined);
        let mut misbehaving = Vec::new();
        for (j, index) in hit.iter().enumerate() {
            let kind = kinds[(wave * 3 + j) % kinds.len()];
            let id = net.network.node(*index).expect("running").id();
            let seed = rng.r#gen();
            match kind {
                Loss::Killed => net.network.stop_node(*index).await,
                Loss::Corrupting => net.set_faults(*index, corrupting_reads(1.0, seed)).await,
                Loss::Losing => net.set_faults(*index, losing(1.0, seed)).await,
                Loss::DiskGone => net.set_faults(*index, disk_gone()).await,
            }
            if kind != Loss::Killed {
                misbehaving.push(id);
            }
            lost.push(kind);
        }
        settle(&net).await;

        // Audits find the nodes that answer but have lost or spoiled their pieces ...
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let mut qualified = Vec::new();
            for id in &misbehaving {
                let row = node::Entity::find_by_id(id.0.to_vec())
                    .one(&net.network.satellite.db)
                    .await
                    .unwrap()
                    .expect("node known");
                if row.disqualified_at.is_none() {
                    qualified.push(id);
                }
            }
            if qualified.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "wave {wave}: never disqualified: {qualified:?}"
            );
            audit_round(&net).await;
        }
        // ... and repair puts their pieces, and the killed nodes', elsewhere.
        let wave_started = tests::uplink_core::protocol::now_unix();
        let report = repair_until_healthy(&net).await;
        for (healthy, count) in &report.by_healthy {
            assert!(
                *healthy > 6,
                "wave {wave}: {count} segments at {healthy} healthy pieces: {report:?}"
            );
        }
        let good_ids: HashSet<_> = good
            .iter()
            .map(|i| net.network.node(*i).expect("running").id())
            .collect();
        for segment in net.segments().await {
            let Some(remote) = segment.remote() else {
                continue;
            };
            let on_good = remote
                .pieces
                .nodes()
                .filter(|n| good_ids.contains(n))
                .count();
            assert!(
                on_good > 6,
                "wave {wave}: segment {} has {on_good} good pieces",
                segment.key
            );
            if segment.repaired_at.is_some_and(|t| t >= wave_started) {
                assert!(
                    on_good >= 8,
                    "wave {wave}: repaired segment {} has {on_good} good pieces",
                    segment.key
                );
            }
        }
        for (key, data) in &objects {
            assert!(
                download(&project, "keep", key).await == *data,
                "wave {wave}: {key} differs"
            );
        }
    }
    assert_eq!(lost.len(), 12);
    for kind in kinds {
        assert_eq!(lost.iter().filter(|k| **k == kind).count(), 3, "{kind:?}");
    }
    // The nine that kept answering were disqualified by audits; no good node was.
    let rows = node::Entity::find()
        .all(&net.network.satellite.db)
        .await
        .unwrap();
    let disqualified = rows.iter().filter(|r| r.disqualified_at.is_some()).count();
    assert_eq!(disqualified, 9, "{rows:?}");
    let repaired = tests::satellite::repair::queue::repaired_since(&net.network.satellite.db, 0)
        .await
        .unwrap();
    assert!(repaired >= 10, "only {repaired} repairs");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piece_sets_change_only_if_unchanged_since_read() {
    use tests::satellite::metabase::segments::{self, Swap};
    use tests::satellite::metabase::{Piece, PieceSet};
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("bkt").await.unwrap();
    let data = tests::random_bytes(100_000);
    project
        .upload("bkt", "obj", &data[..], Default::default())
        .await
        .unwrap();
    let db = &net.network.satellite.db;
    let first = net.segments().await.remove(0);
    let second = net.segments().await.remove(0);
    let pieces = &first.remote().unwrap().pieces;
    let dropped = pieces.iter().next().unwrap().num;
    let smaller = pieces.replaced(&[dropped], &[]).unwrap();
    // The first reader's swap goes through; the second reader read the old set.
    assert_eq!(
        segments::swap_pieces(db, &first, &smaller, None)
            .await
            .unwrap(),
        Swap::Done
    );
    assert_eq!(
        segments::swap_pieces(db, &second, &PieceSet::default(), None)
            .await
            .unwrap(),
        Swap::Changed
    );
    let now = net.segments().await.remove(0);
    assert_eq!(
        now.remote().unwrap().pieces,
        smaller,
        "the stale swap changed nothing"
    );
    // An object overwritten (or deleted) during a repair: the segment is gone.
    project
        .upload("bkt", "obj", &data[..1000], Default::default())
        .await
        .unwrap();
    let extra = Piece {
        num: dropped,
        node: pieces.iter().next().unwrap().node,
    };
    assert_eq!(
        segments::swap_pieces(db, &now, &smaller.replaced(&[], &[extra]).unwrap(), None)
            .await
            .unwrap(),
        Swap::Gone
    );
    assert!(download(&project, "bkt", "obj").await == data[..1000]);
    net.stop().await;
}
