//! The network as an operator runs it for a while: clients upload and read without
//! pause, nodes leave for good and new ones join, one node corrupts everything it
//! serves, and the satellite's workers run on their own schedule (nothing here
//! triggers them until the end). Nothing acknowledged may be lost, no read may return
//! wrong bytes, and the corrupting node must be caught by audits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::Rng;
use sea_orm::EntityTrait;
use tests::faults::corrupting_reads;
use tests::satellite::db::entities::node;
use tests::{Options, TestNetwork, download, random_bytes, seeded_rng};

use crate::repair::repair_until_healthy;

/// What the clients were told was stored: key and bytes.
type Acknowledged = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

#[derive(Default)]
struct Tally {
    uploads: AtomicU64,
    upload_errors: AtomicU64,
    reads: AtomicU64,
    read_errors: AtomicU64,
    wrong_bytes: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_keep_every_acknowledged_object_through_churn_and_corruption() {
    let mut net = TestNetwork::start_with(Options {
        nodes: 16,
        tweak: Box::new(|c| {
            c.checkin_interval = Duration::from_millis(500);
            let s = &mut c.satellite;
            s.node_online_window = Duration::from_secs(3);
            s.selection_refresh_interval = Duration::from_millis(500);
            // The workers find their work by themselves, quickly.
            s.segment_loop.interval = Duration::from_secs(1);
            s.repair.checker_interval = Duration::from_secs(1);
            s.repair.piece_timeout = Duration::from_secs(5);
            s.audit.segments_per_pass = 30;
            s.audit.piece_timeout = Duration::from_secs(3);
        }),
    })
    .await;
    let mut rng = seeded_rng("keeping under churn");
    let project = Arc::new(net.project().await);
    project.create_bucket("bkt").await.unwrap();
    let acknowledged: Acknowledged = Arc::default();
    for i in 0..12 {
        let data = random_bytes(rng.gen_range(20_000..300_000));
        let key = format!("seed-{i}");
        project
            .upload("bkt", &key, &data[..], Default::default())
            .await
            .unwrap();
        acknowledged.lock().push((key, data));
    }

    // One node corrupts every piece it serves, from now on.
    let corrupt = 5;
    let corrupt_id = net.network.node(corrupt).unwrap().id();
    net.set_faults(corrupt, corrupting_reads(1.0, rng.r#gen()))
        .await;

    // Three clients: each uploads a new object, then reads back a random acknowledged
    // one, over and over.
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let clients: Vec<_> = (0..3)
        .map(|c| {
            let (project, stop, tally, acknowledged) = (
                project.clone(),
                stop.clone(),
                tally.clone(),
                acknowledged.clone(),
            );
            let mut rng = seeded_rng(&format!("client {c}"));
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let data = random_bytes(rng.gen_range(1_000..250_000));
                    let key = format!("c{c}-{n}");
                    n += 1;
                    match project
                        .upload("bkt", &key, &data[..], Default::default())
                        .await
                    {
                        Ok(_) => {
                            tally.uploads.fetch_add(1, Ordering::Relaxed);
                            acknowledged.lock().push((key, data));
                        }
                        Err(e) => {
                            eprintln!("client {c}: upload of {key} failed: {e}");
                            tally.upload_errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    let (key, want) = {
                        let all = acknowledged.lock();
                        all[rng.gen_range(0..all.len())].clone()
                    };
                    let mut got = Vec::new();
                    match project.download("bkt", &key, None, &mut got, None).await {
                        Ok(_) if got == want => {
                            tally.reads.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {
                            eprintln!("client {c}: {key} came back with wrong bytes");
                            tally.wrong_bytes.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            eprintln!("client {c}: reading {key} failed: {e}");
                            tally.read_errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();

    // Churn: every 3 s a node leaves for good or a new one joins; six of the first
    // sixteen go (never the corrupting one: audits must catch it).
    let mut leavers: Vec<usize> = (1..=16).filter(|i| *i != corrupt).collect();
    let started = Instant::now();
    for step in 0..12 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        if step % 2 == 0 {
            let index = leavers.swap_remove(rng.gen_range(0..leavers.len()));
            net.network.remove_node(index).await.unwrap();
        } else {
            net.network.add_node().await.unwrap();
        }
    }
    // The workers keep going a little longer on their own, then the clients stop.
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.expect("a client panicked");
    }
    let elapsed = started.elapsed();
    let t = |a: &AtomicU64| a.load(Ordering::Relaxed);
    eprintln!(
        "{:.0} s: {} uploads ({} failed), {} reads ({} failed, {} wrong)",
        elapsed.as_secs_f64(),
        t(&tally.uploads),
        t(&tally.upload_errors),
        t(&tally.reads),
        t(&tally.read_errors),
        t(&tally.wrong_bytes)
    );
    assert_eq!(t(&tally.wrong_bytes), 0, "a read returned wrong bytes");
    assert_eq!(
        t(&tally.read_errors),
        0,
        "reads of acknowledged objects failed"
    );
    assert!(t(&tally.uploads) >= 10, "the clients hardly ran");
    assert!(
        t(&tally.upload_errors) * 10 <= t(&tally.uploads),
        "more than one upload in ten failed"
    );

    // Audits running on their own caught the corrupting node, and no other.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = node::Entity::find()
            .all(&net.network.satellite.db)
            .await
            .unwrap();
        let disqualified: Vec<_> = rows
            .iter()
            .filter(|r| r.disqualified_at.is_some())
            .map(|r| r.id.clone())
            .collect();
        if disqualified == vec![corrupt_id.as_bytes().to_vec()] {
            break;
        }
        assert!(
            disqualified.is_empty(),
            "disqualified other nodes: {disqualified:?}"
        );
        assert!(
            Instant::now() < deadline,
            "audits did not disqualify the corrupting node"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Then everything is brought back and every acknowledged object reads back whole.
    let report = repair_until_healthy(&net).await;
    assert_eq!(report.lost, 0);
    let all = acknowledged.lock().clone();
    for (key, data) in &all {
        assert!(
            download(&project, "bkt", key).await == *data,
            "{key} differs"
        );
    }
    net.stop().await;
}
