//! The in-process cache: a map with deadlines, swept as it grows.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::{CacheResult, SharedCache};

#[derive(Debug, Default)]
pub struct MemoryCache {
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug)]
enum Value {
    Bytes(Vec<u8>),
    Counter(u64),
}

#[derive(Debug)]
struct Entry {
    value: Value,
    deadline: Instant,
}

/// Above this many entries, inserting first drops every expired one.
const SWEEP_AT: usize = 10_000;

impl MemoryCache {
    fn live<'a>(map: &'a mut HashMap<String, Entry>, key: &str) -> Option<&'a mut Entry> {
        let now = Instant::now();
        if map.get(key).is_some_and(|e| e.deadline <= now) {
            map.remove(key);
        }
        map.get_mut(key)
    }

    fn sweep(map: &mut HashMap<String, Entry>) {
        if map.len() >= SWEEP_AT {
            let now = Instant::now();
            map.retain(|_, e| e.deadline > now);
        }
    }
}

#[async_trait::async_trait]
impl SharedCache for MemoryCache {
    async fn get(&self, key: &str) -> CacheResult<Option<Vec<u8>>> {
        let mut map = self.entries.lock();
        Ok(match Self::live(&mut map, key) {
            Some(Entry {
                value: Value::Bytes(b),
                ..
            }) => Some(b.clone()),
            Some(Entry {
                value: Value::Counter(n),
                ..
            }) => Some(n.to_string().into_bytes()),
            None => None,
        })
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> CacheResult<()> {
        let mut map = self.entries.lock();
        Self::sweep(&mut map);
        map.insert(
            key.to_string(),
            Entry {
                value: Value::Bytes(value.to_vec()),
                deadline: Instant::now() + ttl,
            },
        );
        Ok(())
    }

    async fn delete(&self, key: &str) -> CacheResult<()> {
        self.entries.lock().remove(key);
        Ok(())
    }

    async fn incr(&self, key: &str, ttl: Duration) -> CacheResult<u64> {
        let mut map = self.entries.lock();
        if let Some(entry) = Self::live(&mut map, key) {
            let next = match &entry.value {
                Value::Counter(n) => n + 1,
                Value::Bytes(b) => {
                    std::str::from_utf8(b)
                        .ok()
                        .and_then(|s| s.parse::<u64>().ok())
                        .unwrap_or(0)
                        + 1
                }
            };
            entry.value = Value::Counter(next);
            return Ok(next);
        }
        Self::sweep(&mut map);
        map.insert(
            key.to_string(),
            Entry {
                value: Value::Counter(1),
                deadline: Instant::now() + ttl,
            },
        );
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conforms() {
        super::super::conformance::run(&MemoryCache::default()).await;
    }
}
