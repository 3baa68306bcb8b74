//! The self-hosted S3 gateway, driven by real S3 clients: the boto3 suite
//! (`tests/s3/boto3_suite.py`) and the aws cli. `scripts/test-all.sh` installs both
//! (into a virtual environment whose interpreter it passes as `S3_TEST_PYTHON`).

use std::path::{Path, PathBuf};
use std::process::Command;

use tests::uplink_core::gateway::{Gateway, GatewayConfig, SingleTenant};
use tests::{TestNetwork, s3_test_python};

const ACCESS_KEY: &str = "UPTESTACCESSKEY00001";
const SECRET_KEY: &str = "test-secret-key-with-enough-length";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs a program to completion, failing the test with its output if it fails.
fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{what}: cannot run {cmd:?}: {e} (scripts/test-all.sh installs the S3 clients)")
    });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn start_gateway(net: &TestNetwork) -> Gateway {
    let project = net.project().await;
    let tenant = SingleTenant::new(ACCESS_KEY.into(), SECRET_KEY.into(), project);
    Gateway::start(
        &GatewayConfig::new("127.0.0.1:0".parse().unwrap()),
        tenant.clone(),
        tenant,
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn boto3_suite_passes_against_the_self_hosted_gateway() {
    let net = TestNetwork::start(10).await;
    let gateway = start_gateway(&net).await;
    let endpoint = format!("http://{}", gateway.local_addr());
    let script = repo().join("tests/s3/boto3_suite.py");
    let out = tokio::task::spawn_blocking(move || {
        run(
            Command::new(s3_test_python()).arg(script).args([
                endpoint.as_str(),
                ACCESS_KEY,
                SECRET_KEY,
            ]),
            "the boto3 suite",
        )
    })
    .await
    .unwrap();
    assert!(out.contains("all checks passed"), "{out}");
    gateway.stop().await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aws_cli_copies_syncs_and_lists_through_the_gateway() {
    let net = TestNetwork::start(10).await;
    let gateway = start_gateway(&net).await;
    let endpoint = format!("http://{}", gateway.local_addr());
    let dir = tempfile::tempdir().unwrap();
    // A tree with a file large enough for the cli's multipart upload (8 MiB parts).
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("a/b")).unwrap();
    let big = tests::random_bytes(17 << 20);
    std::fs::write(tree.join("big.bin"), &big).unwrap();
    std::fs::write(tree.join("a/one.txt"), b"one").unwrap();
    std::fs::write(tree.join("a/b/two.txt"), b"two").unwrap();
    let home = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        let aws = |args: &[&str]| {
            let mut cmd = Command::new(s3_test_python());
            cmd.args(["-m", "awscli"])
                .args(args)
                .args(["--endpoint-url", &endpoint, "--region", "us-east-1"])
                .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
                .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
                .env("AWS_CONFIG_FILE", home.join("aws-config"))
                .env("HOME", &home);
            run(&mut cmd, &format!("aws {}", args.join(" ")))
        };
        aws(&["s3", "mb", "s3://cli-bucket"]);
        aws(&[
            "s3",
            "cp",
            tree.join("big.bin").to_str().unwrap(),
            "s3://cli-bucket/big.bin",
        ]);
        aws(&[
            "s3",
            "sync",
            tree.to_str().unwrap(),
            "s3://cli-bucket/tree/",
        ]);
        let listed = aws(&["s3", "ls", "--recursive", "s3://cli-bucket/"]);
        let back = home.join("back");
        aws(&[
            "s3",
            "sync",
            "s3://cli-bucket/tree/",
            back.to_str().unwrap(),
        ]);
        aws(&[
            "s3",
            "cp",
            "s3://cli-bucket/big.bin",
            home.join("big.copy").to_str().unwrap(),
        ]);
        let head = aws(&[
            "s3api",
            "head-object",
            "--bucket",
            "cli-bucket",
            "--key",
            "big.bin",
        ]);
        (listed, back, head)
    })
    .await
    .unwrap();
    let (listed, back, head) = out;
    for key in [
        "big.bin",
        "tree/big.bin",
        "tree/a/one.txt",
        "tree/a/b/two.txt",
    ] {
        assert!(listed.contains(key), "{key} missing from:\n{listed}");
    }
    assert!(std::fs::read(back.join("big.bin")).unwrap() == big);
    assert_eq!(std::fs::read(back.join("a/b/two.txt")).unwrap(), b"two");
    assert!(std::fs::read(dir.path().join("big.copy")).unwrap() == big);
    // Uploaded in 8 MiB parts: the ETag has the multipart form.
    assert!(head.contains("-3\\\""), "{head}");
    gateway.stop().await;
    net.stop().await;
}
