//! Listing by prefix, with and without the delimiter, across pages.

use std::collections::BTreeSet;

use tests::uplink_core::client::ListOptions;
use tests::{TestNetwork, random_bytes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_delimiters_and_pages() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("list").await.unwrap();
    let keys = [
        "a.txt",
        "photos/2024/jan.jpg",
        "photos/2024/feb.jpg",
        "photos/2025/mar.jpg",
        "photos/cover.png",
        "videos/x.mp4",
        "z",
    ];
    let body = random_bytes(10);
    for k in keys {
        project
            .upload("list", k, &body[..], Default::default())
            .await
            .unwrap();
    }

    // Every page size gives the same complete result.
    for limit in [1, 2, 3, 100] {
        let mut all = BTreeSet::new();
        let mut options = ListOptions {
            recursive: true,
            limit: Some(limit),
            ..Default::default()
        };
        let mut pages = 0;
        loop {
            let page = project.list_objects_page("list", &options).await.unwrap();
            assert!(page.items.len() <= limit as usize);
            pages += 1;
            for item in page.items {
                assert!(all.insert(item.key.clone()), "{} listed twice", item.key);
            }
            match page.next_cursor {
                Some(c) => options.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(all, keys.iter().map(|k| k.to_string()).collect());
        assert!(pages >= keys.len().div_ceil(limit as usize));
    }

    // Top level collapses at the delimiter, also across pages.
    for limit in [1, 2, 100] {
        let mut seen = BTreeSet::new();
        let mut options = ListOptions {
            limit: Some(limit),
            ..Default::default()
        };
        loop {
            let page = project.list_objects_page("list", &options).await.unwrap();
            for item in page.items {
                assert_eq!(item.is_prefix, item.key.ends_with('/'));
                assert!(seen.insert(item.key));
            }
            match page.next_cursor {
                Some(c) => options.cursor = Some(c),
                None => break,
            }
        }
        let expected: BTreeSet<String> = ["a.txt", "photos/", "videos/", "z"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(seen, expected, "limit {limit}");
    }

    let under: BTreeSet<String> = project
        .list_objects("list", "photos/", false)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(
        under,
        ["photos/2024/", "photos/2025/", "photos/cover.png"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    let deep: Vec<String> = project
        .list_objects("list", "photos/2024/", true)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(deep.len(), 2);
    assert!(deep.iter().all(|k| k.starts_with("photos/2024/")));
    assert!(
        project
            .list_objects("list", "nothing/", true)
            .await
            .unwrap()
            .is_empty()
    );
    net.stop().await;
}
