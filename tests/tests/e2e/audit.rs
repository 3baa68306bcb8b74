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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_node_is_contained_reverified_after_an_interval_and_released_or_failed() {
    use tests::faults::slow;
    use tests::satellite::db::entities::containment;
    let mut options = audited(10);
    let base = std::mem::replace(&mut options.tweak, Box::new(|_| {}));
    options.tweak = Box::new(move |c| {
        base(c);
        c.satellite.redundancy = "3/5/7/8".into();
        c.satellite.audit.piece_timeout = Duration::from_millis(700);
        c.satellite.audit.max_reverifications = 2;
        c.satellite.audit.reverify_interval = Duration::from_secs(3);
        // The slow links delay check-ins too: no node may look offline here.
        c.satellite.node_online_window = Duration::from_secs(60);
    });
    let net = TestNetwork::start_with(options).await;
    let project = net.project().await;
    project.create_bucket("bkt").await.unwrap();
    for i in 0..8 {
        let data = random_bytes(40_000 + i * 5_000);
        project
            .upload("bkt", &format!("o{i}"), &data[..], Default::default())
            .await
            .unwrap();
    }
    let pieces_on = |id: tests::uplink_core::protocol::NodeId| {
        let net = &net;
        async move {
            net.segments()
                .await
                .iter()
                .filter(|s| s.remote().is_some_and(|r| r.pieces.contains_node(&id)))
                .count()
        }
    };
    // Two nodes that hold pieces of several segments answer far too slowly.
    let (recovers, stays) = (2, 6);
    let (recovers_id, stays_id) = (
        net.network.node(recovers).unwrap().id(),
        net.network.node(stays).unwrap().id(),
    );
    assert!(pieces_on(recovers_id).await >= 2 && pieces_on(stays_id).await >= 2);
    for index in [recovers, stays] {
        net.set_faults(index, slow(Duration::from_millis(1500), 1 << 30))
            .await;
    }
    let contained = |id: tests::uplink_core::protocol::NodeId| {
        let db = net.network.satellite.db.clone();
        async move {
            containment::Entity::find_by_id(id.0.to_vec())
                .one(&db)
                .await
                .unwrap()
        }
    };
    let reputation_of = |id: tests::uplink_core::protocol::NodeId| {
        let db = net.network.satellite.db.clone();
        async move {
            reputation::Entity::find_by_id(id.0.to_vec())
                .one(&db)
                .await
                .unwrap()
                .expect("audited")
        }
    };

    // One pass: each slow node times out once and is contained; its other audits of
    // the pass are skipped, not counted again.
    audit_round(&net).await;
    for id in [recovers_id, stays_id] {
        let row = contained(id).await.expect("contained after a timeout");
        assert_eq!(row.attempts, 1);
        let r = reputation_of(id).await;
        assert_eq!((r.audits_unknown, r.audits_failed), (1, 0), "{r:?}");
    }
    // Within the interval nothing is asked again.
    audit_round(&net).await;
    for id in [recovers_id, stays_id] {
        assert_eq!(contained(id).await.unwrap().attempts, 1);
        assert_eq!(reputation_of(id).await.audits_unknown, 1);
    }

    // One recovers; after the interval it answers and is released without a failure.
    net.clear_faults(recovers).await;
    tokio::time::sleep(Duration::from_millis(4200)).await;
    audit_round(&net).await;
    assert!(contained(recovers_id).await.is_none(), "released");
    let r = reputation_of(recovers_id).await;
    assert_eq!(r.audits_failed, 0, "{r:?}");
    assert!(r.audits_success > 0, "{r:?}");
    // The other timed out again (attempt 2 of 2); the next timeout is a failure.
    assert_eq!(contained(stays_id).await.unwrap().attempts, 2);
    assert_eq!(reputation_of(stays_id).await.audits_failed, 0);
    tokio::time::sleep(Duration::from_millis(4200)).await;
    audit_round(&net).await;
    let r = reputation_of(stays_id).await;
    assert!(r.audits_failed >= 1, "{r:?}");
    assert!(
        row(&net, &recovers_id).await.disqualified_at.is_none(),
        "the node that recovered was disqualified"
    );
    net.stop().await;
}
