//! Per-project request rate limiting in one-second windows of the shared cache, so
//! that several API processes count together.

use std::sync::Arc;
use std::time::Duration;

use crate::cache::SharedCache;
use crate::error::{Result, SatelliteError};

#[derive(Debug, Clone)]
pub struct RateLimiter {
    cache: Arc<dyn SharedCache>,
}

impl RateLimiter {
    pub fn new(cache: Arc<dyn SharedCache>) -> Self {
        Self { cache }
    }

    /// Counts one event of `key` in the current window of `window_secs`; whether it
    /// is within `limit`.
    async fn within(&self, key: &str, limit: u64, window_secs: u64) -> Result<bool> {
        let window = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            / window_secs.max(1);
        let count = self
            .cache
            .incr(
                &format!("{key}:{window}"),
                Duration::from_secs(window_secs.max(1) * 2),
            )
            .await?;
        Ok(count <= limit)
    }

    /// Counts one request of the project, refusing it above `per_second`.
    pub async fn admit(&self, project_id: &str, per_second: u64) -> Result<()> {
        if !self
            .within(&format!("rate:{project_id}"), per_second, 1)
            .await?
        {
            return Err(SatelliteError::TooManyRequests(format!(
                "project request rate limit of {per_second} requests per second exceeded; slow down and retry"
            )));
        }
        Ok(())
    }

    /// Counts one sign-up, login or password attempt from a client address, refusing
    /// it above `per_minute` (each costs an Argon2 hash, so floods are cut off early).
    pub async fn admit_credentials(&self, client: &str, per_minute: u64) -> Result<()> {
        if !self
            .within(&format!("auth:{client}"), per_minute, 60)
            .await?
        {
            return Err(SatelliteError::TooManyRequests(format!(
                "more than {per_minute} sign-up and login attempts a minute from your address; wait a minute"
            )));
        }
        Ok(())
    }

    /// Counts one revocation in the project, refusing it above `per_minute`:
    /// revocations are writes any holder of a share can make.
    pub async fn admit_revocation(&self, project_id: &str, per_minute: u64) -> Result<()> {
        if !self
            .within(&format!("revoke:{project_id}"), per_minute, 60)
            .await?
        {
            return Err(SatelliteError::TooManyRequests(format!(
                "more than {per_minute} revocations a minute in this project; wait a minute"
            )));
        }
        Ok(())
    }
}
