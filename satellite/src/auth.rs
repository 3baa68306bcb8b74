//! API key authentication and authorisation of every metainfo call.
//!
//! The key's head (macaroon identifier) finds the key's row; its secret never leaves the
//! satellite. Every call then evaluates all caveats against the request and verifies the
//! macaroon chain with the secret, so a tampered, forged or widened key fails.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use uplink_core::access::AccessError;
use uplink_core::access::apikey::ApiKey;
use uplink_core::access::caveat::{Action, Operation};
use uplink_core::protocol::now_unix;

use crate::db::entities::api_key;
use crate::error::{Result, SatelliteError};

/// A caller whose API key was found; every operation must still be checked.
pub struct Caller {
    pub project_id: String,
    pub api_key_id: String,
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
    db: DatabaseConnection,
}

impl Authenticator {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Finds the key named by a serialized API key. Authorisation happens per operation.
    pub async fn authenticate(&self, serialized: &str) -> Result<Caller> {
        let key = ApiKey::parse(serialized.trim()).map_err(map_access_error)?;
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
        Ok(Caller {
            project_id: row.project_id,
            api_key_id: row.id,
            key,
            secret,
        })
    }
}
