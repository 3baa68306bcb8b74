//! The real binaries, run the way a user would: a `satellite` process, a `node-sim
//! nodes` process, the `uplink` CLI, and `node-sim network up` with a fault plan.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tests::uplink_core::transport::{Expected, Mode, Transport};

/// The directory holding the workspace's binaries (`target/<profile>`).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    deps.parent().unwrap().to_path_buf()
}

fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing; `cargo test --workspace` builds it",
        path.display()
    );
    path
}

/// Kills the process when the test ends, pass or fail.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A port free on 127.0.1.1 .. 127.0.n.1 at once.
fn free_port_on_nodes(n: usize) -> u16 {
    'search: for _ in 0..50 {
        let port = free_port("127.0.1.1");
        for i in 1..=n {
            if std::net::TcpListener::bind((format!("127.0.{i}.1").as_str(), port)).is_err() {
                continue 'search;
            }
        }
        return port;
    }
    panic!("no port free on every node address");
}

/// How long one command may take before it is killed and the test fails.
const COMMAND_LIMIT: Duration = Duration::from_secs(120);

/// Waits for `child` within [`COMMAND_LIMIT`], killing it and failing if it hangs.
fn wait_within(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + COMMAND_LIMIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still running after {COMMAND_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `cmd.output()`, bounded by [`COMMAND_LIMIT`].
fn output(cmd: &mut Command) -> Output {
    use std::io::Read;
    let what = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let status = wait_within(&mut child, &what);
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn run(cmd: &mut Command) -> Output {
    let out = output(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// GET /health over TLS from whatever identity answers (the test learns the id here).
fn health(address: &str) -> Option<serde_json::Value> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime.block_on(async {
        // A client of its own: connections do not outlive this runtime.
        let transport = Transport::new(Mode::Tls).ok()?;
        let url = transport
            .url_expecting(Expected::AnyIdentity, address, "/health")
            .ok()?;
        let response = transport
            .http()
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    })
}

/// The status a POST of an empty JSON object to `path` gets (TLS, any identity).
fn post_status(address: &str, path: &str) -> Option<u16> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime.block_on(async {
        let transport = Transport::new(Mode::Tls).ok()?;
        let url = transport
            .url_expecting(Expected::AnyIdentity, address, path)
            .ok()?;
        let response = transport
            .http()
            .post(url)
            .json(&serde_json::json!({}))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        Some(response.status().as_u16())
    })
}

/// A project made with the operator's admin command; returns its API key.
fn create_project(sat_dir: &Path, name: &str) -> String {
    let created = run(Command::new(bin("satellite"))
        .args(["admin", "--data-dir"])
        .arg(sat_dir)
        .args(["create-project", "--name", name]));
    let stdout = String::from_utf8(created.stdout).unwrap();
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("api key:"))
        .unwrap()
        .trim()
        .to_string()
}

/// A `node-sim nodes` process of ten nodes joined to the satellite at `url`, once the
/// satellite (its API at `sat_addr`) counts all ten online.
fn ten_nodes(url: &str, sat_addr: &str, dir: &Path) -> Guard {
    let port = free_port_on_nodes(10);
    let nodes = Guard(
        Command::new(bin("node-sim"))
            .args(["nodes", "--satellite", url, "--count", "10", "--first", "1"])
            .arg("--dir")
            .arg(dir)
            .args(["--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("10 nodes online", || {
        health(sat_addr).is_some_and(|h| h["nodes"]["online"].as_u64() == Some(10))
    });
    nodes
}

fn uplink(config: &Path) -> Command {
    let mut c = Command::new(bin("uplink"));
    c.env("UPLINK_CONFIG_DIR", config)
        .env_remove("UPLINK_ACCESS");
    c
}

#[test]
fn satellite_nodes_and_uplink_as_separate_processes() {
    let dir = tempfile::tempdir().unwrap();
    let sat_dir = dir.path().join("satellite");
    let sat_addr = format!("127.0.0.1:{}", free_port("127.0.0.1"));
    let links_addr = format!("127.0.0.1:{}", free_port("127.0.0.1"));

    run(Command::new(bin("satellite"))
        .args(["setup", "--data-dir"])
        .arg(&sat_dir)
        .args(["--listen", &sat_addr]));
    let _satellite = Guard(
        Command::new(bin("satellite"))
            .args(["run", "--data-dir"])
            .arg(&sat_dir)
            .env("SATELLITE_NODE_ONLINE_WINDOW", "1m")
            .env("SATELLITE_EDGE__LINKS_LISTEN", &links_addr)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the satellite", || health(&sat_addr).is_some());
    let url = health(&sat_addr).unwrap()["satellite_url"]
        .as_str()
        .unwrap()
        .to_string();

    let api_key = create_project(&sat_dir, "cli-test");
    let _nodes = ten_nodes(&url, &sat_addr, &dir.path().join("nodes"));

    let config = dir.path().join("uplink");
    run(uplink(&config).args([
        "access",
        "create",
        "--satellite",
        &sat_addr, // just host:port: the id is taken from the satellite (trust on first use)
        "--api-key",
        &api_key,
        "--passphrase",
        "correct horse battery staple",
    ]));
    let inspected = run(uplink(&config).args(["access", "inspect"]));
    assert!(String::from_utf8_lossy(&inspected.stdout).contains(&url));
    run(uplink(&config).args(["mb", "sj://files"]));
    let data: Vec<u8> = (0..1_500_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let src = dir.path().join("in.bin");
    std::fs::write(&src, &data).unwrap();
    run(uplink(&config)
        .arg("cp")
        .arg(&src)
        .arg("sj://files/dir/in.bin"));

    // A bucket with names in clear: listed and read back like any other.
    let made = run(uplink(&config).args(["mb", "--plain-names", "sj://public"]));
    assert!(String::from_utf8_lossy(&made.stdout).contains("names are kept in clear"));
    run(uplink(&config)
        .arg("cp")
        .arg(&src)
        .arg("sj://public/nft/in.bin"));
    let listed = run(uplink(&config).args(["ls", "sj://public/nft/"]));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("in.bin"));
    let back = dir.path().join("public.bin");
    run(uplink(&config)
        .arg("cp")
        .arg("sj://public/nft/in.bin")
        .arg(&back));
    assert!(
        std::fs::read(&back).unwrap() == data,
        "read back from a bucket in clear"
    );

    // Streamed from stdin.
    let mut child = uplink(&config)
        .args(["cp", "-", "sj://files/piped.bin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&data[..700_000]).unwrap();
    }
    assert!(wait_within(&mut child, "uplink cp -").success());

    let listing = run(uplink(&config).args(["ls", "--recursive", "sj://files"]));
    let listing = String::from_utf8(listing.stdout).unwrap();
    assert!(
        listing.contains("dir/in.bin") && listing.contains("piped.bin"),
        "{listing}"
    );

    let dst = dir.path().join("out.bin");
    run(uplink(&config)
        .arg("cp")
        .arg("sj://files/dir/in.bin")
        .arg(&dst));
    assert!(std::fs::read(&dst).unwrap() == data);
    // Device targets are written in place, never replaced by a regular file.
    run(uplink(&config).args(["cp", "sj://files/dir/in.bin", "/dev/null"]));
    {
        use std::os::unix::fs::FileTypeExt;
        let meta = std::fs::metadata("/dev/null").unwrap();
        assert!(meta.file_type().is_char_device(), "/dev/null was replaced");
    }
    let ranged =
        run(uplink(&config).args(["cp", "--range", "1000-1999", "sj://files/piped.bin", "-"]));
    assert_eq!(ranged.stdout, data[1000..2000]);

    // Errors a user meets are stated plainly.
    let missing = output(uplink(&config).args(["cp", "sj://files/nope", "-"]));
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.starts_with("error: object \"nope\" not found"), "{err}");
    let nobucket = output(uplink(&config).arg("cp").arg(&src).arg("sj://nobucket/x"));
    assert!(!nobucket.status.success());
    let err = String::from_utf8_lossy(&nobucket.stderr);
    assert!(
        err.starts_with("error: bucket \"nobucket\" does not exist"),
        "{err}"
    );

    // Copies and moves between sj:// URLs happen on the satellite.
    let copied = run(uplink(&config).args(["cp", "sj://files/dir/in.bin", "sj://files/copy.bin"]));
    assert!(
        String::from_utf8_lossy(&copied.stderr).contains("on the satellite"),
        "{}",
        String::from_utf8_lossy(&copied.stderr)
    );
    run(uplink(&config).args(["mv", "sj://files/copy.bin", "sj://files/moved/"]));
    let back = dir.path().join("moved.bin");
    run(uplink(&config)
        .arg("cp")
        .arg("sj://files/moved/copy.bin")
        .arg(&back));
    assert!(std::fs::read(&back).unwrap() == data);
    let listing = String::from_utf8_lossy(
        &run(uplink(&config).args(["ls", "--recursive", "sj://files"])).stdout,
    )
    .into_owned();
    assert!(
        listing.contains("moved/copy.bin") && !listing.contains(" copy.bin"),
        "{listing}"
    );
    // Registering with the edge's auth service gives S3 credentials.
    let registered = run(uplink(&config).args(["access", "register", "--json"]));
    let creds: serde_json::Value = serde_json::from_slice(&registered.stdout).unwrap();
    assert_eq!(
        creds["access_key_id"].as_str().unwrap().len(),
        28,
        "{creds}"
    );
    assert_eq!(creds["secret_key"].as_str().unwrap().len(), 40, "{creds}");

    // A pinned public link to one object, and one to a prefix.
    let shared = run(uplink(&config).args(["share", "--url", "--pin", "sj://files/dir/in.bin"]));
    let link = String::from_utf8(shared.stdout).unwrap().trim().to_string();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&data))
    };
    assert!(
        link.starts_with(&format!("http://{links_addr}/s/"))
            && link.ends_with(&format!("/files/dir/in.bin?sha256={sha}")),
        "{link}"
    );
    let fetch = |url: String| {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move {
                let res = reqwest::get(url).await.unwrap();
                (res.status(), res.bytes().await.unwrap().to_vec())
            })
    };
    let (status, body) = fetch(link.replacen("/s/", "/raw/", 1));
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(body == data, "the link serves the object's bytes");
    let folder =
        run(uplink(&config).args(["share", "--url", "--not-after", "+1h", "sj://files/dir/"]));
    let folder = String::from_utf8(folder.stdout).unwrap().trim().to_string();
    let (status, page) = fetch(folder);
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(String::from_utf8_lossy(&page).contains(">in.bin</a>"));
    let refused = output(uplink(&config).args(["share", "--url", "--pin", "sj://files/dir/"]));
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("name an object, not a prefix"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // Directories both ways with several objects in flight, and prefix to prefix.
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("a/b")).unwrap();
    std::fs::write(tree.join("top.bin"), &data[..300_000]).unwrap();
    std::fs::write(tree.join("a/one.txt"), b"one").unwrap();
    std::fs::write(tree.join("a/b/two.txt"), b"two").unwrap();
    std::fs::write(tree.join("a/b/empty"), b"").unwrap();
    let up = run(uplink(&config)
        .args(["cp", "--recursive", "--parallelism", "3"])
        .arg(&tree)
        .arg("sj://files/tree/"));
    assert!(
        String::from_utf8_lossy(&up.stderr).contains("copied 4 of 4 objects"),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    run(uplink(&config).args(["cp", "-r", "sj://files/tree", "sj://files/tree-copy/"]));
    // A name that would climb out of the target directory is never written there.
    run(uplink(&config)
        .arg("cp")
        .arg(tree.join("a/one.txt"))
        .arg("sj://files/tree-copy/../escaped.txt"));
    let back = dir.path().join("tree-back");
    let down = output(
        uplink(&config)
            .args(["cp", "-r", "sj://files/tree-copy/"])
            .arg(&back),
    );
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(String::from_utf8_lossy(&down.stderr).contains("not a safe local path"));
    assert!(!dir.path().join("escaped.txt").exists());
    assert!(std::fs::read(back.join("top.bin")).unwrap() == data[..300_000]);
    assert_eq!(std::fs::read(back.join("a/b/two.txt")).unwrap(), b"two");
    assert_eq!(std::fs::read(back.join("a/one.txt")).unwrap(), b"one");
    assert!(std::fs::read(back.join("a/b/empty")).unwrap().is_empty());
    let refused = output(
        uplink(&config)
            .args(["cp", "-r"])
            .arg(tree.join("top.bin"))
            .arg("sj://files/x/"),
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is not a directory"));

    run(uplink(&config).args(["rm", "sj://files/piped.bin"]));
    run(uplink(&config).args(["rb", "--force", "sj://files"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_up_applies_a_fault_plan_and_serves_the_control_api() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[nodes.2]\nslow = { bandwidth = 0 }\n").unwrap();
    let refused = output(
        Command::new(bin("node-sim"))
            .args(["network", "up", "--nodes", "4", "--faults"])
            .arg(&bad)
            .arg("--dir")
            .arg(dir.path().join("never")),
    );
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("nodes.2.slow.bandwidth: must be at least"),
        "{err}"
    );
    assert!(!dir.path().join("never").exists(), "nothing started");

    let plan = dir.path().join("plan.toml");
    std::fs::write(
        &plan,
        "[nodes.2]\noffline = true\n[nodes.3]\nrefuse_uploads = true\n",
    )
    .unwrap();
    let net_dir = dir.path().join("net");
    let sat_addr = format!("127.0.0.1:{}", free_port("127.0.0.1"));
    let node_port = free_port_on_nodes(4);
    let control = format!("127.0.0.1:{}", free_port("127.0.0.1"));
    let _network = Guard(
        Command::new(bin("node-sim"))
            .args([
                "network",
                "up",
                "--nodes",
                "4",
                "--satellite-addr",
                &sat_addr,
            ])
            .args(["--node-port", &node_port.to_string(), "--control", &control])
            .arg("--faults")
            .arg(&plan)
            .arg("--dir")
            .arg(&net_dir)
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::new();
    let base = format!("http://{control}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let answer = http.get(format!("{base}/faults")).send().await;
        if let Ok(r) = answer {
            // Nothing without the token.
            assert_eq!(r.status(), 401);
            break;
        }
        assert!(Instant::now() < deadline, "the control API never answered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let token_file = net_dir.join("control.token");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the token is private");
    }
    let bearer = format!("Bearer {}", std::fs::read_to_string(&token_file).unwrap());
    let all: serde_json::Value = http
        .get(format!("{base}/faults"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all["nodes"]["2"]["offline"], true, "{all}");
    assert_eq!(all["nodes"]["3"]["refuse_uploads"], true, "{all}");
    assert_eq!(all["nodes"]["1"], serde_json::json!({}), "{all}");
    // The offline node refuses connections at its address; node 1 answers.
    assert!(std::net::TcpStream::connect(("127.0.2.1", node_port)).is_err());
    let node_one = format!("127.0.1.1:{node_port}");
    let answered = tokio::task::spawn_blocking(move || health(&node_one).is_some());
    assert!(answered.await.unwrap(), "node 1 answers");

    // Node 1 goes offline through the API: refused from then on.
    let r = http
        .put(format!("{base}/faults/1"))
        .header("authorization", &bearer)
        .body(r#"{"offline": true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.1.1", node_port)).is_ok() {
        assert!(Instant::now() < deadline, "node 1 still answers");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The edge role in a process of its own, beside a satellite process without it, both
/// on one database: the auth service and share links answer there (the CLI told where
/// with `--auth-service`), the metainfo API does not, and the satellite process no
/// longer registers grants.
#[test]
fn the_edge_role_runs_in_a_process_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let sat_dir = dir.path().join("satellite");
    let sat_addr = format!("127.0.0.1:{}", free_port("127.0.0.1"));
    let edge_addr = format!("127.0.0.1:{}", free_port("127.0.0.1"));
    let links_addr = format!("127.0.0.1:{}", free_port("127.0.0.1"));
    run(Command::new(bin("satellite"))
        .args(["setup", "--data-dir"])
        .arg(&sat_dir)
        .args(["--listen", &sat_addr]));

    // Without the satellite's identity, a process of other roles refuses to start.
    let lonely = output(
        Command::new(bin("satellite"))
            .args(["run", "--roles", "edge", "--data-dir"])
            .arg(dir.path().join("elsewhere"))
            .args(["--listen", &edge_addr]),
    );
    assert!(!lonely.status.success());
    assert!(
        String::from_utf8_lossy(&lonely.stderr).contains("uses the satellite's identity"),
        "{}",
        String::from_utf8_lossy(&lonely.stderr)
    );
    let typo = output(Command::new(bin("satellite")).args(["run", "--roles", "api,egde"]));
    assert!(!typo.status.success());
    assert!(String::from_utf8_lossy(&typo.stderr).contains("unknown role \"egde\""));

    let _satellite = Guard(
        Command::new(bin("satellite"))
            .args(["run", "--roles", "api,repair,audit,gc", "--data-dir"])
            .arg(&sat_dir)
            .env("SATELLITE_NODE_ONLINE_WINDOW", "1m")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the satellite", || health(&sat_addr).is_some());
    let _edge = Guard(
        Command::new(bin("satellite"))
            .args(["run", "--roles", "edge", "--data-dir"])
            .arg(&sat_dir)
            .args(["--listen", &edge_addr])
            .env("SATELLITE_EDGE__LINKS_LISTEN", &links_addr)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the edge process", || health(&edge_addr).is_some());
    let sat_health = health(&sat_addr).unwrap();
    let edge_health = health(&edge_addr).unwrap();
    assert_eq!(sat_health["roles"], "api,repair,audit,gc");
    assert_eq!(edge_health["roles"], "edge");
    assert_eq!(edge_health["satellite_id"], sat_health["satellite_id"]);
    assert!(edge_health["nodes"].is_null(), "{edge_health}");
    let edge_workers = edge_health["workers"].as_object().map_or(0, |w| w.len());
    assert_eq!(
        edge_workers, 0,
        "the edge process runs no background work: {edge_health}"
    );
    // Each process serves only its own roles' routes.
    use tests::uplink_core::protocol::edge::EDGE_REGISTER_PATH;
    use tests::uplink_core::protocol::metainfo::BUCKET_LIST_PATH;
    assert_eq!(post_status(&edge_addr, BUCKET_LIST_PATH), Some(404));
    assert_eq!(post_status(&sat_addr, EDGE_REGISTER_PATH), Some(404));
    let served = post_status(&sat_addr, BUCKET_LIST_PATH);
    assert!(served.is_some_and(|s| s != 404), "{served:?}");

    let url = sat_health["satellite_url"].as_str().unwrap().to_string();
    let api_key = create_project(&sat_dir, "edge-test");
    let _nodes = ten_nodes(&url, &sat_addr, &dir.path().join("nodes"));

    let config = dir.path().join("uplink");
    run(uplink(&config).args([
        "access",
        "create",
        "--satellite",
        &url,
        "--api-key",
        &api_key,
        "--passphrase",
        "edge passphrase",
    ]));
    run(uplink(&config).args(["mb", "sj://media"]));
    let data: Vec<u8> = (0..400_000u32).map(|i| (i * 7 % 253) as u8).collect();
    let src = dir.path().join("clip.bin");
    std::fs::write(&src, &data).unwrap();
    run(uplink(&config)
        .arg("cp")
        .arg(&src)
        .arg("sj://media/clip.bin"));

    // The satellite process serves no auth service, and says so.
    let refused = output(uplink(&config).args(["access", "register", "--json"]));
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("auth service at"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let registered =
        run(uplink(&config).args(["access", "register", "--json", "--auth-service", &edge_addr]));
    let creds: serde_json::Value = serde_json::from_slice(&registered.stdout).unwrap();
    assert_eq!(
        creds["access_key_id"].as_str().unwrap().len(),
        28,
        "{creds}"
    );

    let shared = run(uplink(&config)
        .args(["share", "--url", "sj://media/clip.bin"])
        .env("UPLINK_AUTH_SERVICE", &edge_addr));
    let link = String::from_utf8(shared.stdout).unwrap().trim().to_string();
    assert!(
        link.starts_with(&format!("http://{links_addr}/s/")),
        "{link}"
    );
    let body = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let res = reqwest::get(link.replacen("/s/", "/raw/", 1))
            .await
            .unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::OK);
        res.bytes().await.unwrap().to_vec()
    });
    assert!(body == data, "the edge process serves the object's bytes");
}
