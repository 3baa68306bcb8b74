//! API key authentication and authorisation of every metainfo call.
//!
//! The key's head (macaroon identifier) finds the key's row; its secret never leaves the
//! satellite. Every call then checks that no key along the chain was revoked, counts
//! against the project's request rate, evaluates all caveats against the request and
//! verifies the macaroon chain with the secret, so a tampered, forged, widened or
//! revoked key fails. Revoking is authorised like any other call: the revoking grant
//! must be within its time window and not revoked itself.

mod rate;
mod revocations;

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uplink_core::access::AccessError;
use uplink_core::access::apikey::ApiKey;
use uplink_core::access::caveat::{Action, Caveat, Operation};
use uplink_core::protocol::metainfo::NameMode;
use uplink_core::protocol::now_unix;

pub use rate::RateLimiter;
use revocations::Revocation;
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
    /// How the request writes object names (its `x-object-names` header).
    pub names: NameMode,
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

/// Bounds on what revoking may cost a project.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RevocationLimits {
    /// Revocation rows a project may hold.
    pub max_per_project: u64,
    /// Revocations a project may make per minute.
    pub per_minute: u64,
}

#[derive(Clone, Debug)]
pub struct Authenticator {
    db: Db,
    revocations: Revocations,
    rate: RateLimiter,
    default_limits: ProjectLimits,
    revocation_limits: RevocationLimits,
}

/// Refuses a key outside the time window (`not_before`, `not_after`) of any of its
/// caveats, with the same reasons as every other call.
fn check_time_window(key: &ApiKey, now: i64) -> Result<()> {
    let action = Action {
        op: Operation::Read,
        bucket: None,
        encrypted_key: None,
        time: now,
        object_expires_at: None,
    };
    for caveat in key.caveats().map_err(map_access_error)? {
        let window = Caveat {
            not_before: caveat.not_before,
            not_after: caveat.not_after,
            ..Caveat::default()
        };
        window
            .allows(&action)
            .map_err(SatelliteError::PermissionDenied)?;
    }
    Ok(())
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
        revocation_limits: RevocationLimits,
    ) -> Self {
        Self {
            revocations: Revocations::new(db.clone(), cache.clone(), revocation_ttl),
            rate: RateLimiter::new(cache),
            db,
            default_limits,
            revocation_limits,
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
            names: NameMode::Encrypted,
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
    /// or a parent. The caller's grant must be within its time window and not revoked,
    /// the project's revocations are bounded and rate limited. A project's root key is
    /// deleted, not revoked.
    pub async fn revoke(&self, caller: &Caller, target: &str) -> Result<()> {
        check_time_window(&caller.key, now_unix())?;
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
        let limits = self.revocation_limits;
        self.rate
            .admit_revocation(&caller.project_id, limits.per_minute)
            .await?;
        let caller_tails = verified_tails(&caller.key, &caller.secret)?;
        self.revocations
            .revoke(
                Revocation {
                    project_id: &caller.project_id,
                    api_key_id: &caller.api_key_id,
                    caller_tails: &caller_tails,
                    target: &target.signature(),
                },
                limits.max_per_project,
            )
            .await
    }
}
