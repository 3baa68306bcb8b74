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

/// Exit requests as an attacker or a confused node sends them: stale, for another
/// satellite, from an unknown node, malformed, or replayed many times at once. None
/// starts an exit it should not; a replayed start starts exactly one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_misdirected_malformed_and_replayed_exit_requests() {
    use sea_orm::{EntityTrait, PaginatorTrait};
    use tests::satellite::db::entities::{graceful_exit, node};
    use tests::uplink_core::protocol::exit::{EXIT_PATH, ExitRequest, ExitStatus};
    use tests::uplink_core::protocol::identity::Identity;

    let net = TestNetwork::start_with(Options {
        nodes: 4,
        ..Default::default()
    })
    .await;
    let satellite = net.network.satellite_url().clone();
    let transport = net.transport();
    let url = transport.node_url(&satellite, EXIT_PATH).unwrap();
    let db = &net.network.satellite.db;
    let identity = net.network.node(1).unwrap().identity().clone();
    let send = |body: String| {
        let http = transport.http().clone();
        let url = url.clone();
        async move {
            let resp = http
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap())
        }
    };
    let signed = |mut req: ExitRequest| {
        req.signature = identity.sign(&req);
        serde_json::to_string(&req).unwrap()
    };
    let exiting = || async {
        node::Entity::find_by_id(identity.node_id().0.to_vec())
            .one(db)
            .await
            .unwrap()
            .unwrap()
            .exit_initiated_at
    };

    // Signed by the node, but an hour old (a captured request replayed later).
    let mut stale = ExitRequest::signed(&identity, satellite.id, true);
    stale.timestamp -= 3600;
    let (status, body) = send(signed(stale)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("timestamp"), "{body}");
    // Signed by the node, for another satellite.
    let mut elsewhere = ExitRequest::signed(&identity, satellite.id, true);
    elsewhere.satellite_id = Identity::generate(0).node_id();
    let (status, body) = send(signed(elsewhere)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("another satellite"), "{body}");
    // A node the satellite never met.
    let stranger = Identity::generate(0);
    let req = ExitRequest::signed(&stranger, satellite.id, true);
    let (status, body) = send(serde_json::to_string(&req).unwrap()).await;
    assert_eq!(status, 404, "{body}");
    // Malformed bodies.
    for bad in [
        "".to_string(),
        "{".to_string(),
        "{}".to_string(),
        r#"{"node_id": 7}"#.to_string(),
        "\u{0}".repeat(100),
    ] {
        let (status, body) = send(bad.clone()).await;
        assert_eq!(status, 400, "{bad:?}: {body}");
    }
    assert_eq!(exiting().await, None, "a refused request started an exit");
    assert_eq!(graceful_exit::Entity::find().count(db).await.unwrap(), 0);

    // One genuine start, replayed by twenty clients at once: one exit, and every
    // answer says it is in progress.
    let start = signed(ExitRequest::signed(&identity, satellite.id, true));
    let answers = futures::future::join_all((0..20).map(|_| send(start.clone()))).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        let s: ExitStatus = serde_json::from_str(body).unwrap();
        assert_eq!(s.state, ExitState::InProgress, "{s:?}");
    }
    let began = exiting().await.expect("the exit started");
    assert_eq!(graceful_exit::Entity::find().count(db).await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _) = send(start).await;
    assert_eq!(status, 200);
    assert_eq!(
        exiting().await,
        Some(began),
        "a replay moved the exit's start"
    );
    // The other nodes were never touched.
    for i in 2..=4 {
        let id = net.network.node(i).unwrap().id();
        let row = node::Entity::find_by_id(id.0.to_vec())
            .one(db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.exit_initiated_at, None);
    }
    net.stop().await;
}
