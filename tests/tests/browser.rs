//! The web console in a real browser (headless Chromium through chromedriver): sign up,
//! make a project, an API key and an access grant in the page, use that grant with the
//! uplink library and the `uplink` CLI, then see the usage and the decrypted names in
//! the console, and finally revoke that grant in the console while a second grant from
//! the same API key keeps working. Operators' pages: an administrator watches nodes go
//! offline and repair restore their segments. A web application's page uploads to the
//! hosted S3 gateway with presigned URLs as its bucket's CORS rules allow, and is kept
//! out of a bucket without rules by the browser itself.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian: `apt-get install
//! chromium chromium-driver`); without them the test fails rather than skips, so a
//! machine that cannot run it is noticed. With `CONSOLE_SCREENSHOT_DIR` set, a
//! screenshot of every step is saved there; on failure one is always saved.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tests::uplink_core::access::{AccessGrant, ApiKey, Caveat};
use tests::uplink_core::client::{ClientConfig, Project};
use tests::{Options, TestNetwork, download, random_bytes};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long to wait for something to appear in the page.
const WAIT: Duration = Duration::from_secs(20);
/// Deriving a key from a passphrase (Argon2id, 64 MiB) in the page is slower.
const WAIT_KDF: Duration = Duration::from_secs(90);

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery";
const PASSPHRASE: &str = "seven tired otters juggle lanterns";

/// Kills chromedriver (and so its browser) when the test ends, pass or fail, and then
/// removes the browser's profile (which a killed browser cannot remove itself).
struct Driver {
    child: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts chromedriver on a free port and opens a headless Chromium session.
/// Starts Chromium trusting exactly the certificate whose key has `spki_sha256`.
async fn start_browser(spki_sha256: &str) -> Result<(Driver, Client)> {
    for (path, what) in [(CHROMEDRIVER, "chromedriver"), (CHROMIUM, "chromium")] {
        ensure!(
            Path::new(path).is_file(),
            "{what} is missing at {path}: install it (Debian: apt-get install -y chromium chromium-driver)"
        );
    }
    let port = free_port();
    let profile = tempfile::tempdir().context("a directory for the browser profile")?;
    let user_data_dir = format!("--user-data-dir={}", profile.path().display());
    let driver = Driver {
        child: Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting chromedriver")?,
        _profile: profile,
    };
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        ensure!(
            Instant::now() < deadline,
            "chromedriver did not start listening on {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,1000", user_data_dir,
                format!("--ignore-certificate-errors-spki-list={spki_sha256}"),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&url)
        .await
        .context("opening a Chromium session through chromedriver")?;
    Ok((driver, client))
}

/// Polls `check` until it gives `Some`, or fails after `limit`.
async fn poll<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + limit;
    let mut last_error = None;
    loop {
        match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last_error = Some(e),
        }
        if Instant::now() >= deadline {
            return Err(match last_error {
                Some(e) => e.context(format!("timed out after {limit:?} waiting for {what}")),
                None => anyhow!("timed out after {limit:?} waiting for {what}"),
            });
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// The page, with the few operations the test needs, each waiting for its element.
struct Page {
    c: Client,
    shots: Option<PathBuf>,
    step: usize,
}

impl Page {
    async fn find_within(&self, css: &str, limit: Duration) -> Result<Element> {
        poll(&format!("element {css}"), limit, || async {
            match self.c.find(Locator::Css(css)).await {
                Ok(e) if e.is_displayed().await.unwrap_or(false) => Ok(Some(e)),
                Ok(_) => Ok(None),
                Err(e) if e.is_no_such_element() => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    async fn find(&self, css: &str) -> Result<Element> {
        self.find_within(css, WAIT).await
    }

    async fn count(&self, css: &str) -> Result<usize> {
        Ok(self.c.find_all(Locator::Css(css)).await?.len())
    }

    /// Runs `op` on the element, retrying while the page re-renders under it (stale
    /// element, click intercepted by a closing dialog).
    async fn with<T, F, Fut>(&self, css: &str, what: &str, op: F) -> Result<T>
    where
        F: Fn(Element) -> Fut,
        Fut: Future<Output = std::result::Result<T, fantoccini::error::CmdError>>,
    {
        poll(&format!("{what} {css}"), WAIT, || async {
            let el = self.find(css).await?;
            Ok(Some(op(el).await?))
        })
        .await
    }

    async fn click(&self, css: &str) -> Result<()> {
        self.with(css, "clicking", |el| async move { el.click().await })
            .await
    }

    async fn fill(&self, css: &str, text: &str) -> Result<()> {
        self.with(css, "typing into", |el| async move {
            el.clear().await?;
            el.send_keys(text).await
        })
        .await
    }

    async fn text(&self, css: &str) -> Result<String> {
        self.with(css, "reading", |el| async move { el.text().await })
            .await
    }

    async fn value(&self, css: &str) -> Result<String> {
        self.with(css, "reading", |el| async move {
            Ok(el.prop("value").await?.unwrap_or_default())
        })
        .await
    }

    /// Waits until the element's text contains `needle`.
    async fn wait_text(&self, css: &str, needle: &str) -> Result<String> {
        poll(&format!("{css} to say {needle:?}"), WAIT, || async {
            let text = match self.c.find(Locator::Css(css)).await {
                Ok(e) => e.text().await?,
                Err(e) if e.is_no_such_element() => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            Ok(text.contains(needle).then_some(text))
        })
        .await
    }

    async fn js(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        Ok(self.c.execute(script, args).await?)
    }

    async fn hash(&self) -> Result<String> {
        Ok(self
            .c
            .current_url()
            .await?
            .fragment()
            .unwrap_or("")
            .to_string())
    }

    /// Saves a screenshot of this step when `CONSOLE_SCREENSHOT_DIR` is set.
    async fn shot(&mut self, name: &str) -> Result<()> {
        if let Some(dir) = &self.shots {
            self.step += 1;
            let png = self.c.screenshot().await?;
            std::fs::write(dir.join(format!("{:02}-{name}.png", self.step)), png)?;
        }
        Ok(())
    }
}

/// The workspace's binaries (`target/<profile>`), where `cargo test --workspace` builds
/// the `uplink` CLI.
fn uplink_bin() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe
        .parent()
        .and_then(Path::parent)
        .context("test binary location")?
        .join("uplink");
    ensure!(
        path.is_file(),
        "{} is missing; `cargo test --workspace` (or `cargo build --bin uplink`) builds it",
        path.display()
    );
    Ok(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn console_signup_grant_upload_and_browse() {
    in_browser(Scenario::Grants).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operators_watch_nodes_and_repair_in_the_console() {
    in_browser(Scenario::Operators).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_page_uploads_through_the_hosted_gateway_as_bucket_cors_allows() {
    in_browser(Scenario::CorsUpload).await;
}

/// What a test does in the page.
#[derive(Clone, Copy, Debug)]
enum Scenario {
    Grants,
    Operators,
    CorsUpload,
}

/// Starts a network whose console is served over HTTPS, a browser that trusts it, and
/// runs the scenario; on failure saves a screenshot and prints where the page was.
async fn in_browser(which: Scenario) {
    let started = Instant::now();
    // The operator's certificate for the console, as a browser meets it (browsers
    // accept no ed25519 identity certificates); Chromium trusts exactly its key.
    let certs = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_file, key_file) = (
        certs.path().join("console.pem"),
        certs.path().join("key.pem"),
    );
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let spki = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(key.public_key_der()))
    };
    let operators = matches!(which, Scenario::Operators);
    let mut net = TestNetwork::start_with(Options {
        nodes: if operators { 10 } else { 6 },
        tweak: Box::new(move |c| {
            c.satellite.tls_certificate_file = Some(cert_file);
            c.satellite.tls_key_file = Some(key_file);
            if operators {
                // Stopped nodes show as offline within seconds.
                c.checkin_interval = Duration::from_millis(500);
                c.satellite.node_online_window = Duration::from_secs(3);
                c.satellite.selection_refresh_interval = Duration::from_millis(500);
                c.satellite.repair.piece_timeout = Duration::from_secs(5);
            }
        }),
    })
    .await;
    let (driver, client) = start_browser(&spki).await.expect("browser starts");
    let shots = std::env::var_os("CONSOLE_SCREENSHOT_DIR").map(PathBuf::from);
    if let Some(dir) = &shots {
        std::fs::create_dir_all(dir).expect("screenshot directory");
    }
    let mut page = Page {
        c: client,
        shots,
        step: 0,
    };
    let outcome = match which {
        Scenario::Grants => scenario(&net, &mut page).await,
        Scenario::Operators => operator_pages(&mut net, &mut page).await,
        Scenario::CorsUpload => cors_upload(&net, &mut page).await,
    };
    if let Err(e) = &outcome {
        let path = std::env::temp_dir().join(format!(
            "console-browser-failure-{}.png",
            std::process::id()
        ));
        let saved = match page.c.screenshot().await {
            Ok(png) => std::fs::write(&path, png).is_ok(),
            Err(_) => false,
        };
        if saved {
            eprintln!("screenshot of the page at the failure: {}", path.display());
        } else {
            eprintln!("no screenshot could be taken");
        }
        if let Ok(url) = page.c.current_url().await {
            eprintln!("page at the failure: {url}");
        }
        eprintln!("failed: {e:#}");
    }
    let _ = page.c.close().await;
    drop(driver);
    net.stop().await;
    outcome.expect("browser scenario");
    eprintln!("browser scenario {which:?} took {:?}", started.elapsed());
}

/// Presigned SigV4 URLs (as a web application's server hands them to its pages), made
/// with boto3: `(method, bucket, key)` each.
fn presign(
    endpoint: &str,
    access: &str,
    secret: &str,
    urls: &[(&str, &str, &str)],
) -> Result<Vec<String>> {
    let script = r#"
import sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2],
    aws_secret_access_key=sys.argv[3], region_name="us-east-1",
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
args = sys.argv[4:]
for i in range(0, len(args), 3):
    op = {"PUT": "put_object", "GET": "get_object"}[args[i]]
    print(s3.generate_presigned_url(op, Params={"Bucket": args[i + 1], "Key": args[i + 2]}, ExpiresIn=600))
"#;
    let mut cmd = Command::new(tests::s3_test_python());
    cmd.args(["-c", script, endpoint, access, secret]);
    for (method, bucket, key) in urls {
        cmd.args([method, bucket, key]);
    }
    let out = cmd
        .output()
        .context("running python with boto3 (scripts/test-all.sh installs it)")?;
    ensure!(
        out.status.success(),
        "presigning failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?
        .lines()
        .map(str::to_string)
        .collect())
}

/// Serves one empty HTML page over plain HTTP on a loopback port, in a thread, for as
/// long as the test runs: the web application's origin, other than the gateway's (the
/// console's own pages forbid connections elsewhere in their CSP). Its origin and URL.
fn serve_page() -> Result<(String, String)> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let origin = format!("http://{}", listener.local_addr()?);
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let page = "<!doctype html><title>app</title><p>app</p>";
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    Ok((origin.clone(), format!("{origin}/")))
}

/// A page of a web application (another origin) uploads with `fetch` to a presigned URL of the
/// hosted S3 gateway (another origin) and reads the object back, because the bucket's
/// CORS rules allow that origin; the same calls to a bucket without rules are blocked
/// by the browser itself. The bytes are then checked through the library.
async fn cors_upload(net: &TestNetwork, page: &mut Page) -> Result<()> {
    use tests::uplink_core::protocol::cors::CorsRule;
    use tests::uplink_core::protocol::edge::RegisterRequest;
    let (app_origin, app_page) = serve_page()?;
    let project = net.project().await;
    project.create_bucket("web").await?;
    project.create_bucket("closed").await?;
    project
        .set_bucket_cors(
            "web",
            Some(vec![CorsRule {
                allowed_origins: vec![app_origin.clone()],
                allowed_methods: vec!["GET".into(), "PUT".into()],
                allowed_headers: vec!["content-type".into()],
                expose_headers: vec!["ETag".into()],
                max_age_seconds: Some(60),
                ..CorsRule::default()
            }]),
        )
        .await?;
    let creds = project
        .metainfo()
        .register_edge(&RegisterRequest {
            access_grant: project.access().serialize(),
            public: false,
        })
        .await?;
    let endpoint = creds.endpoint.clone().context("the satellite serves S3")?;
    ensure!(
        endpoint.starts_with("https://"),
        "S3 over HTTPS: {endpoint}"
    );
    let urls = presign(
        &endpoint,
        &creds.access_key_id,
        &creds.secret_key,
        &[
            ("PUT", "web", "from-page.txt"),
            ("GET", "web", "from-page.txt"),
            ("PUT", "closed", "from-page.txt"),
        ],
    )?;
    page.c.goto(&app_page).await?;
    let upload = page
        .js(
            r#"return (async () => {
                let put;
                try {
                    put = await fetch(arguments[0], {method: "PUT",
                        headers: {"Content-Type": "text/plain"}, body: "written by a web page"});
                } catch (e) {
                    return {put: "failed: " + e.message};
                }
                const etag = put.headers.get("ETag");
                const got = await fetch(arguments[1]);
                return {put: put.status, etag, get: got.status, body: await got.text()};
            })()"#,
            vec![json!(urls[0]), json!(urls[1])],
        )
        .await?;
    ensure!(upload["put"] == 200, "PUT from the page: {upload}");
    ensure!(
        upload["etag"].as_str().is_some_and(|e| e.len() > 10),
        "the exposed ETag is readable: {upload}"
    );
    ensure!(
        upload["get"] == 200 && upload["body"] == "written by a web page",
        "GET from the page: {upload}"
    );
    let blocked = page
        .js(
            r#"return (async () => {
                try {
                    const r = await fetch(arguments[0], {method: "PUT",
                        headers: {"Content-Type": "text/plain"}, body: "should not land"});
                    return "answered " + r.status;
                } catch (e) { return "blocked: " + e.name; }
            })()"#,
            vec![json!(urls[2])],
        )
        .await?;
    ensure!(
        blocked.as_str().is_some_and(|b| b.starts_with("blocked")),
        "a bucket without rules must be out of the page's reach: {blocked}"
    );
    let stored = download(&project, "web", "from-page.txt").await;
    ensure!(stored == b"written by a web page", "stored bytes");
    let err = project.stat_object("closed", "from-page.txt").await;
    ensure!(
        err.is_err(),
        "the preflight was refused, so the PUT was never sent"
    );
    page.shot("cors-upload").await?;
    Ok(())
}

async fn scenario(net: &TestNetwork, page: &mut Page) -> Result<()> {
    // As a user types it: the satellite's address, over HTTPS.
    let console = format!("https://{}", net.network.satellite_url().address);
    let satellite = net.network.satellite_url().to_string();

    // ---- Sign up, with the page refusing a short password before asking the server.
    page.c.goto(&console).await?;
    page.find("#login-form").await?;
    let title = page.c.title().await?;
    ensure!(title.contains("Satellite Console"), "title {title:?}");
    page.shot("login").await?;
    page.click("#to-signup").await?;
    page.find("#signup-form").await?;
    page.fill("#signup-name", "Ada Lovelace").await?;
    page.fill("#signup-email", EMAIL).await?;
    page.fill("#signup-password", "short").await?;
    page.fill("#signup-confirm", "short").await?;
    page.click("#signup-submit").await?;
    page.wait_text("#signup-password-error", "at least 8 characters")
        .await?;
    ensure!(
        page.hash().await? == "/signup",
        "a short password left the page"
    );
    page.shot("signup-validation").await?;
    page.fill("#signup-password", PASSWORD).await?;
    page.fill("#signup-confirm", PASSWORD).await?;
    page.click("#signup-submit").await?;

    // ---- First project.
    page.find("#project-form").await?;
    page.shot("first-project").await?;
    page.fill("#project-name", "Browser test").await?;
    page.fill("#project-description", "Made by the browser test")
        .await?;
    page.click("#project-create").await?;
    page.find("#usage").await?;
    let project_id = page.text("#project-id").await?;
    ensure!(
        page.hash().await? == format!("/projects/{project_id}"),
        "dashboard route"
    );
    ensure!(page.text("#satellite-address").await? == satellite);
    page.shot("dashboard-empty").await?;

    // ---- API key: a name is required, then the key is shown once.
    page.click("#nav-access").await?;
    page.find("[data-testid=api-keys-empty]").await?;
    page.click("#create-api-key").await?;
    page.find("#api-key-name").await?;
    page.click("#api-key-submit").await?;
    page.wait_text("#api-key-name-error", "required").await?;
    page.fill("#api-key-name", "browser-key").await?;
    page.click("#api-key-submit").await?;
    let api_key = page.value("#new-api-key-value").await?;
    ApiKey::parse(&api_key).context("the page shows a valid API key")?;
    page.shot("api-key-created").await?;

    // ---- Access grant, made in the page from that key and a passphrase.
    page.click("#use-key-for-grant").await?;
    page.find("#grant-form").await?;
    page.find("[data-testid=passphrase-warning]").await?;
    page.fill("#grant-passphrase", PASSPHRASE).await?;
    page.fill("#grant-passphrase-confirm", PASSPHRASE).await?;
    page.click("#grant-ack").await?;
    // Expires in 30 days (a datetime-local input takes local time).
    page.js(
        "const el = document.getElementById('grant-not-after');
         const d = new Date(Date.now() + 30 * 86400e3);
         d.setSeconds(0, 0);
         el.value = new Date(d - d.getTimezoneOffset() * 60e3).toISOString().slice(0, 16);
         el.dispatchEvent(new Event('input', { bubbles: true }));",
        vec![],
    )
    .await?;
    page.shot("grant-form").await?;
    page.click("#grant-create").await?;
    let grant_text = page
        .find_within("#grant-result", WAIT_KDF)
        .await?
        .prop("value")
        .await?
        .unwrap_or_default();
    page.shot("grant-created").await?;
    let cli = page.text("#grant-cli").await?;
    let create_cmd = format!("uplink access create --satellite {satellite} --api-key {api_key}");
    ensure!(cli.contains(&create_cmd), "CLI fallback {cli:?}");
    ensure!(
        cli.contains("uplink share --not-after 20"),
        "CLI fallback {cli:?}"
    );

    // ---- A second grant from the same key, with nothing restricted: it still gets a
    // caveat of its own (only a nonce), so that it can be revoked on its own.
    page.click("#grant-another").await?;
    page.find("#grant-form").await?;
    page.fill("#grant-passphrase", PASSPHRASE).await?;
    page.fill("#grant-passphrase-confirm", PASSPHRASE).await?;
    page.click("#grant-ack").await?;
    page.click("#grant-create").await?;
    let unrestricted_text = page
        .find_within("#grant-result", WAIT_KDF)
        .await?
        .prop("value")
        .await?
        .unwrap_or_default();
    ensure!(
        unrestricted_text != grant_text,
        "the second grant is the first one"
    );
    let cli2 = page.text("#grant-cli").await?;
    ensure!(cli2.contains(&create_cmd), "CLI fallback {cli2:?}");
    // With nothing to restrict, the CLI fallback still shares (adding the nonce), with
    // no flags and no paths.
    let share_line = cli2
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("uplink share"))
        .with_context(|| format!("no `uplink share` in the CLI fallback {cli2:?}"))?;
    ensure!(
        share_line.trim_end_matches("Copy command").trim() == "uplink share",
        "CLI fallback {cli2:?}"
    );
    let unrestricted = AccessGrant::parse(&unrestricted_text)?;
    let caveats = unrestricted.api_key.caveats()?;
    ensure!(
        caveats.len() == 1
            && caveats[0].nonce.len() == 16
            && caveats[0]
                == Caveat {
                    nonce: caveats[0].nonce.clone(),
                    ..Caveat::default()
                },
        "an unrestricted grant should carry one caveat with only a nonce: {caveats:?}"
    );
    ensure!(unrestricted.api_key.head() == ApiKey::parse(&api_key)?.head());
    ensure!(unrestricted.api_key.serialize() != api_key);
    page.shot("grant-unrestricted").await?;

    // The passphrase never reaches storage.
    let stored = page
        .js(
            "return JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie",
            vec![],
        )
        .await?;
    ensure!(
        !stored.to_string().contains(PASSPHRASE),
        "passphrase stored"
    );

    // ---- Use the grant: the library creates a bucket and uploads, and so does the CLI.
    let grant = AccessGrant::parse(&grant_text).context("the page's grant parses")?;
    ensure!(grant.satellite.to_string() == satellite, "grant satellite");
    let caveats = grant.api_key.caveats()?;
    ensure!(
        caveats.len() == 1 && caveats[0].not_after.is_some(),
        "the grant should carry the expiry: {caveats:?}"
    );
    let project = Project::open(grant, ClientConfig::default())?;
    project.create_bucket("photos").await?;
    let beach = random_bytes(4096);
    project
        .upload(
            "photos",
            "vacation/beach.jpg",
            &beach[..],
            Default::default(),
        )
        .await?;
    ensure!(download(&project, "photos", "vacation/beach.jpg").await == beach);

    let dir = tempfile::tempdir()?;
    let notes = random_bytes(3000);
    let notes_path = dir.path().join("notes.txt");
    std::fs::write(&notes_path, &notes)?;
    let out = tokio::process::Command::new(uplink_bin()?)
        .env("UPLINK_CONFIG_DIR", dir.path().join("uplink"))
        .env_remove("UPLINK_ACCESS")
        .arg("--access")
        .arg(&grant_text)
        .args(["cp", "--quiet"])
        .arg(&notes_path)
        .arg("sj://photos/notes.txt")
        .output()
        .await?;
    ensure!(
        out.status.success(),
        "uplink cp failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let total = (beach.len() + notes.len()) as u64;

    // The CLI fallback the page printed derives the same encryption keys.
    let out = tokio::process::Command::new(uplink_bin()?)
        .env("UPLINK_CONFIG_DIR", dir.path().join("uplink"))
        .env_remove("UPLINK_ACCESS")
        .args(["access", "create", "--export", "--satellite", &satellite])
        .args(["--api-key", &api_key, "--passphrase", PASSPHRASE])
        .output()
        .await?;
    ensure!(
        out.status.success(),
        "uplink access create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_cli = AccessGrant::parse(String::from_utf8(out.stdout)?.trim())?;
    let from_page = AccessGrant::parse(&grant_text)?;
    ensure!(
        from_cli.encryption == from_page.encryption,
        "the page and `uplink access create` derive different keys from the passphrase"
    );
    ensure!(from_cli.api_key.head() == from_page.api_key.head());
    ensure!(
        from_cli.encryption == unrestricted.encryption,
        "the unrestricted grant should hold the root key, as `uplink access create` makes it"
    );
    let cli_grant_text = from_cli.serialize();

    // ---- The dashboard, reloaded, shows one bucket and the uploaded bytes.
    page.click("#nav-dashboard").await?;
    poll("usage of 1 bucket and the uploaded bytes", WAIT, || async {
        page.c.refresh().await?;
        let buckets = page.find("#usage-buckets").await?;
        let storage = page.find("#usage-storage").await?;
        let b = buckets.attr("data-value").await?.unwrap_or_default();
        let s = storage.attr("data-value").await?.unwrap_or_default();
        Ok((b == "1" && s == total.to_string()).then_some(()))
    })
    .await?;
    let buckets_text = page.text("#usage-buckets .value").await?;
    ensure!(
        buckets_text.trim() == "1",
        "buckets shown as {buckets_text:?}"
    );
    let storage_text = page.text("#usage-storage .value").await?;
    ensure!(
        storage_text.replace('\n', " ").contains("6.93") && storage_text.contains("KiB"),
        "{total} bytes shown as {storage_text:?}"
    );
    ensure!(page.text("#usage-objects .value").await?.trim() == "2");
    page.shot("dashboard-usage").await?;

    // ---- Buckets: counts without the passphrase, names after entering it.
    page.click("#nav-buckets").await?;
    let row = "[data-testid=bucket-row][data-bucket=photos]";
    page.find(row).await?;
    ensure!(
        page.text(&format!("{row} [data-testid=bucket-objects]"))
            .await?
            .trim()
            == "2"
    );
    page.shot("buckets").await?;
    page.click(&format!("{row} a")).await?;
    page.find("#names-locked-notice").await?;
    page.find("[data-testid=object-row]").await?;
    ensure!(page.count("[data-testid=object-row]").await? == 2);
    ensure!(page.count("[data-testid=object-encrypted-name]").await? == 2);
    let listing = page.text("#objects-table").await?;
    ensure!(
        !listing.contains("notes.txt") && !listing.contains("vacation"),
        "names visible without the passphrase: {listing}"
    );
    page.shot("objects-locked").await?;

    page.click("#unlock-button").await?;
    page.fill("#unlock-passphrase", PASSPHRASE).await?;
    page.shot("unlock").await?;
    page.click("#unlock-submit").await?;
    page.find_within("[data-testid=object-row][data-name='notes.txt']", WAIT_KDF)
        .await?;
    let folder = "[data-testid=object-row][data-name=vacation][data-prefix=true]";
    page.find(folder).await?;
    let notes_size = page
        .text("[data-testid=object-row][data-name='notes.txt'] td.num")
        .await?;
    ensure!(
        notes_size.contains("2.93 KiB"),
        "notes.txt size {notes_size:?}"
    );
    page.shot("objects-unlocked").await?;

    page.click(&format!("{folder} a")).await?;
    page.find("[data-testid=object-row][data-name='beach.jpg']")
        .await?;
    page.wait_text("#object-path", "vacation").await?;
    ensure!(
        !page.hash().await?.contains("vacation"),
        "a plaintext name ended up in the URL"
    );
    page.shot("folder").await?;

    // ---- A bucket that keeps its names in clear shows them as they are.
    project.create_bucket_with_plain_names("public").await?;
    project
        .upload("public", "nft/7.json", &b"{}"[..], Default::default())
        .await?;
    page.click("#nav-buckets").await?;
    page.click("[data-testid=bucket-row][data-bucket=public] a")
        .await?;
    page.find("#names-clear-notice").await?;
    page.find("[data-testid=object-row][data-name=nft][data-prefix=true]")
        .await?;
    page.click("[data-testid=object-row][data-name=nft] a")
        .await?;
    page.find("[data-testid=object-row][data-name='7.json']")
        .await?;
    page.wait_text("#object-path", "nft").await?;
    page.shot("objects-in-clear").await?;

    revoke_in_console(page, &grant_text, &unrestricted_text, &cli_grant_text).await?;

    // ---- Logging out ends the session.
    page.click("#logout").await?;
    page.find("#login-form").await?;
    let me = page
        .js(
            "return fetch('/api/v0/auth/me').then((r) => r.status)",
            vec![],
        )
        .await?;
    if me != json!(401) {
        bail!("after logging out /auth/me answered {me}");
    }
    Ok(())
}

/// Revokes `grant_text` with the Access page's dialog, after checking that the dialog
/// refuses a grant of another satellite and a bare API key (`bare_text`); then the
/// grant is refused by the satellite while `sibling_text`, made from the same API key,
/// still works.
async fn revoke_in_console(
    page: &mut Page,
    grant_text: &str,
    sibling_text: &str,
    bare_text: &str,
) -> Result<()> {
    let started = Instant::now();
    let mut elsewhere = AccessGrant::parse(grant_text)?;
    // Another satellite is another node id (the same one may have several addresses).
    elsewhere.satellite.id = tests::uplink_core::protocol::Identity::generate(0).node_id();
    elsewhere.satellite.address = "satellite.example.net:7777".into();
    let elsewhere_text = elsewhere.serialize();

    page.click("#nav-access").await?;
    page.find("#api-keys-table").await?;
    page.click("#revoke-grant-open").await?;
    page.find("[data-testid=revoke-grant-dialog] #revoke-grant-value")
        .await?;
    page.shot("revoke-dialog").await?;

    // A grant of another satellite is refused in the page, before anything is sent.
    page.fill("#revoke-grant-value", &elsewhere_text).await?;
    page.click("#revoke-grant-next").await?;
    let refusal = page
        .wait_text("#revoke-grant-error", "another satellite")
        .await?;
    ensure!(
        refusal.contains("satellite.example.net:7777"),
        "the refusal should name the grant's satellite: {refusal:?}"
    );
    ensure!(page.count("#revoke-grant-confirm").await? == 0);
    page.shot("revoke-other-satellite").await?;

    // Something that is not a grant at all.
    page.fill("#revoke-grant-value", "not a grant").await?;
    page.click("#revoke-grant-next").await?;
    page.wait_text("#revoke-grant-value-error", "not a valid access grant")
        .await?;

    // A grant holding the bare API key (as `uplink access create` makes it) cannot be
    // revoked: only deleting its key stops it.
    page.fill("#revoke-grant-value", bare_text).await?;
    page.click("#revoke-grant-next").await?;
    page.wait_text("#revoke-grant-error", "cannot be revoked")
        .await?;

    // The browser-made grant: confirm, then the satellite revokes it.
    page.fill("#revoke-grant-value", grant_text).await?;
    page.click("#revoke-grant-next").await?;
    page.find("#revoke-grant-confirm").await?;
    let summary = page
        .wait_text(
            "[data-testid=revoke-grant-summary]",
            "read, write, list, delete",
        )
        .await?;
    ensure!(
        summary.contains("All buckets"),
        "confirmation summary {summary:?}"
    );
    page.wait_text(
        "[data-testid=revoke-grant-dialog]",
        "every grant shared from it stop working",
    )
    .await?;
    page.shot("revoke-confirm").await?;
    page.click("#revoke-grant-confirm").await?;
    page.find("[data-testid=revoke-grant-done]").await?;
    page.wait_text("#revoke-grant-success", "revoked").await?;
    page.shot("revoke-done").await?;

    // Revoking it again: the satellite says it already is.
    page.click("#revoke-grant-another").await?;
    page.fill("#revoke-grant-value", grant_text).await?;
    page.click("#revoke-grant-next").await?;
    page.click("#revoke-grant-confirm").await?;
    page.wait_text("#revoke-grant-error", "already revoked")
        .await?;
    page.shot("revoke-already").await?;
    page.click("#revoke-grant-back").await?;
    page.click("#revoke-grant-cancel").await?;
    poll("the revoke dialog to close", WAIT, || async {
        Ok((page.count(".modal-backdrop").await? == 0).then_some(()))
    })
    .await?;
    // The session survived the satellite's 401 for the revoked grant.
    page.find("#api-keys-table").await?;

    // The satellite refuses the revoked grant, and keeps serving its sibling.
    let revoked = Project::open(AccessGrant::parse(grant_text)?, ClientConfig::default())?;
    let refused = poll("the revoked grant to be refused", WAIT, || async {
        match revoked.list_buckets().await {
            Ok(_) => Ok(None),
            Err(e) => Ok(Some(e.to_string())),
        }
    })
    .await?;
    ensure!(
        refused.contains("revoked"),
        "the revoked grant failed otherwise: {refused}"
    );
    let sibling = Project::open(AccessGrant::parse(sibling_text)?, ClientConfig::default())?;
    let buckets = sibling.list_buckets().await?;
    ensure!(
        buckets.iter().any(|b| b.name == "photos"),
        "the unrestricted grant lists {buckets:?}"
    );
    eprintln!("revocation in the console took {:?}", started.elapsed());
    Ok(())
}

/// An administrator watches nodes go offline and repair bring their segments back:
/// the nodes page and the repair page follow the network as it changes, without a
/// reload; an account that is not an administrator sees neither.
async fn operator_pages(net: &mut TestNetwork, page: &mut Page) -> Result<()> {
    let console = format!("https://{}", net.network.satellite_url().address);
    // Data on every node: 10 pieces per segment on the 10 nodes.
    let project = net.project().await;
    project.create_bucket("watched").await?;
    let mut objects = Vec::new();
    for i in 0..4 {
        let data = random_bytes(70_000 + i * 9_000);
        let key = format!("o{i}");
        project
            .upload("watched", &key, &data[..], Default::default())
            .await?;
        objects.push((key, data));
    }
    // Three nodes join afterwards and hold nothing: repair has somewhere to go once four
    // of the first ten stop.
    for _ in 0..3 {
        net.network.add_node().await?;
    }

    // ---- An ordinary account: no network navigation, and the pages refuse it.
    page.c.goto(&console).await?;
    page.click("#to-signup").await?;
    page.fill("#signup-name", "Grace Hopper").await?;
    page.fill("#signup-email", EMAIL).await?;
    page.fill("#signup-password", PASSWORD).await?;
    page.fill("#signup-confirm", PASSWORD).await?;
    page.click("#signup-submit").await?;
    page.find("#project-form").await?;
    ensure!(
        page.count("#nav-admin-nodes").await? == 0,
        "a user who is not an administrator sees the nodes page in the navigation"
    );
    page.c.goto(&format!("{console}/#/admin/nodes")).await?;
    page.wait_text("#nodes-error", "nly administrators see")
        .await?;
    page.shot("nodes-refused").await?;

    // ---- The operator makes the account an administrator; after a reload it sees
    // every node.
    tests::satellite::admin::set_admin(&net.network.satellite.db, EMAIL, true).await?;
    page.c.refresh().await?;
    page.find("#nav-admin-nodes").await?;
    page.find("[data-testid=nodes-total][data-value='13']")
        .await?;
    let rows = poll("13 node rows", WAIT, || async {
        let n = page.count("[data-testid=node-row]").await?;
        Ok((n == 13).then_some(n))
    })
    .await?;
    ensure!(rows == 13);
    page.shot("nodes").await?;

    // ---- Four nodes stop: the page shows them offline by itself.
    for index in 1..=4 {
        net.network.stop_node(index).await;
    }
    let slow = Duration::from_secs(45);
    page.find_within("[data-testid=nodes-online][data-value='9']", slow)
        .await?;
    poll("4 offline rows", slow, || async {
        let n = page
            .count("[data-testid=node-row][data-status=offline]")
            .await?;
        Ok((n == 4).then_some(()))
    })
    .await?;
    page.shot("nodes-offline").await?;
    let sat = &net.network.satellite;

    // ---- The checker queues every segment (at most 6 healthy, threshold 6); the repair
    // page shows the queue and the health of the segments.
    sat.overlay.refresh().await?;
    let status = sat.workers().trigger("segment-loop").await;
    ensure!(
        status.as_ref().is_some_and(|s| s.last_error.is_none()),
        "segment loop: {status:?}"
    );
    let queued = tests::satellite::repair::queue::length(&sat.db).await?;
    ensure!(queued >= 4, "only {queued} segments queued");
    page.click("#nav-admin-repair").await?;
    page.find_within(
        &format!("[data-testid=repair-queue][data-value='{queued}']"),
        slow,
    )
    .await?;
    page.find("[data-testid=health-row]").await?;
    ensure!(page.count("[data-testid=queue-row]").await? as u64 == queued.min(20));
    page.find("[data-testid=worker-row][data-worker=segment-loop]")
        .await?;
    page.shot("repair-queued").await?;

    // ---- Repair runs: the page sees the queue empty and the repairs of this hour.
    let deadline = Instant::now() + Duration::from_secs(120);
    while tests::satellite::repair::queue::length(&sat.db).await? > 0 {
        ensure!(Instant::now() < deadline, "repair did not empty the queue");
        for i in 0..2 {
            sat.workers().trigger(&format!("repair-{i}")).await;
        }
        sat.workers().trigger("segment-loop").await;
    }
    page.find_within("[data-testid=repair-queue][data-value='0']", slow)
        .await?;
    page.find("[data-testid=queue-empty]").await?;
    let repaired: u64 = page
        .find("[data-testid=repair-last-hour]")
        .await?
        .attr("data-value")
        .await?
        .unwrap_or_default()
        .parse()?;
    ensure!(repaired >= queued, "{repaired} repaired of {queued} queued");
    page.find("[data-testid=per-hour-row]").await?;
    page.shot("repair-done").await?;
    for (key, data) in &objects {
        ensure!(
            download(&project, "watched", key).await == *data,
            "{key} differs after repair"
        );
    }
    Ok(())
}
