//! Leases in the shared database: several satellite processes on one database never
//! run the same exclusive job at the same time.
//!
//! A lease is a row (name, holder, expiry). Taking one is a single conditional
//! statement (update if free, expired or ours; else insert; a unique violation means
//! another process won), so no transaction or clock agreement beyond the expiry is
//! needed. A holder renews it on every step; a process that dies loses it when it
//! expires.

use std::time::Duration;

use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use uplink_core::background::{Cancel, Worker, WorkerError, WorkerState};
use uplink_core::protocol::now_unix;

use crate::db::Db;
use crate::db::entities::lease;
use crate::error::{Result, is_unique_violation};

/// This process's leases.
#[derive(Clone, Debug)]
pub struct Leases {
    db: Db,
    holder: String,
}

impl Leases {
    /// `holder` names this process (unique among processes on the database).
    pub fn new(db: Db, holder: String) -> Self {
        Self { db, holder }
    }

    /// A holder name unique to this process.
    pub fn process_holder() -> String {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "satellite".into());
        format!(
            "{host}-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        )
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Takes or renews `name` for `ttl`; `false` if another process holds it.
    pub async fn acquire(&self, name: &str, ttl: Duration) -> Result<bool> {
        let now = now_unix();
        let expires = now + ttl.as_secs().max(1) as i64;
        let updated = lease::Entity::update_many()
            .col_expr(lease::Column::Holder, Expr::value(self.holder.clone()))
            .col_expr(lease::Column::ExpiresAt, Expr::value(expires))
            .filter(lease::Column::Name.eq(name))
            .filter(
                Condition::any()
                    .add(lease::Column::Holder.eq(self.holder.clone()))
                    .add(lease::Column::ExpiresAt.lt(now)),
            )
            .exec(&self.db)
            .await?;
        if updated.rows_affected == 1 {
            return Ok(true);
        }
        let row = lease::ActiveModel {
            name: Set(name.to_string()),
            holder: Set(self.holder.clone()),
            expires_at: Set(expires),
        };
        match lease::Entity::insert(row).exec(&self.db).await {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Gives `name` up if this process holds it.
    pub async fn release(&self, name: &str) -> Result<()> {
        lease::Entity::delete_many()
            .filter(lease::Column::Name.eq(name))
            .filter(lease::Column::Holder.eq(self.holder.clone()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Who holds `name` now, if anyone.
    pub async fn holder_of(&self, name: &str) -> Result<Option<String>> {
        Ok(lease::Entity::find_by_id(name.to_string())
            .one(&self.db)
            .await?
            .filter(|l| l.expires_at >= now_unix())
            .map(|l| l.holder))
    }

    pub fn for_job(&self, name: &str, ttl: Duration) -> JobLease {
        JobLease {
            leases: self.clone(),
            name: format!("job:{name}"),
            ttl,
        }
    }
}

/// The lease of one exclusive job.
#[derive(Clone, Debug)]
pub struct JobLease {
    leases: Leases,
    name: String,
    ttl: Duration,
}

/// A worker that steps only while this process holds its job's lease.
pub struct Exclusive<W> {
    inner: W,
    lease: JobLease,
}

impl<W: Worker> Exclusive<W> {
    pub fn new(inner: W, lease: JobLease) -> Self {
        Self { inner, lease }
    }
}

#[async_trait::async_trait]
impl<W: Worker> Worker for Exclusive<W> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn idle_period(&self) -> Duration {
        self.inner.idle_period()
    }
    async fn step(
        &mut self,
        cancel: &Cancel,
    ) -> Result<(WorkerState, Option<String>), WorkerError> {
        let held = self
            .lease
            .leases
            .acquire(&self.lease.name, self.lease.ttl)
            .await
            .map_err(WorkerError::new)?;
        if !held {
            return Ok((
                WorkerState::Idle,
                Some("another satellite process holds this job".into()),
            ));
        }
        let result = self.inner.step(cancel).await;
        if cancel.is_cancelled() {
            let _ = self.lease.leases.release(&self.lease.name).await;
        }
        result
    }
}
