//! What a limit check costs as a project grows: the usage aggregate runs on every
//! begin-object and begin-segment, so it must stay cheap at realistic sizes.
//!
//! `cargo bench -p satellite --bench accounting`

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use satellite::db::Db;
use satellite::db::entities::{object, segment};
use sea_orm::{EntityTrait, Set};

const BATCH: usize = 500;

async fn fill(db: &Db, project: &str, objects: usize) {
    for start in (0..objects).step_by(BATCH) {
        let end = (start + BATCH).min(objects);
        let ids: Vec<String> = (start..end).map(|i| format!("{project}-{i:09}")).collect();
        object::Entity::insert_many(ids.iter().map(|id| object::ActiveModel {
            id: Set(id.clone()),
            project_id: Set(project.to_string()),
            bucket_name: Set("bucket".into()),
            object_key: Set(id.as_bytes().to_vec()),
            status: Set(object::STATUS_COMMITTED),
            created_at: Set(0),
            committed_at: Set(Some(0)),
            expires_at: Set(None),
            zombie_deadline: Set(None),
            plain_size: Set(1 << 20),
            segment_count: Set(1),
            encrypted_metadata: Set(None),
            encrypted_metadata_nonce: Set(None),
        }))
        .exec(db)
        .await
        .unwrap();
        segment::Entity::insert_many(ids.iter().map(|id| segment::ActiveModel {
            object_id: Set(id.clone()),
            position: Set(0),
            root_piece_id: Set(Some(vec![0; 32])),
            encrypted_key: Set(vec![0; 48]),
            encrypted_key_nonce: Set(vec![0; 12]),
            plain_offset: Set(0),
            plain_size: Set(1 << 20),
            piece_size: Set(1 << 18),
            rs_k: Set(4),
            rs_repair: Set(6),
            rs_optimal: Set(8),
            rs_total: Set(10),
            rs_share_size: Set(1024),
            inline_data: Set(None),
            pieces: Set(vec![0; 400]),
            created_at: Set(0),
            expires_at: Set(None),
            repaired_at: Set(None),
            encrypted_etag: Set(None),
            encrypted_etag_nonce: Set(None),
        }))
        .exec(db)
        .await
        .unwrap();
        let n = (end - start) as i64;
        satellite::accounting::adjust(db, project, n << 20, n)
            .await
            .unwrap();
    }
}

fn usage(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let db = rt.block_on(satellite::db::connect(&url)).unwrap();
    let mut group = c.benchmark_group("usage_sqlite");
    group.sample_size(20);
    for objects in [1_000, 10_000, 100_000] {
        let project = format!("p{objects}");
        rt.block_on(fill(&db, &project, objects));
        let limits = satellite::config::ProjectLimits::default();
        group.bench_with_input(
            BenchmarkId::new("limit_check", objects),
            &project,
            |b, p| {
                b.iter(|| {
                    rt.block_on(satellite::accounting::check_upload(&db, p, &limits))
                        .unwrap()
                });
            },
        );
        group.bench_with_input(BenchmarkId::new("recount", objects), &project, |b, p| {
            b.iter(|| {
                rt.block_on(satellite::accounting::measured_usage(&db, p))
                    .unwrap()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, usage);
criterion_main!(benches);
