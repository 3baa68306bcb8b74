//! Database connection and schema migration.
//!
//! SQLite (a file under the data directory) is the embedded default; PostgreSQL is used
//! when the URL says so. The same entities and migrations serve both.

pub mod entities;

use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::config::redact_url;
use crate::error::{Result, SatelliteError};

/// Opens the database and applies pending migrations.
pub async fn connect(url: &str) -> Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_string());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        // WAL lets readers proceed while a writer commits; NORMAL sync is durable in WAL
        // mode across process crashes.
        options.max_connections(8).map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
        });
    } else {
        options.max_connections(32);
    }
    let db = Database::connect(options).await.map_err(|e| {
        SatelliteError::Config(format!("cannot open database {}: {e}", redact_url(url)))
    })?;
    Migrator::up(&db, None).await?;
    Ok(db)
}
