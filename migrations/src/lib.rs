//! The satellite's database schema.
//!
//! One migration set serves SQLite (the embedded default) and PostgreSQL (production and
//! scale-out); the satellite applies pending migrations at start-up. Keys and hashes are
//! stored as binary, timestamps as unix seconds, so both engines compare them the same
//! way (encrypted object keys must sort bytewise for listing).

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_initial;
mod m20261124_000002_accounts;
mod m20261124_000003_usage_counters;
mod m20261201_000004_write_lock;
mod m20261201_000005_key_creators;
mod m20261202_000006_keeping;
mod m20261202_000007_admins;
mod m20261203_000008_segment_parts;
mod m20261204_000009_part_etags;
mod m20261204_000010_segment_roots;
mod m20261204_000011_edge_credentials;
mod m20261205_000012_bucket_cors;
mod m20261206_000013_bucket_plain_names;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_initial::Migration),
            Box::new(m20261124_000002_accounts::Migration),
            Box::new(m20261124_000003_usage_counters::Migration),
            Box::new(m20261201_000004_write_lock::Migration),
            Box::new(m20261201_000005_key_creators::Migration),
            Box::new(m20261202_000006_keeping::Migration),
            Box::new(m20261202_000007_admins::Migration),
            Box::new(m20261203_000008_segment_parts::Migration),
            Box::new(m20261204_000009_part_etags::Migration),
            Box::new(m20261204_000010_segment_roots::Migration),
            Box::new(m20261204_000011_edge_credentials::Migration),
            Box::new(m20261205_000012_bucket_cors::Migration),
            Box::new(m20261206_000013_bucket_plain_names::Migration),
        ]
    }
}
