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

    // Every byte the satellite keeps in its directory (the SQLite database and WAL) ...
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(net.satellite_dir()).unwrap().flatten() {
        if entry.path().is_file() {
            stored.extend(std::fs::read(entry.path()).unwrap());
        }
    }
    // ... and every row, whichever database is configured.
    stored.extend(database_rows(&net).await);
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

/// The content of every table, as bytes.
async fn database_rows(net: &TestNetwork) -> Vec<u8> {
    use sea_orm::EntityTrait;
    use tests::satellite::db::entities::{api_key, bucket, node, object, project, segment};
    let db = &net.network.satellite.db;
    let mut out = Vec::new();
    for p in project::Entity::find().all(db).await.unwrap() {
        out.extend(format!("{p:?}").into_bytes());
    }
    for k in api_key::Entity::find().all(db).await.unwrap() {
        out.extend(k.name.into_bytes());
    }
    for b in bucket::Entity::find().all(db).await.unwrap() {
        out.extend(format!("{b:?}").into_bytes());
    }
    for o in object::Entity::find().all(db).await.unwrap() {
        out.extend(&o.object_key);
        out.extend(o.encrypted_metadata.clone().unwrap_or_default());
        out.extend(format!("{o:?}").into_bytes());
    }
    for s in segment::Entity::find().all(db).await.unwrap() {
        out.extend(&s.encrypted_key);
        out.extend(s.inline_data.unwrap_or_default());
    }
    for n in node::Entity::find().all(db).await.unwrap() {
        out.extend(n.address.into_bytes());
    }
    out
}
