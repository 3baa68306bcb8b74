//! Revoked API keys, checked on every call.
//!
//! A key is named by its macaroon signature (its tail). Because every restriction
//! extends the chain, the tails of a key are the signatures of all its ancestors, so
//! revoking one tail refuses that key and everything derived from it. Revoked tails are
//! stored in the database and cached per API key in the shared cache for a short TTL.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use uplink_core::protocol::now_unix;

use crate::cache::SharedCache;
use crate::db::Db;
use crate::db::entities::revocation;
use crate::error::{Result, is_unique_violation};

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

    /// Records `tail` as revoked and drops the cached list so that it applies at once
    /// (everywhere, when the cache is shared).
    pub async fn revoke(&self, api_key_id: &str, tail: &Tail) -> Result<()> {
        let inserted = revocation::Entity::insert(revocation::ActiveModel {
            tail: Set(tail.to_vec()),
            api_key_id: Set(api_key_id.to_string()),
            created_at: Set(now_unix()),
        })
        .exec(&self.db)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {} // already revoked
            Err(e) => return Err(e.into()),
        }
        Ok(self.cache.delete(&cache_key(api_key_id)).await?)
    }
}
