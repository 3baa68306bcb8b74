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

    /// Counts one request of the project, refusing it above `per_second`.
    pub async fn admit(&self, project_id: &str, per_second: u64) -> Result<()> {
        let second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let count = self
            .cache
            .incr(
                &format!("rate:{project_id}:{second}"),
                Duration::from_secs(2),
            )
            .await
            .map_err(|e| SatelliteError::Internal(e.to_string()))?;
        if count > per_second {
            return Err(SatelliteError::TooManyRequests(format!(
                "project request rate limit of {per_second} requests per second exceeded; slow down and retry"
            )));
        }
        Ok(())
    }
}
