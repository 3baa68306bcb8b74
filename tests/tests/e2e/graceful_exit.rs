//! Graceful exit: two nodes leave while clients read and write; nothing is lost, the
//! nodes are told when they may shut down, and afterwards no segment needs them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tests::node_sim::node::exit::request_exit;
use tests::uplink_core::protocol::exit::ExitState;
use tests::{Options, TestNetwork, download, random_bytes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_exit_while_clients_read_and_write() {
    let mut net = TestNetwork::start_with(Options {
        nodes: 12,
        tweak: Box::new(|c| {
            c.checkin_interval = Duration::from_millis(500);
            c.satellite.node_online_window = Duration::from_secs(5);
            c.satellite.selection_refresh_interval = Duration::from_millis(300);
        }),
    })
    .await;
    let project = Arc::new(net.project().await);
    project.create_bucket("bkt").await.unwrap();
    let mut objects = Vec::new();
    for i in 0..10 {
        let data = random_bytes(50_000 + i * 30_000);
        let key = format!("before-{i}");
        project
            .upload("bkt", &key, &data[..], Default::default())
            .await
            .unwrap();
        objects.push((key, data));
    }
    let leaving = [2usize, 9];
    let ids: Vec<_> = leaving
        .iter()
        .map(|i| net.network.node(*i).unwrap().id())
        .collect();
    let identities: Vec<_> = leaving
        .iter()
        .map(|i| net.network.node(*i).unwrap().identity().clone())
        .collect();
    let satellite = net.network.satellite_url().clone();
    let transport = net.transport();

    // Clients keep reading and writing through the whole exit.
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let client = {
        let (project, stop, ops, objects) =
            (project.clone(), stop.clone(), ops.clone(), objects.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let (key, data) = &objects[i % objects.len()];
                assert!(
                    download(&project, "bkt", key).await == *data,
                    "{key} differs during the exit"
                );
                let fresh = random_bytes(40_000 + (i % 5) * 10_000);
                let key = format!("during-{i}");
                project
                    .upload("bkt", &key, &fresh[..], Default::default())
                    .await
                    .expect("upload during exit");
                assert!(download(&project, "bkt", &key).await == fresh);
                ops.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        })
    };

    for identity in &identities {
        let status = request_exit(identity, &satellite, &transport, true)
            .await
            .unwrap();
        assert_eq!(status.state, ExitState::InProgress, "{status:?}");
        assert!(!status.may_shut_down);
    }
    // A forged request (another node's key for the exiting node's id) is refused.
    let mut forged = tests::uplink_core::protocol::exit::ExitRequest::signed(
        &identities[0],
        satellite.id,
        false,
    );
    forged.node_id = net.network.node(1).unwrap().id();
    let url = transport
        .node_url(&satellite, tests::uplink_core::protocol::exit::EXIT_PATH)
        .unwrap();
    let resp = transport
        .http()
        .post(url)
        .json(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    let sat = &net.network.satellite;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        sat.workers().trigger("segment-loop").await.unwrap();
        for w in ["repair-0", "repair-1"] {
            sat.workers().trigger(w).await.unwrap();
        }
        let mut done = 0;
        for identity in &identities {
            let s = request_exit(identity, &satellite, &transport, false)
                .await
                .unwrap();
            if s.may_shut_down {
                assert_eq!(s.state, ExitState::Completed);
                done += 1;
            }
        }
        if done == identities.len() {
            break;
        }
        assert!(Instant::now() < deadline, "the exits did not complete");
    }
    stop.store(true, Ordering::Relaxed);
    client.await.expect("the client saw every byte right");
    assert!(ops.load(Ordering::Relaxed) > 0, "the client never ran");

    // No segment needs the exited nodes: stop them and everything still reads.
    for segment in net.segments().await {
        if let Some(remote) = segment.remote() {
            for id in &ids {
                assert!(
                    !remote.pieces.contains_node(id),
                    "segment {} still on an exited node",
                    segment.key
                );
            }
        }
    }
    for index in leaving {
        net.network.stop_node(index).await;
    }
    for (key, data) in &objects {
        assert!(
            download(&project, "bkt", key).await == *data,
            "{key} differs after the exit"
        );
    }
    net.stop().await;
}
