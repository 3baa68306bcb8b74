//! One behaviour for every [`SharedCache`] adapter.

use std::time::Duration;

use super::SharedCache;

pub async fn run(cache: &dyn SharedCache) {
    let long = Duration::from_secs(60);
    let short = Duration::from_millis(300);

    assert_eq!(cache.get("absent").await.unwrap(), None);

    cache.set("k", b"one", long).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"one"[..]));
    cache.set("k", b"two", long).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"two"[..]));
    cache.set("empty", b"", long).await.unwrap();
    assert_eq!(cache.get("empty").await.unwrap().as_deref(), Some(&b""[..]));

    cache.delete("k").await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), None);
    cache.delete("never-set").await.unwrap();

    assert_eq!(cache.incr("c", long).await.unwrap(), 1);
    assert_eq!(cache.incr("c", long).await.unwrap(), 2);
    assert_eq!(cache.incr("c", long).await.unwrap(), 3);
    assert_eq!(cache.incr("other", long).await.unwrap(), 1);

    cache.set("brief", b"x", short).await.unwrap();
    assert_eq!(cache.incr("brief-count", short).await.unwrap(), 1);
    assert_eq!(cache.incr("brief-count", long).await.unwrap(), 2);
    tokio::time::sleep(short + Duration::from_millis(200)).await;
    assert_eq!(cache.get("brief").await.unwrap(), None, "values expire");
    // The first increment's TTL holds: later ones do not extend a window.
    assert_eq!(cache.incr("brief-count", short).await.unwrap(), 1);
}
