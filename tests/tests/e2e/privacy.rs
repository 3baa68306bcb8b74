//! The satellite never holds a plaintext object key, metadata or inline content.

use std::collections::BTreeMap;

use tests::uplink_core::client::UploadOptions;
use tests::{TestNetwork, random_bytes};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_names_metadata_or_content_in_the_satellite_database() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("vault").await.unwrap();
    let secret_text = b"the launch code is 0000 and nobody may know";
    let mut metadata = BTreeMap::new();
    metadata.insert("owner".to_string(), "agent-smith-the-owner".to_string());
    for (key, body) in [
        ("confidential-plans/budget-2027.xlsx", secret_text.to_vec()),
        (
            "confidential-plans/acquisition-targets.txt",
            random_bytes(300_000),
        ),
    ] {
        project
            .upload(
                "vault",
                key,
                &body[..],
                UploadOptions {
                    content_type: Some("application/x-very-secret-type".into()),
                    metadata: metadata.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    // The names come back decrypted to the owner of the grant.
    let listed = project.list_objects("vault", "", true).await.unwrap();
    assert_eq!(listed.len(), 2);
    let stat = project
        .stat_object("vault", "confidential-plans/budget-2027.xlsx")
        .await
        .unwrap();
    assert_eq!(
        stat.content_type.as_deref(),
        Some("application/x-very-secret-type")
    );
    assert_eq!(stat.metadata, metadata);

    // Every byte the satellite stores: database, WAL, anything in its directory.
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(net.satellite_dir()).unwrap().flatten() {
        if entry.path().is_file() {
            stored.extend(std::fs::read(entry.path()).unwrap());
        }
    }
    assert!(
        contains(&stored, b"vault"),
        "sanity: bucket names are stored"
    );
    for needle in [
        &b"confidential-plans"[..],
        b"budget-2027",
        b"acquisition-targets",
        b"x-very-secret-type",
        b"agent-smith-the-owner",
        b"the launch code",
    ] {
        assert!(
            !contains(&stored, needle),
            "{:?} found in the satellite's files",
            String::from_utf8_lossy(needle)
        );
    }
    net.stop().await;
}
