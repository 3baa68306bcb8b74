//! The hosted edge: a grant registered with the auth service serves S3 through the
//! satellite's gateway (the same boto3 suite as the self-hosted one); the credential
//! store alone reveals nothing; revoked and expired grants stop working.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sea_orm::EntityTrait;
use tests::uplink_core::access::caveat::Caveat;
use tests::uplink_core::client::{ClientConfig, Project};
use tests::uplink_core::protocol::edge::{RegisterRequest, RegisterResponse};
use tests::uplink_core::protocol::now_unix;
use tests::{TestNetwork, s3_test_python};

/// Runs a boto3 one-liner that lists buckets; returns the S3 error code, if any.
fn list_buckets_error(endpoint: &str, creds: &RegisterResponse) -> Option<String> {
    let script = r#"
import sys, boto3
from botocore.config import Config
from botocore.exceptions import ClientError
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2],
    aws_secret_access_key=sys.argv[3], region_name="us-east-1",
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
try:
    s3.list_buckets()
    print("OK")
except ClientError as e:
    print(e.response["Error"]["Code"])
"#;
    let out = Command::new(s3_test_python())
        .args([
            "-c",
            script,
            endpoint,
            &creds.access_key_id,
            &creds.secret_key,
        ])
        .output()
        .expect("python runs (scripts/test-all.sh installs boto3)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (answer != "OK").then_some(answer)
}

fn client(net: &TestNetwork) -> ClientConfig {
    ClientConfig {
        transport: net.mode(),
        ..Default::default()
    }
}

async fn register(project: &Project, public: bool) -> RegisterResponse {
    project
        .metainfo()
        .register_edge(&RegisterRequest {
            access_grant: project.access().serialize(),
            public,
        })
        .await
        .expect("registers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn boto3_suite_passes_against_the_hosted_gateway() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    let creds = register(&project, false).await;
    let endpoint = creds
        .endpoint
        .clone()
        .expect("the test satellite serves S3");
    assert_eq!(Some(endpoint.as_str()), net.network.satellite.edge_s3_url());
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("tests/s3/boto3_suite.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(s3_test_python())
            .arg(script)
            .args([endpoint.as_str(), &creds.access_key_id, &creds.secret_key])
            .env("S3_GATEWAY_KIND", "hosted")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "the boto3 suite failed against the hosted gateway:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_store_reveals_nothing_and_revoked_or_expired_grants_stop() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("bkt").await.unwrap();
    let endpoint = net.network.satellite.edge_s3_url().unwrap().to_string();

    // A grant of its own (so that revoking it leaves the test's grant working).
    let own = project.access().restrict(Caveat::default(), &[]).unwrap();
    let own_project = Project::open(own.clone(), client(&net)).unwrap();
    let creds = register(&own_project, false).await;
    assert_eq!(list_buckets_error(&endpoint, &creds), None);

    // The rows hold neither the grant, its API key, the secret nor the access key id.
    let rows = satellite::db::entities::edge_credential::Entity::find()
        .all(&net.network.satellite.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let dump = format!("{rows:?}");
    let bytes: Vec<u8> = rows
        .iter()
        .flat_map(|r| {
            [
                r.id_hash.clone(),
                r.sealed_grant.clone(),
                r.sealed_grant_nonce.clone(),
            ]
        })
        .flatten()
        .collect();
    for secret in [
        own.serialize(),
        own.api_key.serialize(),
        creds.secret_key.clone(),
        creds.access_key_id.clone(),
    ] {
        assert!(!dump.contains(&secret), "a row shows {secret}");
        assert!(
            !bytes
                .windows(16)
                .any(|w| secret.as_bytes().windows(16).any(|s| s == w)),
            "a row holds part of {secret}"
        );
    }
    // An id that was never issued, and the real one.
    assert!(
        satellite::edge::credentials::lookup(
            &net.network.satellite.db,
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        )
        .await
        .unwrap()
        .is_none()
    );
    let found =
        satellite::edge::credentials::lookup(&net.network.satellite.db, &creds.access_key_id)
            .await
            .unwrap()
            .expect("the issued id opens its row");
    assert_eq!(found.grant, own.serialize());
    // A wrong secret is refused.
    let mut wrong = creds.clone();
    wrong.secret_key.push('x');
    assert_eq!(
        list_buckets_error(&endpoint, &wrong).as_deref(),
        Some("SignatureDoesNotMatch")
    );

    // Revoked: the gateway's next request is refused by the satellite.
    project.revoke(&own.api_key).await.unwrap();
    let mut refused = None;
    for _ in 0..50 {
        refused = list_buckets_error(&endpoint, &creds);
        if refused.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(refused.as_deref(), Some("AccessDenied"));
    assert_eq!(
        list_buckets_error(&endpoint, &register(&project, false).await),
        None
    );

    // A grant that expires in a few seconds: its credentials stop with it. (The window
    // leaves room for a loaded machine: the first request must come before it ends.)
    let ends = now_unix() + 8;
    let brief = project
        .access()
        .restrict(
            Caveat {
                not_after: Some(ends),
                ..Default::default()
            },
            &[],
        )
        .unwrap();
    let brief_creds = register(&Project::open(brief, client(&net)).unwrap(), false).await;
    assert_eq!(brief_creds.not_after, Some(ends));
    assert_eq!(list_buckets_error(&endpoint, &brief_creds), None);
    while now_unix() <= ends {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        list_buckets_error(&endpoint, &brief_creds).as_deref(),
        Some("InvalidAccessKeyId")
    );

    // A public registration must be read-only.
    let err = project
        .metainfo()
        .register_edge(&RegisterRequest {
            access_grant: project.access().serialize(),
            public: true,
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    net.stop().await;
}
