//! Database connection, schema migration, and the one way to write.
//!
//! SQLite (a file under the data directory) is the embedded default; PostgreSQL is used
//! when the URL says so. The same entities and migrations serve both.
//!
//! [`Db`] wraps the connection pool so that every multi-statement write goes through
//! [`write_txn!`], which takes the write lock up front and retries transient failures
//! (see `write.rs`); reads use the pool directly, since `Db` is a `ConnectionTrait`.

pub mod entities;
mod write;

use std::sync::Arc;
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, ExecResult,
    QueryResult, Statement,
};

use crate::config::redact_url;
use crate::error::{Result, SatelliteError};

pub(crate) use write::write_txn;
pub use write::{MAX_ATTEMPTS, WriteTxn, is_transient, retry_pause};

/// The satellite's database: a connection pool plus what makes concurrent writes safe.
#[derive(Clone)]
pub struct Db {
    conn: DatabaseConnection,
    /// SQLite allows one writer at a time: writers of this process queue here instead of
    /// spinning in SQLite's busy handler (other processes still meet the file lock).
    writer: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.conn.get_database_backend())
            .finish_non_exhaustive()
    }
}

impl Db {
    /// The pool itself, for APIs that want a `DatabaseConnection`.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    pub async fn close(self) -> Result<()> {
        Ok(self.conn.close().await?)
    }
}

/// Opens the database and applies pending migrations.
pub async fn connect(url: &str) -> Result<Db> {
    let mut options = ConnectOptions::new(url.to_string());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    let sqlite = url.starts_with("sqlite:");
    if sqlite {
        // WAL lets readers proceed while a writer commits; NORMAL sync is durable in WAL
        // mode across process crashes. Readers never wait for the writer, so the pool
        // is sized for reads.
        options.max_connections(16).map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
        });
    } else {
        options.max_connections(32);
    }
    let conn = Database::connect(options).await.map_err(|e| {
        SatelliteError::Config(format!("cannot open database {}: {e}", redact_url(url)))
    })?;
    Migrator::up(&conn, None).await?;
    Ok(Db {
        conn,
        writer: sqlite.then(|| Arc::new(tokio::sync::Mutex::new(()))),
    })
}

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.conn.execute(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.conn.execute_unprepared(sql).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.conn.query_one(stmt).await
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.conn.query_all(stmt).await
    }
}
