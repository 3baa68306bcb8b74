//! One behaviour for every [`SharedCache`] adapter.

use std::time::{Duration, Instant};

use super::SharedCache;

pub async fn run(cache: &dyn SharedCache) {
    let long = Duration::from_secs(60);

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

    expiry(cache).await;
}

/// Values and counters expire after their TTL, and later increments do not extend a
/// counter's window. The calls that must fall inside a window are timed, and the window
/// doubled until they fit, so a slow machine cannot fail the test; its end is polled for.
async fn expiry(cache: &dyn SharedCache) {
    let long = Duration::from_secs(60);
    let mut short = Duration::from_millis(500);
    for attempt in 0.. {
        assert!(
            attempt < 6,
            "the cache never answered two calls within {short:?}"
        );
        let (count, value) = (format!("brief-count-{attempt}"), format!("brief-{attempt}"));
        let began = Instant::now();
        assert_eq!(cache.incr(&count, short).await.unwrap(), 1);
        let second = cache.incr(&count, long).await.unwrap();
        // Set after the counter, so it expires no earlier than the counter's window.
        cache.set(&value, b"x", short).await.unwrap();
        let present = cache.get(&value).await.unwrap();
        if began.elapsed() >= short {
            short *= 2;
            continue;
        }
        assert_eq!(second, 2, "a counter counts within its window");
        assert_eq!(present.as_deref(), Some(&b"x"[..]), "a value lives its TTL");
        let deadline = Instant::now() + short + Duration::from_secs(30);
        while cache.get(&value).await.unwrap().is_some() {
            assert!(Instant::now() < deadline, "values expire");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The first increment's TTL holds: the second one, with a long TTL, did not
        // extend the window, so the count starts again.
        assert_eq!(cache.incr(&count, short).await.unwrap(), 1);
        return;
    }
}
