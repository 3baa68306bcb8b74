//! Two satellite processes on one database share the background jobs: the segment loop
//! (and with it the repair checker and garbage collection) runs in one of them at a
//! time, and every repair job is done once.

use std::collections::HashSet;
use std::time::Duration;

use sea_orm::EntityTrait;
use tests::satellite::db::entities::repair_log;
use tests::{Options, TestNetwork, download, random_bytes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_satellite_processes_never_run_a_job_twice() {
    let mut net = TestNetwork::start_with(Options {
        nodes: 14,
        tweak: Box::new(|c| {
            c.checkin_interval = Duration::from_millis(500);
            c.satellite.node_online_window = Duration::from_secs(3);
            c.satellite.selection_refresh_interval = Duration::from_millis(300);
            c.satellite.gc.interval = Duration::ZERO;
            // Two lost pieces of a segment already call for repair.
            c.satellite.redundancy = "4/8/9/10".into();
        }),
    })
    .await;
    let project = net.project().await;
    project.create_bucket("bkt").await.unwrap();
    let mut objects = Vec::new();
    for i in 0..16 {
        let data = random_bytes(30_000 + i * 9_000);
        let key = format!("o{i}");
        project
            .upload("bkt", &key, &data[..], Default::default())
            .await
            .unwrap();
        objects.push((key, data));
    }
    // A second process on the same database and identity (another port).
    let mut config = net.network.config.satellite.clone();
    config.data_dir = net.dir().join("satellite");
    config.listen_addr = "127.0.0.1:0".into();
    let second = tests::satellite::start(config)
        .await
        .expect("second satellite starts");
    assert_eq!(second.id(), net.network.satellite.id());

    // Three nodes go: many segments need repair.
    for index in [2, 5, 11] {
        net.network.stop_node(index).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let first = &net.network.satellite;
    first.overlay.refresh().await.unwrap();
    second.overlay.refresh().await.unwrap();

    // Both try to run the loop at once: only one holds it.
    let (a, b) = tokio::join!(
        first.workers().trigger("segment-loop"),
        second.workers().trigger("segment-loop")
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let held_elsewhere = |s: &tests::uplink_core::background::WorkerStatus| {
        s.last_result.as_deref() == Some("another satellite process holds this job")
    };
    assert!(
        held_elsewhere(&a) != held_elsewhere(&b),
        "exactly one process runs the segment loop: {a:?} / {b:?}"
    );
    let queued = tests::satellite::repair::queue::length(&first.db)
        .await
        .unwrap();
    assert!(queued > 0, "nothing to repair");

    // Four repair workers in two processes race for the queue.
    loop {
        let (r0, r1, r2, r3) = tokio::join!(
            first.workers().trigger("repair-0"),
            first.workers().trigger("repair-1"),
            second.workers().trigger("repair-0"),
            second.workers().trigger("repair-1"),
        );
        for r in [r0, r1, r2, r3] {
            assert!(r.unwrap().last_error.is_none());
        }
        if tests::satellite::repair::queue::length(&first.db)
            .await
            .unwrap()
            == 0
        {
            break;
        }
    }
    let log = repair_log::Entity::find().all(&first.db).await.unwrap();
    assert_eq!(
        log.len() as u64,
        queued,
        "each queued segment is repaired exactly once"
    );
    // Every segment has distinct nodes and no more pieces than the scheme allows.
    for segment in net.segments().await {
        if let Some(remote) = segment.remote() {
            let nodes: HashSet<_> = remote.pieces.nodes().collect();
            assert_eq!(nodes.len(), remote.pieces.len());
            assert!(remote.pieces.len() <= remote.scheme.total as usize);
        }
    }
    for (key, data) in &objects {
        assert!(
            download(&project, "bkt", key).await == *data,
            "{key} differs"
        );
    }
    second.stop().await;
    net.stop().await;
}
