//! Audit: a node that corrupts what it stores is disqualified and its pieces rebuilt
//! elsewhere; a node that is merely offline is not penalised.

use std::time::{Duration, Instant};

use sea_orm::EntityTrait;
use tests::faults::corrupting_reads;
use tests::satellite::db::entities::{node, reputation};
use tests::{Options, TestNetwork, download, random_bytes};

use crate::repair::repair_until_healthy;

fn audited(nodes: usize) -> Options {
    Options {
        nodes,
        tweak: Box::new(|c| {
            c.checkin_interval = Duration::from_millis(500);
            c.satellite.node_online_window = Duration::from_secs(3);
            c.satellite.selection_refresh_interval = Duration::from_millis(500);
            // Every piece is needed for optimal: one lost piece queues a repair.
            c.satellite.redundancy = "3/7/8/8".into();
            c.satellite.audit.segments_per_pass = 1000;
            c.satellite.audit.piece_timeout = Duration::from_secs(5);
            c.satellite.repair.piece_timeout = Duration::from_secs(5);
        }),
    }
}

async fn row(net: &TestNetwork, id: &tests::uplink_core::protocol::NodeId) -> node::Model {
    node::Entity::find_by_id(id.0.to_vec())
        .one(&net.network.satellite.db)
        .await
        .unwrap()
        .expect("node known")
}

/// One audit round: a loop pass samples, the audit worker checks the sample.
pub async fn audit_round(net: &TestNetwork) {
    let workers = net.network.satellite.workers();
    workers.trigger("segment-loop").await.expect("loop runs");
    let status = workers.trigger("audit").await.expect("audit runs");
    assert!(status.last_error.is_none(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupting_node_is_disqualified_and_repaired_around_an_offline_one_is_not() {
    let mut net = TestNetwork::start_with(audited(12)).await;
    let project = net.project().await;
    project.create_bucket("bkt").await.unwrap();
    let mut objects = Vec::new();
    for i in 0..12 {
        let data = random_bytes(60_000 + i * 7_000);
        let key = format!("o{i}");
        project
            .upload("bkt", &key, &data[..], Default::default())
            .await
            .unwrap();
        objects.push((key, data));
    }
    let corrupting = 3;
    let offline = 7;
    let bad_id = net.network.node(corrupting).unwrap().id();
    let offline_id = net.network.node(offline).unwrap().id();
    net.set_faults(corrupting, corrupting_reads(1.0, 99)).await;
    net.network.stop_node(offline).await;
    // Let the satellite see the stopped node as offline.
    tokio::time::sleep(Duration::from_secs(4)).await;

    let deadline = Instant::now() + Duration::from_secs(120);
    while row(&net, &bad_id).await.disqualified_at.is_none() {
        assert!(
            Instant::now() < deadline,
            "the corrupting node was never disqualified"
        );
        audit_round(&net).await;
    }
    let offline_row = row(&net, &offline_id).await;
    assert!(
        offline_row.disqualified_at.is_none(),
        "an offline node was disqualified"
    );
    assert!(
        offline_row.suspended_at.is_none(),
        "an offline node was suspended"
    );
    let rep = reputation::Entity::find_by_id(bad_id.0.to_vec())
        .one(&net.network.satellite.db)
        .await
        .unwrap()
        .unwrap();
    assert!(rep.audits_failed >= 3, "{rep:?}");
    if let Some(r) = reputation::Entity::find_by_id(offline_id.0.to_vec())
        .one(&net.network.satellite.db)
        .await
        .unwrap()
    {
        assert_eq!(
            r.audits_failed, 0,
            "offline audits counted as failures: {r:?}"
        );
        assert!(r.audits_offline > 0);
    }
    // Healthy nodes passed their audits.
    let good = net.network.node(1).unwrap().id();
    if let Some(r) = reputation::Entity::find_by_id(good.0.to_vec())
        .one(&net.network.satellite.db)
        .await
        .unwrap()
    {
        assert_eq!(r.audits_failed, 0, "{r:?}");
    }

    // The disqualified node's pieces count as lost: repair rebuilds them elsewhere.
    repair_until_healthy(&net).await;
    for segment in net.segments().await {
        if let Some(remote) = segment.remote() {
            assert!(
                !remote.pieces.contains_node(&bad_id),
                "segment {} still relies on the disqualified node",
                segment.key
            );
        }
    }
    for (key, data) in &objects {
        assert!(
            download(&project, "bkt", key).await == *data,
            "{key} differs"
        );
    }
    net.stop().await;
}
