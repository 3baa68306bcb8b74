//! The hosted S3 gateway's view of its callers: each access key id opens its own
//! registered grant as a project (all of them on the process's one connection pool).
//!
//! Opened registrations are cached for `cache_ttl`, so that a busy client does not cost
//! a database read and an unsealing per request; a revoked grant stops at the
//! satellite's API at once whatever the cache holds, and a registration past its
//! not-after time is dropped on the next lookup after its cache entry expires.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use s3s::auth::{Credentials, S3Auth, SecretKey};
use s3s::{S3Result, s3_error};
use uplink_core::access::AccessGrant;
use uplink_core::client::{ClientConfig, Project};
use uplink_core::gateway::Tenants;
use uplink_core::protocol::now_unix;

use super::credentials::{self, Registered};
use crate::db::Db;

/// Most registrations kept open at once.
const CACHE_ENTRIES: usize = 10_000;

pub(crate) struct Opened {
    pub registered: Registered,
    pub project: Project,
}

pub struct EdgeTenants {
    db: Db,
    client: ClientConfig,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Arc<Opened>)>>,
}

impl std::fmt::Debug for EdgeTenants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeTenants")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl EdgeTenants {
    pub fn new(db: Db, client: ClientConfig, ttl: Duration) -> Arc<Self> {
        Arc::new(Self {
            db,
            client,
            ttl,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The registration behind an access key id, opened; `None` if there is none.
    pub(crate) async fn open(&self, access_key_id: &str) -> Result<Option<Arc<Opened>>, OpenError> {
        if let Some((at, opened)) = self.cache.lock().get(access_key_id)
            && at.elapsed() < self.ttl
            && opened.registered.not_after.is_none_or(|t| t > now_unix())
        {
            return Ok(Some(opened.clone()));
        }
        let registered = credentials::lookup(&self.db, access_key_id)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "edge credential lookup failed");
                OpenError::Unavailable
            })?;
        let Some(registered) = registered else {
            self.cache.lock().remove(access_key_id);
            return Ok(None);
        };
        let grant = AccessGrant::parse(&registered.grant).map_err(|e| {
            tracing::warn!(error = %e, "a registered grant does not parse");
            OpenError::Unreadable
        })?;
        let project = Project::open(grant, self.client.clone()).map_err(|e| {
            tracing::warn!(error = %e, "a registered grant does not open");
            OpenError::Unreadable
        })?;
        let opened = Arc::new(Opened {
            registered,
            project,
        });
        let mut cache = self.cache.lock();
        if cache.len() >= CACHE_ENTRIES {
            let ttl = self.ttl;
            cache.retain(|_, (at, _)| at.elapsed() < ttl);
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(access_key_id.to_string(), (Instant::now(), opened.clone()));
        Ok(Some(opened))
    }
}

/// Why a registration could not be opened (it exists, or might).
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    #[error("the credential store is unavailable; retry")]
    Unavailable,
    #[error("the registered access grant cannot be opened")]
    Unreadable,
}

impl From<OpenError> for s3s::S3Error {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Unavailable => s3_error!(
                ServiceUnavailable,
                "The credential store is unavailable; retry"
            ),
            OpenError::Unreadable => s3_error!(
                InternalError,
                "The registered access grant cannot be opened"
            ),
        }
    }
}

fn unknown() -> s3s::S3Error {
    s3_error!(
        InvalidAccessKeyId,
        "The AWS access key Id you provided does not exist in our records."
    )
}

#[async_trait::async_trait]
impl S3Auth for EdgeTenants {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.open(access_key).await? {
            Some(o) => Ok(SecretKey::from(o.registered.secret.as_str())),
            None => Err(unknown()),
        }
    }
}

#[async_trait::async_trait]
impl Tenants for EdgeTenants {
    async fn project(&self, credentials: Option<&Credentials>) -> S3Result<Project> {
        let Some(c) = credentials else {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        };
        match self.open(&c.access_key).await? {
            Some(o) => Ok(o.project.clone()),
            None => Err(unknown()),
        }
    }

    async fn project_for_cors(&self, access_key: Option<&str>) -> Option<Project> {
        let opened = self.open(access_key?).await.ok()??;
        Some(opened.project.clone())
    }
}
