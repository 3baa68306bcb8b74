//! Revoked API keys, checked on every call.
//!
//! A key is named by its macaroon signature (its tail). Because every restriction
//! extends the chain, the tails of a key are the signatures of all its ancestors, so
//! revoking one tail refuses that key and everything derived from it. Revoked tails are
//! stored in the database and cached per API key in the shared cache for a short TTL.
//!
//! Every holder of a grant may revoke what derives from it, so revocation rows are a
//! resource anyone with a share can spend: a project holds at most a configured number
//! of them (counted and inserted under the project's row lock), and revoking is rate
//! limited like any other write.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, QueryTrait, Set,
};
use uplink_core::protocol::now_unix;

use crate::cache::SharedCache;
use crate::db::entities::{api_key, project, revocation};
use crate::db::{Db, write_txn};
use crate::error::{Result, SatelliteError};

pub type Tail = [u8; 32];

#[derive(Debug, Clone)]
pub struct Revocations {
    db: Db,
    cache: Arc<dyn SharedCache>,
    ttl: Duration,
}

fn cache_key(api_key_id: &str) -> String {
    format!("revoked:{api_key_id}")
}

/// One revocation to record: `target` of API key `api_key_id`, asked for by a grant
/// whose own chain is `caller_tails`.
#[derive(Debug, Clone, Copy)]
pub struct Revocation<'a> {
    pub project_id: &'a str,
    pub api_key_id: &'a str,
    pub caller_tails: &'a [Tail],
    pub target: &'a Tail,
}

impl Revocations {
    pub fn new(db: Db, cache: Arc<dyn SharedCache>, ttl: Duration) -> Self {
        Self { db, cache, ttl }
    }

    /// The revoked tails of one API key (root and derived), from the cache or the
    /// database.
    async fn revoked(&self, api_key_id: &str) -> Result<Vec<Tail>> {
        let key = cache_key(api_key_id);
        if let Some(packed) = self.cache.get(&key).await? {
            return Ok(packed
                .chunks_exact(32)
                .map(|c| c.try_into().expect("32-byte chunks"))
                .collect());
        }
        let rows = revocation::Entity::find()
            .filter(revocation::Column::ApiKeyId.eq(api_key_id))
            .all(&self.db)
            .await?;
        let tails: Vec<Tail> = rows
            .iter()
            .filter_map(|r| r.tail.as_slice().try_into().ok())
            .collect();
        self.cache.set(&key, &tails.concat(), self.ttl).await?;
        Ok(tails)
    }

    /// Whether any of `tails` (a key's chain) is revoked.
    pub async fn any_revoked(&self, api_key_id: &str, tails: &[Tail]) -> Result<bool> {
        let revoked = self.revoked(api_key_id).await?;
        Ok(tails.iter().any(|t| revoked.contains(t)))
    }

    /// Records the target as revoked, unless the caller's own grant is revoked by now
    /// (read from the database, not the cache) or the project already holds
    /// `max_per_project` revocations; then drops the cached list so that it applies at
    /// once (everywhere, when the cache is shared). Revoking a revoked tail again
    /// changes nothing and succeeds.
    pub async fn revoke(&self, r: Revocation<'_>, max_per_project: u64) -> Result<()> {
        let tails: Vec<Vec<u8>> = r.caller_tails.iter().map(|t| t.to_vec()).collect();
        write_txn!(self.db, |txn| {
            // Counting and inserting under the project's row lock keeps the bound under
            // concurrent revocations (PostgreSQL; SQLite's writer lock already does).
            project::Entity::find_by_id(r.project_id.to_string())
                .lock_exclusive()
                .one(&txn)
                .await?
                .ok_or_else(|| {
                    SatelliteError::Unauthenticated("the API key's project no longer exists".into())
                })?;
            let caller_revoked = revocation::Entity::find()
                .filter(revocation::Column::ApiKeyId.eq(r.api_key_id))
                .filter(revocation::Column::Tail.is_in(tails.clone()))
                .count(&txn)
                .await?;
            if caller_revoked > 0 {
                return Err(SatelliteError::Unauthenticated(
                    "this access grant has been revoked".into(),
                ));
            }
            if revocation::Entity::find_by_id(r.target.to_vec())
                .one(&txn)
                .await?
                .is_some()
            {
                return Ok(());
            }
            let project_keys = api_key::Entity::find()
                .select_only()
                .column(api_key::Column::Id)
                .filter(api_key::Column::ProjectId.eq(r.project_id))
                .into_query();
            let held = revocation::Entity::find()
                .filter(revocation::Column::ApiKeyId.in_subquery(project_keys))
                .count(&txn)
                .await?;
            if held >= max_per_project {
                return Err(SatelliteError::LimitExceeded(format!(
                    "the project has reached its limit of {max_per_project} revoked access \
                     grants; delete API keys whose grants are no longer needed (that drops \
                     their revocations too) or ask the satellite's operator"
                )));
            }
            revocation::Entity::insert(revocation::ActiveModel {
                tail: Set(r.target.to_vec()),
                api_key_id: Set(r.api_key_id.to_string()),
                created_at: Set(now_unix()),
            })
            .exec(&txn)
            .await?;
            Ok(())
        })?;
        Ok(self.cache.delete(&cache_key(r.api_key_id)).await?)
    }
}
