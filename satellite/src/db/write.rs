//! Write transactions that hold up under many concurrent clients: [`write_txn!`].
//!
//! SQLite: a deferred transaction that reads before it writes fails with
//! `SQLITE_BUSY_SNAPSHOT` (or plain `SQLITE_BUSY`) when another connection committed in
//! between, and no busy timeout waits that out. So a write transaction here first waits
//! its turn on the process's writer queue, then writes to the empty `write_lock` table,
//! which takes SQLite's write lock up front (as `BEGIN IMMEDIATE` would; other processes
//! on the same file wait in the busy handler). PostgreSQL runs at READ COMMITTED; code
//! that checks a limit and then inserts locks the parent row (`lock_exclusive`) first.
//!
//! Whatever still fails transiently (busy, serialization failure, deadlock, no pooled
//! connection in time) is retried here with backoff, a bounded number of times, and
//! then reported as [`SatelliteError::Unavailable`](crate::error::SatelliteError::Unavailable) (503), never as an internal error.

use std::time::Duration;

use rand::Rng;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement, TransactionTrait,
};

use super::Db;
use crate::error::Result;

/// Attempts of one write transaction before giving up with `Unavailable`.
pub const MAX_ATTEMPTS: u32 = 8;

/// Runs a block in a write transaction and commits it:
/// `write_txn!(db, |txn| { ...; Ok(value) })` evaluates to `Result<value>`. The block
/// uses `&txn` as its connection; its `?` and `return` leave the block (rolling back),
/// not the enclosing function. When the database reports a transient failure the whole
/// block runs again (so it must have no effects outside the transaction), up to
/// [`MAX_ATTEMPTS`] times, and then the error is [`SatelliteError::Unavailable`](crate::error::SatelliteError::Unavailable).
///
/// A macro rather than a function taking a closure: the block borrows freely from the
/// caller, and the resulting future stays `Send` for the background workers, which a
/// closure over `&DatabaseTransaction` cannot promise on stable Rust.
macro_rules! write_txn {
    ($db:expr, |$txn:ident| $body:block) => {{
        let db: &$crate::db::Db = &$db;
        let mut attempt = 1u32;
        loop {
            let result = match db.begin_write().await {
                Ok($txn) => {
                    let result: $crate::error::Result<_> = async { $body }.await;
                    db.finish_write($txn, result).await
                }
                Err(e) => Err(e),
            };
            match result {
                Err($crate::error::SatelliteError::Unavailable(why))
                    if attempt < $crate::db::MAX_ATTEMPTS =>
                {
                    $crate::db::retry_pause(attempt, &why).await;
                    attempt += 1;
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use write_txn;

/// A write transaction holding this process's writer turn (SQLite) until it ends.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl std::fmt::Debug for WriteTxn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteTxn")
    }
}

impl Db {
    /// Starts a write transaction with the write lock taken up front. Prefer
    /// [`write_txn!`], which also commits and retries.
    pub async fn begin_write(&self) -> Result<WriteTxn> {
        let turn = match &self.writer {
            Some(queue) => Some(queue.clone().lock_owned().await),
            None => None,
        };
        let txn = self.conn.begin().await?;
        if turn.is_some() {
            txn.execute_unprepared("DELETE FROM write_lock WHERE 0")
                .await?;
        }
        Ok(WriteTxn { txn, _turn: turn })
    }

    /// Commits `txn` if `result` is a success, rolls it back otherwise.
    pub async fn finish_write<T>(&self, txn: WriteTxn, result: Result<T>) -> Result<T> {
        let WriteTxn { txn, _turn } = txn;
        match result {
            Ok(value) => {
                txn.commit().await?;
                Ok(value)
            }
            Err(e) => {
                // Roll back now rather than when the pooled connection is next used, so
                // the SQLite write lock is released before the next writer's turn.
                if let Err(rollback) = txn.rollback().await {
                    tracing::warn!(error = %rollback, "rolling back a failed write transaction");
                }
                Err(e)
            }
        }
    }
}

/// Waits before attempt `attempt + 1` of a write transaction.
pub async fn retry_pause(attempt: u32, why: &str) {
    tracing::debug!(attempt, %why, "retrying a write transaction");
    tokio::time::sleep(backoff(attempt)).await;
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one(stmt).await
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all(stmt).await
    }
}

/// Exponential backoff with full jitter: up to 5 ms, 10 ms, … 640 ms.
fn backoff(attempt: u32) -> Duration {
    let ceiling = 5u64 << attempt.min(7);
    Duration::from_millis(rand::thread_rng().gen_range(1..=ceiling))
}

/// Whether a database error is worth retrying: the same statement may well succeed a
/// moment later (SQLite busy or locked; PostgreSQL serialization failure, deadlock or
/// lock timeout; no pooled connection free in time).
pub fn is_transient(e: &DbErr) -> bool {
    match e {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(RuntimeErr::SqlxError(err))
        | DbErr::Exec(RuntimeErr::SqlxError(err))
        | DbErr::Query(RuntimeErr::SqlxError(err)) => sqlx_transient(err),
        _ => false,
    }
}

fn sqlx_transient(err: &sea_orm::SqlxError) -> bool {
    match err {
        sea_orm::SqlxError::PoolTimedOut => true,
        sea_orm::SqlxError::Database(db) => match db.code().as_deref() {
            // PostgreSQL SQLSTATEs.
            Some("40001" | "40P01" | "55P03") => true,
            // SQLite extended result codes: the primary code is the low byte.
            Some(code) => code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6)),
            None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        for attempt in 1..20 {
            let d = backoff(attempt);
            assert!(d >= Duration::from_millis(1));
            assert!(d <= Duration::from_millis(640), "{d:?} at {attempt}");
        }
    }

    #[test]
    fn only_transient_errors_are_transient() {
        assert!(is_transient(&DbErr::ConnectionAcquire(
            sea_orm::ConnAcquireErr::Timeout
        )));
        assert!(is_transient(&DbErr::Query(RuntimeErr::SqlxError(
            sea_orm::SqlxError::PoolTimedOut
        ))));
        assert!(!is_transient(&DbErr::RecordNotFound("x".into())));
        assert!(!is_transient(&DbErr::Custom("database is locked".into())));
    }
}
