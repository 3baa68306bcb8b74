//! The satellite never holds a plaintext object key, metadata or content, and storage
//! nodes hold neither names nor plaintext content.
//!
//! What is stored is searched as stored and decoded: every run of base64 or base64url
//! characters in the satellite's database is decoded and searched too (object keys are
//! stored base64url-encoded, so a key that was only encoded, never encrypted, would not
//! show as ASCII), and every file under every node's directory is searched byte for
//! byte (the erasure code is systematic, so unencrypted content would show in pieces).

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use tests::uplink_core::client::UploadOptions;
use tests::{TestNetwork, random_bytes};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Plaintext that must never be stored by the satellite, nor by the nodes.
const NAMES: [&str; 4] = [
    "confidential-plans",
    "budget-2027",
    "acquisition-targets",
    "x-very-secret-type",
];
const OWNER: &str = "agent-smith-the-owner";
const INLINE_TEXT: &str = "the launch code is 0000 and nobody may know";
/// Repeated through the remote object, so that any piece of it would carry it whole.
const REMOTE_MARKER: &str = "the merger target is Initech, announce on Friday. ";

/// Every needle, in the forms it could be stored in: as is, base64 and base64url at each
/// of the three alignments, and hex.
fn encoded_forms(needle: &str) -> Vec<Vec<u8>> {
    let bytes = needle.as_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut out = vec![bytes.to_vec(), hex.into_bytes()];
    for skip in 0..3 {
        // Bytes that start `skip` into a base64 group: drop the characters that also
        // depend on what precedes or follows.
        let shifted = [&vec![0u8; skip][..], bytes].concat();
        for engine in [&URL_SAFE_NO_PAD, &STANDARD_NO_PAD] {
            let text = engine.encode(&shifted);
            let start = (skip * 8).div_ceil(6);
            let end = text.len() - 2;
            out.push(text.as_bytes()[start..end].to_vec());
        }
    }
    out
}

/// The decoding of every run of base64(url) characters in `stored`, so that what was
/// merely encoded can be searched as plaintext.
fn decoded_runs(stored: &[u8]) -> (Vec<u8>, usize) {
    let is_b64 = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'/');
    let mut out = Vec::new();
    let mut runs = 0;
    for run in stored.split(|b| !is_b64(b)).filter(|r| r.len() >= 8) {
        // Object keys are components joined by '/', itself a base64 character: decode
        // the whole run and each component.
        let parts = std::iter::once(run).chain(run.split(|b| *b == b'/'));
        for part in parts.filter(|p| p.len() >= 8) {
            for cut in 0..4 {
                let text = &part[..part.len() - cut.min(part.len())];
                let decoded = URL_SAFE_NO_PAD
                    .decode(text)
                    .or_else(|_| STANDARD_NO_PAD.decode(text));
                if let Ok(d) = decoded {
                    out.extend(d);
                    out.push(0);
                    runs += 1;
                    break;
                }
            }
        }
    }
    (out, runs)
}

fn files_under(dir: &Path, out: &mut Vec<u8>, count: &mut usize) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out, count);
        } else if path.is_file() {
            out.extend(std::fs::read(&path).unwrap());
            *count += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_names_metadata_or_content_on_the_satellite_or_the_nodes() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("vault").await.unwrap();
    let mut metadata = BTreeMap::new();
    metadata.insert("owner".to_string(), OWNER.to_string());
    let mut remote = REMOTE_MARKER
        .repeat(300_000 / REMOTE_MARKER.len())
        .into_bytes();
    remote.extend(random_bytes(1000));
    for (key, body) in [
        (
            "confidential-plans/budget-2027.xlsx",
            INLINE_TEXT.as_bytes().to_vec(),
        ),
        ("confidential-plans/acquisition-targets.txt", remote.clone()),
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
    assert!(
        tests::download(
            &project,
            "vault",
            "confidential-plans/acquisition-targets.txt"
        )
        .await
            == remote
    );

    // Every byte the satellite keeps in its directory (the SQLite database and WAL) ...
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(net.satellite_dir()).unwrap().flatten() {
        if entry.path().is_file() {
            stored.extend(std::fs::read(entry.path()).unwrap());
        }
    }
    // ... and every row, whichever database is configured ...
    let (rows, object_keys) = database_rows(&net).await;
    stored.extend(rows);
    assert!(
        contains(&stored, b"vault"),
        "sanity: bucket names are stored"
    );
    // ... and all of it decoded wherever it looks like base64: the stored object keys
    // at least, two components each.
    let (decoded, runs) = decoded_runs(&stored);
    let (_, key_runs) = decoded_runs(&object_keys);
    assert!(key_runs >= 4, "sanity: {key_runs} decodable key components");
    assert!(runs >= key_runs);
    for needle in NAMES
        .iter()
        .chain(&[OWNER, INLINE_TEXT, &REMOTE_MARKER[..24]])
    {
        for form in encoded_forms(needle) {
            assert!(
                !contains(&stored, &form),
                "{needle:?} found in the satellite's data as {:?}",
                String::from_utf8_lossy(&form)
            );
        }
        assert!(
            !contains(&decoded, needle.as_bytes()),
            "{needle:?} found in the satellite's data once decoded"
        );
    }

    // Every file of every node: pieces and whatever else a node writes.
    let mut on_nodes = Vec::new();
    let mut files = 0;
    for node in net.network.running_nodes() {
        files_under(node.data_dir(), &mut on_nodes, &mut files);
    }
    assert!(
        on_nodes.len() > remote.len(),
        "sanity: the nodes hold the pieces ({} bytes in {files} files)",
        on_nodes.len()
    );
    for needle in NAMES
        .iter()
        .chain(&[OWNER, "vault", INLINE_TEXT, &REMOTE_MARKER[..24]])
    {
        for form in encoded_forms(needle) {
            assert!(
                !contains(&on_nodes, &form),
                "{needle:?} found in a node's files as {:?}",
                String::from_utf8_lossy(&form)
            );
        }
    }
    net.stop().await;
}

/// The content of every table, as bytes; and the stored object keys alone.
async fn database_rows(net: &TestNetwork) -> (Vec<u8>, Vec<u8>) {
    use sea_orm::EntityTrait;
    use tests::satellite::db::entities::{api_key, bucket, node, object, project, segment};
    let db = &net.network.satellite.db;
    let mut out = Vec::new();
    let mut keys = Vec::new();
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
        out.push(b' ');
        keys.extend(&o.object_key);
        keys.push(b' ');
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
    (out, keys)
}
