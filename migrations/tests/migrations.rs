//! The migrations against real SQLite and PostgreSQL: every step up on a fresh database
//! and every step down again, leaving exactly the schema of the step before; and the
//! usage-counter migration on a database that already holds data, as an upgrade meets it.
//!
//! The PostgreSQL variants need a server (`TEST_DATABASE_URL`, any database on it; each
//! test creates its own). They are ignored by a plain `cargo test` and run explicitly by
//! `scripts/test-all.sh`, which starts one; run without the variable they fail.

use std::collections::{BTreeMap, BTreeSet};

use migrations::{Migrator, MigratorTrait};
use sea_orm_migration::sea_orm::sea_query::{Alias, Query};
use sea_orm_migration::sea_orm::{
    ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, Statement, Value,
};

const NEEDS_POSTGRES: &str = "TEST_DATABASE_URL must name a PostgreSQL server \
     (e.g. postgres://user:pass@127.0.0.1:5432/postgres); scripts/test-all.sh starts one";

/// A database that lives as long as the value.
struct TestDb {
    db: DatabaseConnection,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("sat.db").display());
    let db = Database::connect(url.as_str()).await.expect("SQLite opens");
    TestDb {
        db,
        _dir: Some(dir),
    }
}

/// A new, empty database on the server `TEST_DATABASE_URL` names.
async fn postgres() -> TestDb {
    let admin_url = std::env::var("TEST_DATABASE_URL").expect(NEEDS_POSTGRES);
    let admin = Database::connect(admin_url.as_str())
        .await
        .unwrap_or_else(|e| panic!("{NEEDS_POSTGRES}: cannot connect ({e})"));
    let name = format!("migrations_test_{}_{:x}", std::process::id(), rand_suffix());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("CREATE DATABASE");
    let _ = admin.close().await;
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin_url.as_str(), String::new()),
    };
    let (server, _) = base.rsplit_once('/').expect("URL with a database path");
    let db = Database::connect(format!("{server}/{name}{query}").as_str())
        .await
        .expect("the new database opens");
    TestDb { db, _dir: None }
}

/// Distinguishes databases of tests running at once in one process.
fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    (nanos << 8) | NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Tables with their columns (`name:type`), and index names: what a migration step
/// changes.
#[derive(Debug, Default, PartialEq, Eq)]
struct Schema {
    tables: BTreeMap<String, BTreeSet<String>>,
    indexes: BTreeSet<String>,
}

async fn strings(db: &DatabaseConnection, sql: &str) -> Vec<Vec<String>> {
    let rows = db
        .query_all(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.iter()
        .map(|row| {
            (0..)
                .map_while(|i| row.try_get_by_index::<String>(i).ok())
                .collect()
        })
        .collect()
}

/// The schema, without the migration bookkeeping table.
async fn schema(db: &DatabaseConnection) -> Schema {
    let mut out = Schema::default();
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            let tables = strings(
                db,
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations'",
            )
            .await;
            for t in tables {
                let columns = strings(
                    db,
                    &format!(
                        "SELECT name, lower(type) FROM pragma_table_info('{}')",
                        t[0]
                    ),
                )
                .await;
                out.tables.insert(
                    t[0].clone(),
                    columns
                        .into_iter()
                        .map(|c| format!("{}:{}", c[0], c[1]))
                        .collect(),
                );
            }
            for i in strings(
                db,
                "SELECT name FROM sqlite_master WHERE type = 'index' \
                 AND name NOT LIKE 'sqlite_%' AND tbl_name <> 'seaql_migrations'",
            )
            .await
            {
                out.indexes.insert(i[0].clone());
            }
        }
        DatabaseBackend::Postgres => {
            for row in strings(
                db,
                "SELECT table_name::text, column_name::text, data_type::text \
                 FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name <> 'seaql_migrations'",
            )
            .await
            {
                out.tables
                    .entry(row[0].clone())
                    .or_default()
                    .insert(format!("{}:{}", row[1], row[2]));
            }
            for i in strings(
                db,
                "SELECT indexname::text FROM pg_indexes \
                 WHERE schemaname = current_schema() AND tablename <> 'seaql_migrations'",
            )
            .await
            {
                out.indexes.insert(i[0].clone());
            }
        }
        other => panic!("no schema query for {other:?}"),
    }
    out
}

/// Migrations that only change column types.
const TYPE_ONLY: &[&str] = &["m20261203_000008_segment_parts"];

/// Every migration, one step at a time, up and then down: each step down restores
/// exactly the schema that step up started from, and the database ends empty.
async fn each_step_up_and_down(db: &DatabaseConnection) {
    let steps = Migrator::migrations().len();
    assert_eq!(schema(db).await, Schema::default(), "a fresh database");
    let mut before = vec![];
    for step in 0..steps {
        let now = schema(db).await;
        Migrator::up(db, Some(1)).await.unwrap_or_else(|e| {
            panic!("migration {step} up: {e}");
        });
        let after = schema(db).await;
        let name = Migrator::migrations()[step].name().to_string();
        // Widening a column is a no-op on SQLite, whose integers are all 64-bit.
        let type_only = TYPE_ONLY.contains(&name.as_str());
        if !(type_only && db.get_database_backend() == DatabaseBackend::Sqlite) {
            assert_ne!(now, after, "migration {step} ({name}) up changed nothing");
        }
        before.push(now);
    }
    assert!(
        Migrator::get_pending_migrations(db)
            .await
            .unwrap()
            .is_empty(),
        "all applied"
    );
    // The tables the satellite's entities use all exist.
    let full = schema(db).await;
    for table in [
        "projects",
        "api_keys",
        "buckets",
        "objects",
        "segments",
        "nodes",
        "piece_deletions",
        "users",
        "sessions",
        "login_failures",
        "project_members",
        "revocations",
        "project_egress",
        "project_usage",
        "leases",
        "repair_queue",
        "reputations",
        "containment",
        "graceful_exits",
        "service_reports",
        "repair_log",
    ] {
        assert!(full.tables.contains_key(table), "{table} missing: {full:?}");
    }
    for step in (0..steps).rev() {
        Migrator::down(db, Some(1)).await.unwrap_or_else(|e| {
            panic!("migration {step} down: {e}");
        });
        assert_eq!(
            schema(db).await,
            before[step],
            "migration {step} down did not restore the schema before it"
        );
    }
    assert_eq!(schema(db).await, Schema::default(), "everything is gone");
    // And a database that went all the way down can go up again.
    Migrator::up(db, None).await.expect("up again after down");
    assert_eq!(schema(db).await, full);
}

/// The position of the usage-counter migration in the list.
fn usage_counters_step() -> usize {
    Migrator::migrations()
        .iter()
        .position(|m| m.name().ends_with("_usage_counters"))
        .expect("the usage-counter migration exists")
}

const PENDING: i16 = 1;
const COMMITTED: i16 = 2;

async fn insert(db: &DatabaseConnection, table: &str, row: &[(&str, Value)]) {
    let mut q = Query::insert();
    q.into_table(Alias::new(table))
        .columns(row.iter().map(|(c, _)| Alias::new(*c)))
        .values_panic(row.iter().map(|(_, v)| v.clone().into()));
    let stmt = db.get_database_backend().build(&q);
    db.execute(stmt)
        .await
        .unwrap_or_else(|e| panic!("insert into {table}: {e}"));
}

/// A segment row with the columns the schema had before the counters; remote when
/// `inline` is false.
async fn segment(db: &DatabaseConnection, object: &str, position: i32, size: i64, inline: bool) {
    insert(
        db,
        "segments",
        &[
            ("object_id", object.into()),
            ("position", position.into()),
            (
                "root_piece_id",
                (!inline).then(|| vec![position as u8; 32]).into(),
            ),
            ("encrypted_key", vec![1u8; 48].into()),
            ("encrypted_key_nonce", vec![2u8; 12].into()),
            ("plain_offset", (i64::from(position) * 1000).into()),
            ("plain_size", size.into()),
            ("piece_size", (size / 4 + 1).into()),
            ("rs_k", 4i16.into()),
            ("rs_repair", 6i16.into()),
            ("rs_optimal", 8i16.into()),
            ("rs_total", 10i16.into()),
            ("rs_share_size", 1024i32.into()),
            (
                "inline_data",
                inline.then(|| vec![3u8; size as usize + 16]).into(),
            ),
            ("pieces", vec![0u8; 4].into()),
            ("created_at", 1_700_000_000i64.into()),
        ],
    )
    .await;
}

async fn object(db: &DatabaseConnection, id: &str, project: &str, bucket: &str, status: i16) {
    insert(
        db,
        "objects",
        &[
            ("id", id.into()),
            ("project_id", project.into()),
            ("bucket_name", bucket.into()),
            ("object_key", id.as_bytes().to_vec().into()),
            ("status", status.into()),
            ("created_at", 1_700_000_000i64.into()),
            ("plain_size", 0i64.into()),
            ("segment_count", 0i32.into()),
        ],
    )
    .await;
}

async fn project(db: &DatabaseConnection, id: &str, buckets: &[&str]) {
    insert(
        db,
        "projects",
        &[
            ("id", id.into()),
            ("name", id.into()),
            ("salt", vec![0u8; 32].into()),
            ("created_at", 1_700_000_000i64.into()),
        ],
    )
    .await;
    for b in buckets {
        insert(
            db,
            "buckets",
            &[
                ("project_id", id.into()),
                ("name", (*b).into()),
                ("created_at", 1_700_000_000i64.into()),
            ],
        )
        .await;
    }
}

/// `project_usage` as (project, storage bytes, segments).
async fn counters(db: &DatabaseConnection) -> BTreeMap<String, (i64, i64)> {
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT project_id, storage_bytes, segments FROM project_usage",
        ))
        .await
        .expect("project_usage readable");
    rows.iter()
        .map(|r| {
            (
                r.try_get_by_index::<String>(0).unwrap(),
                (
                    r.try_get_by_index::<i64>(1).unwrap(),
                    r.try_get_by_index::<i64>(2).unwrap(),
                ),
            )
        })
        .collect()
}

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// An upgrade of a database that already holds objects: the counters start at what the
/// segments add up to, per project, pending uploads' segments included.
async fn usage_counters_are_backfilled(db: &DatabaseConnection) {
    let step = usage_counters_step();
    Migrator::up(db, Some(step as u32))
        .await
        .expect("the migrations before the counters");
    assert!(!schema(db).await.tables.contains_key("project_usage"));

    // Project a: two buckets, a committed three-segment object (two remote, one short
    // remote), an inline object, and a pending upload with one committed segment.
    project(db, "a", &["one", "two"]).await;
    object(db, "a-big", "a", "one", COMMITTED).await;
    segment(db, "a-big", 0, 262_144, false).await;
    segment(db, "a-big", 1, 262_144, false).await;
    segment(db, "a-big", 2, 12_345, false).await;
    object(db, "a-inline", "a", "two", COMMITTED).await;
    segment(db, "a-inline", 0, 100, true).await;
    object(db, "a-pending", "a", "two", PENDING).await;
    segment(db, "a-pending", 0, 5_000, false).await;
    // Project b: one remote object; an empty object, which has no segment.
    project(db, "b", &["b1"]).await;
    object(db, "b-obj", "b", "b1", COMMITTED).await;
    segment(db, "b-obj", 0, 77_777, false).await;
    object(db, "b-empty", "b", "b1", COMMITTED).await;
    // Project c: a bucket and nothing in it.
    project(db, "c", &["empty"]).await;

    Migrator::up(db, Some(1))
        .await
        .expect("the counter migration");
    let expected: BTreeMap<String, (i64, i64)> = [
        ("a".to_string(), (262_144 * 2 + 12_345 + 100 + 5_000, 5)),
        ("b".to_string(), (77_777, 1)),
    ]
    .into();
    let got = counters(db).await;
    // A project without segments has no row, which reads as zero.
    assert_eq!(
        got.iter()
            .filter(|(_, v)| **v != (0, 0))
            .map(|(k, v)| (k.clone(), *v))
            .collect::<BTreeMap<_, _>>(),
        expected
    );
    assert!(got.get("c").is_none_or(|v| *v == (0, 0)), "{got:?}");

    // Down drops the counters and nothing else; up again fills them the same way.
    Migrator::down(db, Some(1))
        .await
        .expect("the counter migration down");
    assert!(!schema(db).await.tables.contains_key("project_usage"));
    assert_eq!(count(db, "segments").await, 6);
    assert_eq!(count(db, "objects").await, 5);
    Migrator::up(db, Some(1)).await.expect("up again");
    assert_eq!(counters(db).await, got);
    // The rest of the migrations apply on top of the data too.
    Migrator::up(db, None).await.expect("the later migrations");
    assert_eq!(counters(db).await, got);
}

#[tokio::test]
async fn sqlite_every_migration_goes_up_and_down() {
    each_step_up_and_down(&sqlite().await.db).await;
}

#[tokio::test]
async fn sqlite_usage_counters_are_backfilled_from_existing_segments() {
    usage_counters_are_backfilled(&sqlite().await.db).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL (scripts/test-all.sh runs it with one)"]
async fn postgres_every_migration_goes_up_and_down() {
    each_step_up_and_down(&postgres().await.db).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL (scripts/test-all.sh runs it with one)"]
async fn postgres_usage_counters_are_backfilled_from_existing_segments() {
    usage_counters_are_backfilled(&postgres().await.db).await;
}
