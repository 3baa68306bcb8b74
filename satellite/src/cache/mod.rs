//! A small key-value cache shared by every satellite process that serves the API.
//!
//! Revocation lists and request-rate counters must agree across processes once the API
//! runs on several machines, so they live behind this trait: in process by default, in
//! Redis when `redis_url` is configured. Both adapters pass one conformance suite.

mod memory;
mod redis;

#[cfg(test)]
pub(crate) mod conformance;

use std::sync::Arc;
use std::time::Duration;

pub use self::memory::MemoryCache;
pub use self::redis::RedisCache;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache unavailable: {0}")]
    Unavailable(String),
}

pub type CacheResult<T> = Result<T, CacheError>;

/// Expiring byte values and counters by string key.
#[async_trait::async_trait]
pub trait SharedCache: Send + Sync + std::fmt::Debug {
    async fn get(&self, key: &str) -> CacheResult<Option<Vec<u8>>>;
    /// Stores `value`, replacing any previous one, until `ttl` passes.
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> CacheResult<()>;
    async fn delete(&self, key: &str) -> CacheResult<()>;
    /// Adds one to a counter and returns the new count; a new counter expires after
    /// `ttl` (later increments do not extend it).
    async fn incr(&self, key: &str, ttl: Duration) -> CacheResult<u64>;
}

/// The configured cache: Redis at `url`, or in process. In Redis every key is
/// prefixed with `satellite`'s id, so that several satellites (or test networks) may
/// share one server without reading each other's revocations or rate counters; the
/// processes of one satellite share its identity and so its keys.
pub async fn open(
    redis_url: Option<&str>,
    satellite: &uplink_core::protocol::NodeId,
) -> CacheResult<Arc<dyn SharedCache>> {
    Ok(match redis_url {
        Some(url) => {
            Arc::new(RedisCache::connect_with_prefix(url, &format!("sat:{satellite}:")).await?)
        }
        None => Arc::new(MemoryCache::default()),
    })
}
