//! The Redis cache, for satellites whose API runs in several processes.

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{CacheError, CacheResult, SharedCache};
use crate::config::redact_url;

#[derive(Clone)]
pub struct RedisCache {
    conn: ConnectionManager,
    /// Namespace for every key, so that several satellites can share one server.
    prefix: String,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: redis::RedisError) -> CacheError {
    CacheError::Unavailable(e.to_string())
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisCache {
    pub async fn connect(url: &str) -> CacheResult<Self> {
        Self::connect_with_prefix(url, "sat:").await
    }

    pub async fn connect_with_prefix(url: &str, prefix: &str) -> CacheResult<Self> {
        let client = redis::Client::open(url).map_err(|e| {
            CacheError::Unavailable(format!("invalid Redis URL {}: {e}", redact_url(url)))
        })?;
        let unreachable = |e: String| {
            CacheError::Unavailable(format!(
                "cannot connect to Redis at {}: {e}",
                redact_url(url)
            ))
        };
        // One plain connection first, so that a wrong URL fails at once and clearly
        // instead of after the manager's reconnection attempts.
        tokio::time::timeout(
            Duration::from_secs(5),
            client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| unreachable("timed out".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_connection_timeout(Duration::from_secs(5))
            .set_response_timeout(Duration::from_secs(5));
        let conn = tokio::time::timeout(
            Duration::from_secs(10),
            client.get_connection_manager_with_config(config),
        )
        .await
        .map_err(|_| unreachable("timed out".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[async_trait::async_trait]
impl SharedCache for RedisCache {
    async fn get(&self, key: &str) -> CacheResult<Option<Vec<u8>>> {
        let mut conn = self.conn.clone();
        conn.get(self.key(key)).await.map_err(unavailable)
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> CacheResult<()> {
        let mut conn = self.conn.clone();
        conn.pset_ex(self.key(key), value, millis(ttl))
            .await
            .map_err(unavailable)
    }

    async fn delete(&self, key: &str) -> CacheResult<()> {
        let mut conn = self.conn.clone();
        conn.del(self.key(key)).await.map_err(unavailable)
    }

    async fn incr(&self, key: &str, ttl: Duration) -> CacheResult<u64> {
        let mut conn = self.conn.clone();
        let key = self.key(key);
        // INCR and, for a new counter only, PEXPIRE NX, in one round trip.
        let (count, _): (u64, i64) = redis::pipe()
            .atomic()
            .incr(&key, 1u64)
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(millis(ttl))
            .arg("NX")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs against a real server: `TEST_REDIS_URL` must name one (`scripts/test-all.sh`
    /// starts one and runs this test by name).
    #[tokio::test]
    #[ignore = "needs Redis: TEST_REDIS_URL (scripts/test-all.sh runs it with one)"]
    async fn conforms() {
        let url = std::env::var("TEST_REDIS_URL").expect(
            "TEST_REDIS_URL must name a Redis server (e.g. redis://127.0.0.1:6379/); \
             scripts/test-all.sh starts one",
        );
        let prefix = format!("test-{}:", uuid::Uuid::new_v4());
        let cache = RedisCache::connect_with_prefix(&url, &prefix)
            .await
            .expect("TEST_REDIS_URL reachable");
        super::super::conformance::run(&cache).await;
    }

    #[tokio::test]
    async fn unreachable_server_is_a_clear_error() {
        let err = RedisCache::connect("redis://:secret@127.0.0.1:1/")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("Redis"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }
}
