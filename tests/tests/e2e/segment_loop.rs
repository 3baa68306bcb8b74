//! The segment loop's paging on the configured database (SQLite, or PostgreSQL with
//! `TEST_DATABASE_URL`): every segment exactly once and in order, across page
//! boundaries inside one object, and each page read as an index range rather than a
//! scan from the start (a scan makes a pass quadratic in the number of segments: at a
//! million segments on PostgreSQL a pass did not finish in ten minutes).

use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement};
use tests::satellite::db::entities::object;
use tests::satellite::metabase::{Piece, PieceSet, RemoteSegment, Segment, SegmentKey, segments};
use tests::uplink_core::protocol::metainfo::Sealed;
use tests::uplink_core::protocol::{NodeId, PieceId, RedundancyScheme};

const OBJECTS: usize = 300;

/// Objects with 1 to 40 segments each.
async fn fill(db: &tests::satellite::db::Db) -> Vec<SegmentKey> {
    use sea_orm::{EntityTrait, Set};
    let scheme = RedundancyScheme::new(2, 3, 4, 5, 1024).unwrap();
    let nodes: Vec<NodeId> = (0..5).map(|_| NodeId::random()).collect();
    let mut keys = Vec::new();
    for o in 0..OBJECTS {
        let id = format!("{o:08x}-0000-4000-8000-000000000000");
        object::Entity::insert(object::ActiveModel {
            id: Set(id.clone()),
            project_id: Set("p".into()),
            bucket_name: Set("b".into()),
            object_key: Set(id.as_bytes().to_vec()),
            status: Set(object::STATUS_COMMITTED),
            created_at: Set(0),
            committed_at: Set(Some(0)),
            expires_at: Set(None),
            zombie_deadline: Set(None),
            plain_size: Set(0),
            segment_count: Set(0),
            encrypted_metadata: Set(None),
            encrypted_metadata_nonce: Set(None),
        })
        .exec(db)
        .await
        .unwrap();
        let batch: Vec<Segment> = (0..1 + (o * 7) % 40)
            .map(|position| {
                let key = SegmentKey {
                    object_id: id.clone(),
                    position: tests::uplink_core::protocol::SegmentPosition::single(
                        position as u32,
                    ),
                };
                keys.push(key.clone());
                Segment::new_remote(
                    key,
                    Sealed {
                        ciphertext: vec![1; 32],
                        nonce: vec![0; 12],
                    },
                    1024,
                    RemoteSegment {
                        root_piece_id: PieceId::random(),
                        scheme,
                        piece_size: 512,
                        pieces: PieceSet::new(
                            nodes
                                .iter()
                                .enumerate()
                                .map(|(num, node)| Piece {
                                    num: num as u16,
                                    node: *node,
                                })
                                .collect(),
                        )
                        .unwrap(),
                    },
                    0,
                    None,
                )
            })
            .collect();
        segments::insert_many(db, &batch).await.unwrap();
    }
    keys.sort();
    keys
}

/// The database's plan for one page after `after`, as text.
async fn plan(db: &tests::satellite::db::Db, after: &SegmentKey) -> String {
    let backend = db.get_database_backend();
    let query = segments::page_query(Some(after), 100).build(backend);
    let explain = match backend {
        DbBackend::Sqlite => "EXPLAIN QUERY PLAN",
        _ => "EXPLAIN",
    };
    let statement = Statement::from_sql_and_values(
        backend,
        format!("{explain} {}", query.sql),
        query.values.map(|v| v.0).unwrap_or_default(),
    );
    let column = match backend {
        DbBackend::Sqlite => "detail",
        _ => "QUERY PLAN",
    };
    db.query_all(statement)
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", column).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn segment_pages_read_an_index_range_and_see_every_segment_once() {
    let (db, _dir) = tests::test_database().await;
    let expected = fill(&db).await;
    assert!(expected.len() > 5000, "{}", expected.len());

    // Pages of 97 (a prime: boundaries fall inside objects) see each key once, in order.
    let mut seen = Vec::new();
    let mut cursor: Option<SegmentKey> = None;
    loop {
        let page = segments::page(&db, cursor.as_ref(), 97).await.unwrap();
        let done = page.len() < 97;
        for s in page {
            seen.push(s.unwrap().key);
        }
        cursor = seen.last().cloned();
        if done {
            break;
        }
    }
    assert_eq!(seen, expected);

    // A page from the middle is an index range.
    let middle = &expected[expected.len() / 2];
    let plan = plan(&db, middle).await;
    match db.get_database_backend() {
        DbBackend::Sqlite => assert!(
            plan.contains("SEARCH segments USING") && plan.contains("object_id>"),
            "{plan}"
        ),
        _ => assert!(
            plan.contains("Index Cond") && plan.contains("object_id"),
            "{plan}"
        ),
    }
}
