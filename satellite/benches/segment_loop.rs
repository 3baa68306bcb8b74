//! How fast one segment-loop pass goes at a realistic size, with the observers a
//! satellite runs (repair checker, garbage-collection filters, audit sampler, exit
//! progress): the pass bounds how quickly lost pieces are noticed, and how stale a
//! garbage-collection filter is.
//!
//! ```text
//! cargo bench -p satellite --bench segment_loop
//! SEGMENT_LOOP_DATABASE=postgres://user@127.0.0.1:5432/db cargo bench -p satellite --bench segment_loop
//! ```
//!
//! Settings from the environment: `SEGMENT_LOOP_SEGMENTS` (1000000),
//! `SEGMENT_LOOP_RUNS` (5), `SEGMENT_LOOP_DATABASE` (a fresh SQLite file; a PostgreSQL
//! database must be empty). It fills the database once (100 nodes, ten of them
//! offline; ten segments per object, ten pieces per segment on distinct nodes), then
//! times whole passes and prints each run and the median: wall-clock segments per
//! second, and CPU seconds per million segments of this process (the loop, the
//! observers and the embedded database; a PostgreSQL server's own CPU is not in it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use satellite::db::Db;
use satellite::db::entities::{node, object};
use satellite::metabase::{Piece, PieceSet, RemoteSegment, Segment, SegmentKey, segments};
use satellite::metrics::Metrics;
use satellite::overlay::{Overlay, OverlayConfig};
use satellite::segment_loop::{SegmentLoop, SegmentLoopConfig};
use sea_orm::{EntityTrait, Set, TransactionTrait};
use uplink_core::background::{Cancel, Worker, WorkerState};
use uplink_core::protocol::metainfo::Sealed;
use uplink_core::protocol::{Identity, NodeId, PieceId, RedundancyScheme, now_unix};
use uplink_core::resources::cpu_seconds;
use uplink_core::transport::{Mode, Transport};

const NODES: usize = 100;
const OFFLINE: usize = 10;
const SEGMENTS_PER_OBJECT: u64 = 10;
/// Segments per insert statement (well under SQLite's bound-parameter limit).
const BATCH: usize = 500;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn add_nodes(db: &Db) -> Vec<NodeId> {
    let now = now_unix();
    let mut ids = Vec::with_capacity(NODES);
    for i in 0..NODES {
        let id = NodeId::random();
        // Unreachable addresses: the garbage-collection filters are built in full and
        // their sending fails at once.
        node::Entity::insert(node::ActiveModel {
            id: Set(id.as_bytes().to_vec()),
            public_key: Set(vec![0; 32]),
            address: Set(format!("127.0.0.1:{}", 1 + i % 2)),
            last_net: Set(format!("10.{}.{}", i / 256, i % 256)),
            free_bytes: Set(1 << 40),
            used_bytes: Set(0),
            version: Set("bench".into()),
            created_at: Set(now - 86_400),
            last_contact_success: Set(if i < OFFLINE { now - 86_400 } else { now }),
            last_contact_failure: Set(None),
            vetted_at: Set(Some(now - 86_400)),
            disqualified_at: Set(None),
            suspended_at: Set(None),
            exit_initiated_at: Set(None),
        })
        .exec(db)
        .await
        .unwrap();
        ids.push(id);
    }
    ids
}

async fn fill(db: &Db, total: u64) {
    let nodes = add_nodes(db).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let scheme = RedundancyScheme::new(4, 6, 8, 10, 256 << 10).unwrap();
    let started = Instant::now();
    let mut done = 0u64;
    while done < total {
        let count = (total - done).min(BATCH as u64);
        let mut batch = Vec::with_capacity(count as usize);
        let mut objects = Vec::new();
        for i in done..done + count {
            let object_id = format!("{:08x}-0000-4000-8000-{:012x}", i / SEGMENTS_PER_OBJECT, 0);
            if i.is_multiple_of(SEGMENTS_PER_OBJECT) {
                objects.push(object_id.clone());
            }
            let holders: Vec<Piece> = nodes
                .choose_multiple(&mut rng, 10)
                .enumerate()
                .map(|(num, node)| Piece {
                    num: num as u16,
                    node: *node,
                })
                .collect();
            batch.push(Segment::new_remote(
                SegmentKey {
                    object_id,
                    position: uplink_core::protocol::SegmentPosition::single(
                        (i % SEGMENTS_PER_OBJECT) as u32,
                    ),
                },
                Sealed {
                    ciphertext: rng.r#gen::<[u8; 32]>().to_vec(),
                    nonce: vec![0; 12],
                },
                64 << 20,
                RemoteSegment {
                    root_piece_id: PieceId::random(),
                    scheme,
                    piece_size: 16 << 20,
                    pieces: PieceSet::new(holders).unwrap(),
                },
                now_unix() - 3_600,
                None,
            ));
        }
        let tx = db.connection().begin().await.unwrap();
        if !objects.is_empty() {
            object::Entity::insert_many(objects.iter().map(|id| object::ActiveModel {
                id: Set(id.clone()),
                project_id: Set("bench".into()),
                bucket_name: Set("bucket".into()),
                object_key: Set(id.as_bytes().to_vec()),
                status: Set(object::STATUS_COMMITTED),
                created_at: Set(0),
                committed_at: Set(Some(0)),
                expires_at: Set(None),
                zombie_deadline: Set(None),
                plain_size: Set((SEGMENTS_PER_OBJECT << 26) as i64),
                segment_count: Set(SEGMENTS_PER_OBJECT as i32),
                encrypted_metadata: Set(None),
                encrypted_metadata_nonce: Set(None),
            }))
            .exec(&tx)
            .await
            .unwrap();
        }
        segments::insert_many(&tx, &batch).await.unwrap();
        tx.commit().await.unwrap();
        done += count;
        if done.is_multiple_of(100_000) || done == total {
            eprintln!(
                "filled {done} segments ({:.0}/s)",
                done as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
}

struct Run {
    wall: Duration,
    cpu: f64,
    segments: u64,
    reported_rate: f64,
}

async fn pass(db: &Db, overlay: &Arc<Overlay>, identity: &Identity) -> Run {
    let metrics = Metrics::new();
    let transport = Transport::shared(Mode::PlainHttp);
    let gc = satellite::gc::GcConfig {
        // Every pass builds filters, as the first pass after the interval does.
        interval: Duration::ZERO,
        ..Default::default()
    };
    let queue = satellite::audit::AuditQueue::default();
    let mut segment_loop = SegmentLoop::new(
        db.clone(),
        overlay.clone(),
        SegmentLoopConfig::default(),
        vec![
            Box::new(satellite::repair::checker::Checker::new(
                db.clone(),
                metrics.clone(),
            )),
            Box::new(satellite::gc::GcObserver::new(
                db.clone(),
                identity.clone(),
                transport,
                gc,
                Duration::from_secs(3_600),
            )),
            Box::new(satellite::audit::Sampler::new(100, queue)),
            Box::new(satellite::exit::ExitObserver::new(db.clone())),
        ],
        metrics.clone(),
    );
    let cancel = Cancel::never();
    let cpu = cpu_seconds().unwrap_or(0.0);
    let started = Instant::now();
    let summary = loop {
        let (state, summary) = segment_loop.step(&cancel).await.expect("a step");
        if state == WorkerState::Idle {
            break summary.unwrap_or_default();
        }
    };
    let wall = started.elapsed();
    let cpu = cpu_seconds().unwrap_or(0.0) - cpu;
    // "pass of N segments (...) in M ms, R segments/s"
    let segments = summary
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let reported_rate = summary
        .rsplit(", ")
        .next()
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    Run {
        wall,
        cpu,
        segments,
        reported_rate,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument that is not this bench skips it.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with("--") && !"segment_loop".contains(a.as_str()))
    {
        return;
    }
    let total: u64 = env_or("SEGMENT_LOOP_SEGMENTS", 1_000_000);
    let runs: usize = env_or("SEGMENT_LOOP_RUNS", 5).max(1);
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("SEGMENT_LOOP_DATABASE")
        .unwrap_or_else(|_| format!("sqlite://{}?mode=rwc", dir.path().join("loop.db").display()));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = satellite::db::connect(&url).await.unwrap();
        let backend = if url.starts_with("sqlite") {
            "SQLite"
        } else {
            "PostgreSQL"
        };
        eprintln!("filling {backend} with {total} segments ...");
        fill(&db, total).await;
        let identity = Identity::generate(0);
        let overlay = Arc::new(
            Overlay::new(
                db.clone(),
                OverlayConfig {
                    online_window: Duration::from_secs(3_600),
                    new_node_fraction: 0.05,
                    identity_difficulty: 0,
                    checkin_ping: false,
                    max_clock_skew: Duration::from_secs(600),
                    transport: Mode::PlainHttp,
                },
                (identity.node_id(), identity.public_key()),
            )
            .await
            .unwrap(),
        );
        let mut rates = Vec::new();
        let mut cpu_per_million = Vec::new();
        for run in 1..=runs {
            let r = pass(&db, &overlay, &identity).await;
            assert_eq!(r.segments, total, "a pass saw every segment");
            let rate = r.segments as f64 / r.wall.as_secs_f64();
            let cpu = r.cpu / (r.segments as f64 / 1e6);
            println!(
                "segment_loop {backend} run {run}: {} segments in {:.2} s = {rate:.0} segments/s \
                 ({:.0}/s before the observers' finish), {cpu:.2} CPU s per million",
                r.segments,
                r.wall.as_secs_f64(),
                r.reported_rate
            );
            rates.push(rate);
            cpu_per_million.push(cpu);
        }
        println!(
            "segment_loop {backend} median of {runs}: {:.0} segments/s, {:.2} CPU s per million segments",
            median(rates),
            median(cpu_per_million)
        );
    });
}
