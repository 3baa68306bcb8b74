//! API key authentication and authorisation of every metainfo call.
//!
//! The key's head (macaroon identifier) finds the key's row; its secret never leaves the
//! satellite. Every call then checks that no key along the chain was revoked, counts
//! against the project's request rate, evaluates all caveats against the request and
//! verifies the macaroon chain with the secret, so a tampered, forged, widened or
//! revoked key fails.

mod rate;
mod revocations;

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uplink_core::access::AccessError;
use uplink_core::access::apikey::ApiKey;
use uplink_core::access::caveat::{Action, Operation};
use uplink_core::protocol::now_unix;

pub use rate::RateLimiter;
pub use revocations::Revocations;

use crate::cache::SharedCache;
use crate::config::ProjectLimits;
use crate::db::Db;
use crate::db::entities::{api_key, project};
use crate::error::{Result, SatelliteError};

/// A caller whose API key was found, verified and not revoked; every operation must
/// still be authorised.
pub struct Caller {
    pub project_id: String,
    pub api_key_id: String,
    /// The project's limits as they apply now.
    pub limits: ProjectLimits,
    key: ApiKey,
    secret: [u8; 32],
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("project_id", &self.project_id)
            .field("api_key_id", &self.api_key_id)
            .finish_non_exhaustive()
    }
}

impl Caller {
    /// Checks that the key allows `op` on `bucket` / `encrypted_key` now.
    pub fn authorize(
        &self,
        op: Operation,
        bucket: Option<&str>,
        encrypted_key: Option<&str>,
        object_expires_at: Option<i64>,
    ) -> Result<()> {
        let action = Action {
            op,
            bucket: bucket.map(str::to_string),
            encrypted_key: encrypted_key.map(str::to_string),
            time: now_unix(),
            object_expires_at,
        };
        self.key
            .check(&self.secret, &action)
            .map_err(map_access_error)
    }

    /// The caveats' bucket restrictions, to filter bucket listings.
    pub fn allowed_buckets(&self) -> Option<Vec<String>> {
        let caveats = self.key.caveats().ok()?;
        let mut allowed: Option<Vec<String>> = None;
        for caveat in caveats {
            if caveat.allowed_paths.is_empty() {
                continue;
            }
            let these: Vec<String> = caveat
                .allowed_paths
                .iter()
                .map(|p| p.bucket.clone())
                .collect();
            allowed = Some(match allowed {
                None => these,
                Some(prev) => prev.into_iter().filter(|b| these.contains(b)).collect(),
            });
        }
        allowed
    }
}

fn map_access_error(e: AccessError) -> SatelliteError {
    match e {
        AccessError::PermissionDenied(reason) => SatelliteError::PermissionDenied(reason),
        AccessError::InvalidKey => {
            SatelliteError::Unauthenticated("invalid API key: its signature does not verify".into())
        }
        AccessError::Malformed(why) => {
            SatelliteError::Unauthenticated(format!("malformed API key: {why}"))
        }
        other => SatelliteError::Unauthenticated(format!("API key refused: {other}")),
    }
}

#[derive(Clone, Debug)]
pub struct Authenticator {
    db: Db,
    revocations: Revocations,
    rate: RateLimiter,
    default_limits: ProjectLimits,
}

/// The key's chain of signatures, refused unless it ends in the key's own signature
/// (the chain was computed with the right secret over an untampered key).
fn verified_tails(key: &ApiKey, secret: &[u8; 32]) -> Result<Vec<[u8; 32]>> {
    let tails = key.tails(secret);
    if tails.last() != Some(&key.signature()) {
        return Err(map_access_error(AccessError::InvalidKey));
    }
    Ok(tails)
}

impl Authenticator {
    pub fn new(
        db: Db,
        cache: Arc<dyn SharedCache>,
        revocation_ttl: Duration,
        default_limits: ProjectLimits,
    ) -> Self {
        Self {
            revocations: Revocations::new(db.clone(), cache.clone(), revocation_ttl),
            rate: RateLimiter::new(cache),
            db,
            default_limits,
        }
    }

    async fn find(&self, key: &ApiKey) -> Result<(api_key::Model, [u8; 32])> {
        let row = api_key::Entity::find()
            .filter(api_key::Column::Head.eq(key.head()))
            .one(&self.db)
            .await?
            .ok_or_else(|| {
                SatelliteError::Unauthenticated("unknown API key (it may have been deleted)".into())
            })?;
        let secret: [u8; 32] = row.secret.as_slice().try_into().map_err(|_| {
            SatelliteError::Internal(format!("API key {} has a corrupt secret", row.id))
        })?;
        Ok((row, secret))
    }

    /// Finds and verifies the key named by a serialized API key, refuses it if it or
    /// an ancestor was revoked, and counts the request against the project's rate.
    /// Authorisation happens per operation.
    pub async fn authenticate(&self, serialized: &str) -> Result<Caller> {
        let key = ApiKey::parse(serialized.trim()).map_err(map_access_error)?;
        let (row, secret) = self.find(&key).await?;
        let tails = verified_tails(&key, &secret)?;
        if self.revocations.any_revoked(&row.id, &tails).await? {
            return Err(SatelliteError::Unauthenticated(
                "this access grant has been revoked".into(),
            ));
        }
        let project = project::Entity::find_by_id(row.project_id.clone())
            .one(&self.db)
            .await?
            .ok_or_else(|| {
                SatelliteError::Unauthenticated("the API key's project no longer exists".into())
            })?;
        let limits = crate::accounting::effective_limits(&project, &self.default_limits);
        self.rate
            .admit(&project.id, limits.requests_per_second)
            .await?;
        Ok(Caller {
            project_id: row.project_id,
            api_key_id: row.id,
            limits,
            key,
            secret,
        })
    }

    /// Limits requests that verify passwords, per client address.
    pub fn rate(&self) -> &RateLimiter {
        &self.rate
    }

    /// Revokes `target` and everything derived from it. The caller must hold the same
    /// key or an ancestor of it: sharing a grant never lets its holder revoke a sibling
    /// or a parent. A project's root key is deleted, not revoked.
    pub async fn revoke(&self, caller: &Caller, target: &str) -> Result<()> {
        let target = ApiKey::parse(target.trim()).map_err(|e| {
            SatelliteError::BadRequest(format!("the API key to revoke is malformed: {e}"))
        })?;
        if target.head() != caller.key.head() {
            return Err(SatelliteError::PermissionDenied(
                "a grant can only revoke grants derived from it".into(),
            ));
        }
        let tails = verified_tails(&target, &caller.secret).map_err(|_| {
            SatelliteError::BadRequest(
                "the API key to revoke does not verify: it is damaged or forged".into(),
            )
        })?;
        if tails.len() == 1 {
            return Err(SatelliteError::PermissionDenied(
                "a project's API key cannot be revoked; delete it in the console instead".into(),
            ));
        }
        if !tails.contains(&caller.key.signature()) {
            return Err(SatelliteError::PermissionDenied(
                "a grant can only revoke grants derived from it".into(),
            ));
        }
        self.revocations
            .revoke(&caller.api_key_id, &target.signature())
            .await
    }
}
