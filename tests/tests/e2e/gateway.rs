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

/// Runs one of the Python scripts of `tests/s3` against `endpoint` with the test's
/// credentials, off the runtime; its output, or the test fails with it.
fn s3_script(name: &str, endpoint: String, what: &'static str) -> tokio::task::JoinHandle<String> {
    s3_script_with(name, endpoint, what, &[])
}

/// [`s3_script`] with extra environment variables.
fn s3_script_with(
    name: &str,
    endpoint: String,
    what: &'static str,
    env: &[(&str, &str)],
) -> tokio::task::JoinHandle<String> {
    let script = repo().join("tests/s3").join(name);
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        run(
            Command::new(s3_test_python())
                .arg(script)
                .args([endpoint.as_str(), ACCESS_KEY, SECRET_KEY])
                .envs(env),
            what,
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn boto3_suite_passes_against_the_self_hosted_gateway() {
    let net = TestNetwork::start(10).await;
    let gateway = start_gateway(&net).await;
    let endpoint = format!("http://{}", gateway.local_addr());
    let out = s3_script("boto3_suite.py", endpoint, "the boto3 suite")
        .await
        .unwrap();
    assert!(out.contains("all checks passed"), "{out}");
    gateway.stop().await;
    net.stop().await;
}

/// A bucket that keeps its object names in clear, created through S3 (CreateBucket with
/// the location constraint `plain-names`), is listed by the satellite exactly as S3
/// lists, whatever the prefix and delimiter: the suite's listing checks pass with the
/// gateway's bound for exhaustive listings set so low that none of them could run, and
/// the satellite holds the names as they are (the content stays encrypted).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bucket_with_names_in_clear_lists_as_s3_does_on_the_satellite() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use tests::satellite::db::entities::{object, segment};
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    let tenant = SingleTenant::new(ACCESS_KEY.into(), SECRET_KEY.into(), project.clone());
    let mut config = GatewayConfig::new("127.0.0.1:0".parse().unwrap());
    config.settings.list_bound = 2;
    let gateway = Gateway::start(&config, tenant.clone(), tenant)
        .await
        .unwrap();
    let endpoint = format!("http://{}", gateway.local_addr());
    let out = s3_script_with(
        "boto3_suite.py",
        endpoint,
        "the listing checks in a bucket with names in clear",
        &[("S3_PLAIN_BUCKET", "public-set")],
    )
    .await
    .unwrap();
    assert!(
        out.contains("ok listings in a bucket with names in clear"),
        "{out}"
    );
    let info = project.bucket("public-set").await.unwrap();
    assert!(
        info.plain_names_tag.is_some(),
        "CreateBucket with the plain-names location made a bucket with names in clear"
    );

    let body = b"a small public asset, still encrypted at rest".repeat(3);
    project
        .upload("public-set", "nft/7.json", &body[..], Default::default())
        .await
        .unwrap();
    let db = &net.network.satellite.db;
    let row = object::Entity::find()
        .filter(object::Column::BucketName.eq("public-set"))
        .one(db)
        .await
        .unwrap()
        .expect("the object's row");
    assert_eq!(row.object_key, b"nft/7.json".to_vec());
    let stored: Vec<u8> = segment::Entity::find()
        .filter(segment::Column::ObjectId.eq(row.id.clone()))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .flat_map(|s| s.inline_data.unwrap_or_default())
        .collect();
    assert!(!stored.is_empty(), "a small object is stored inline");
    assert!(
        !stored.windows(12).any(|w| w == &body[..12]),
        "the content is encrypted"
    );
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

/// Every file under `root` by its relative path, with its bytes.
fn tree_contents(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// A directory tree as backups meet them: nested, a large file, small ones, an empty
/// one, names with spaces.
fn make_tree(root: &Path) {
    std::fs::create_dir_all(root.join("docs/deep/er")).unwrap();
    std::fs::create_dir_all(root.join("photos 2026")).unwrap();
    std::fs::write(root.join("big.bin"), tests::random_bytes(9 << 20)).unwrap();
    std::fs::write(root.join("docs/a.txt"), b"alpha").unwrap();
    std::fs::write(root.join("docs/deep/er/b.txt"), tests::random_bytes(70_000)).unwrap();
    std::fs::write(
        root.join("photos 2026/c d.jpg"),
        tests::random_bytes(300_000),
    )
    .unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
    for i in 0..20 {
        std::fs::write(
            root.join(format!("docs/small-{i}.txt")),
            format!("file {i}"),
        )
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restic_backs_up_and_restores_through_the_gateway_with_nodes_down() {
    let mut net = TestNetwork::start(10).await;
    let gateway = start_gateway(&net).await;
    let endpoint = format!("http://{}", gateway.local_addr());
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    make_tree(&tree);
    let home = dir.path().to_path_buf();
    let restic = move |args: &[&str]| {
        let mut cmd = Command::new("restic");
        cmd.args(args)
            .env("RESTIC_REPOSITORY", format!("s3:{endpoint}/restic-repo"))
            .env("RESTIC_PASSWORD", "a backup passphrase")
            .env("RESTIC_CACHE_DIR", home.join("restic-cache"))
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("HOME", &home);
        run(&mut cmd, &format!("restic {}", args.join(" ")))
    };
    let backup = {
        let restic = restic.clone();
        let tree = tree.clone();
        tokio::task::spawn_blocking(move || {
            restic(&["init"]);
            restic(&["backup", tree.to_str().unwrap()])
        })
        .await
        .unwrap()
    };
    assert!(backup.contains("snapshot"), "{backup}");
    // Two of ten nodes go down: everything stays readable (any 4 pieces of 10 do).
    net.network.stop_node(0).await;
    net.network.stop_node(1).await;
    let restored = dir.path().join("restored");
    let target = restored.clone();
    let check = tokio::task::spawn_blocking(move || {
        let check = restic(&["check", "--read-data"]);
        restic(&["restore", "latest", "--target", target.to_str().unwrap()]);
        check
    })
    .await
    .unwrap();
    assert!(check.contains("no errors were found"), "{check}");
    // restic restores under the original absolute path.
    let inside = restored.join(tree.strip_prefix("/").unwrap());
    let (want, got) = (tree_contents(&tree), tree_contents(&inside));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    assert!(got == want, "restored bytes differ");
    gateway.stop().await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rclone_syncs_checks_and_copies_back_through_the_gateway() {
    let net = TestNetwork::start(10).await;
    let gateway = start_gateway(&net).await;
    let endpoint = format!("http://{}", gateway.local_addr());
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    make_tree(&tree);
    let home = dir.path().to_path_buf();
    let rclone = move |args: &[&str]| {
        let mut cmd = Command::new("rclone");
        // A CA bundle for the machine's proxies would be loaded for plain HTTP too,
        // and this rclone cannot combine one with its own transport.
        cmd.args(args)
            .env_remove("AWS_CA_BUNDLE")
            .env("RCLONE_CONFIG", home.join("rclone.conf"))
            .env("RCLONE_CONFIG_GW_TYPE", "s3")
            .env("RCLONE_CONFIG_GW_PROVIDER", "Other")
            .env("RCLONE_CONFIG_GW_ACCESS_KEY_ID", ACCESS_KEY)
            .env("RCLONE_CONFIG_GW_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("RCLONE_CONFIG_GW_ENDPOINT", &endpoint)
            .env("RCLONE_CONFIG_GW_REGION", "us-east-1")
            .env("RCLONE_CONFIG_GW_FORCE_PATH_STYLE", "true")
            .env("HOME", &home);
        run(&mut cmd, &format!("rclone {}", args.join(" ")))
    };
    let src = tree.to_str().unwrap().to_string();
    let back = dir.path().join("back");
    let back_s = back.to_str().unwrap().to_string();
    let listed = tokio::task::spawn_blocking(move || {
        rclone(&["mkdir", "gw:rclone-bkt"]);
        rclone(&[
            "sync",
            &src,
            "gw:rclone-bkt/tree",
            "--s3-upload-cutoff",
            "5M",
            "--s3-chunk-size",
            "5M",
        ]);
        rclone(&["check", &src, "gw:rclone-bkt/tree"]);
        rclone(&["copy", "gw:rclone-bkt/tree", &back_s]);
        // A deletion and a change at the source: the next sync mirrors both.
        std::fs::remove_file(Path::new(&src).join("docs/a.txt")).unwrap();
        std::fs::write(Path::new(&src).join("docs/small-3.txt"), b"changed").unwrap();
        rclone(&["sync", &src, "gw:rclone-bkt/tree"]);
        rclone(&["check", &src, "gw:rclone-bkt/tree"]);
        rclone(&["lsf", "-R", "gw:rclone-bkt/tree"])
    })
    .await
    .unwrap();
    assert!(!listed.contains("docs/a.txt"), "{listed}");
    assert!(listed.contains("photos 2026/c d.jpg"), "{listed}");
    assert!(listed.contains("docs/deep/er/b.txt"), "{listed}");
    // The first copy back matched the tree as it was then (a.txt still there).
    let copied = tree_contents(&back);
    assert_eq!(
        copied.get("docs/a.txt").map(Vec::as_slice),
        Some(&b"alpha"[..])
    );
    assert!(copied["big.bin"] == std::fs::read(tree.join("big.bin")).unwrap());
    assert_eq!(copied.len(), tree_contents(&tree).len() + 1);
    gateway.stop().await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crowd_and_an_attacker_through_the_gateway_with_a_node_killed() {
    // Reads racing overwrites of the same key: with a deletion grace, a read that
    // opened keeps the pieces it reads (a multi-segment one may still end when its
    // object is replaced, and the script reads again).
    let mut net = TestNetwork::start_with(tests::Options {
        tweak: Box::new(|c| c.satellite.piece_deletion_grace = std::time::Duration::from_secs(60)),
        ..Default::default()
    })
    .await;
    let gateway = start_gateway(&net).await;
    let endpoint = format!("http://{}", gateway.local_addr());
    let crowd = s3_script("crowd.py", endpoint, "the crowd");
    // A node dies while the crowd is writing and reading.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    net.network.stop_node(3).await;
    let out = crowd.await.unwrap();
    assert!(out.contains("all checks passed"), "{out}");
    gateway.stop().await;
    net.stop().await;
}
