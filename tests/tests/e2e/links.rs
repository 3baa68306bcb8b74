//! Share links through the satellite's link service: pages and bytes as browsers,
//! players and chat previews use them, reaching exactly what the link's grant reaches,
//! pinned to content, and ending at expiry and on revocation.

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use sha2::{Digest, Sha256};
use tests::uplink_core::access::AccessGrant;
use tests::uplink_core::access::caveat::Caveat;
use tests::uplink_core::client::{ClientConfig, Project, UploadOptions};
use tests::uplink_core::protocol::edge::RegisterRequest;
use tests::uplink_core::protocol::now_unix;
use tests::{Options, TestNetwork, random_bytes};

fn client(net: &TestNetwork) -> ClientConfig {
    ClientConfig {
        transport: net.mode(),
        ..Default::default()
    }
}

fn read_only() -> Caveat {
    Caveat {
        disallow_writes: true,
        disallow_deletes: true,
        ..Caveat::new()
    }
}

/// Registers `grant` as public and returns (links base URL, access key id).
async fn register_public(net: &TestNetwork, grant: &AccessGrant) -> (String, String) {
    let project = Project::open(grant.clone(), client(net)).unwrap();
    let issued = project
        .metainfo()
        .register_edge(&RegisterRequest {
            access_grant: grant.serialize(),
            public: true,
        })
        .await
        .expect("a read-only grant registers as public");
    let base = issued.links_url.expect("the test satellite serves links");
    assert_eq!(Some(base.clone()), net.network.satellite.edge_links_url());
    (base, issued.access_key_id)
}

async fn put(project: &Project, key: &str, data: &[u8], content_type: Option<&str>) {
    project
        .upload(
            "pub",
            key,
            data,
            UploadOptions {
                content_type: content_type.map(str::to_string),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

async fn get(
    url: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = reqwest::Client::new().get(url);
    for (n, v) in headers {
        req = req.header(n.clone(), *v);
    }
    let res = req.send().await.expect("the link service answers");
    let status = res.status();
    let h = res.headers().clone();
    let body = res.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    (status, h, body)
}

fn text(h: &HeaderMap, name: impl header::AsHeaderName) -> String {
    h.get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn links_serve_pages_bytes_ranges_and_validators() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("pub").await.unwrap();
    let clip = random_bytes(300_000);
    put(&project, "media/clip.mp4", &clip, None).await;
    put(
        &project,
        "media/pic.png",
        b"\x89PNG not really",
        Some("image/png"),
    )
    .await;
    put(&project, "media/<b onclick=x>bold.txt", b"hi", None).await;
    put(&project, "media/sub/x.txt", b"x", None).await;
    put(&project, "private/secret.txt", b"secret", None).await;

    let shared = project
        .access()
        .restrict(read_only(), &[("pub".into(), "media/".into())])
        .unwrap();
    let (base, id) = register_public(&net, &shared).await;
    let raw = format!("{base}/raw/{id}/pub/media/clip.mp4");

    // The whole object, with its type guessed from the name, validators and caching.
    let (status, h, body) = get(&raw, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body == clip, "the bytes come back unchanged");
    assert_eq!(text(&h, header::CONTENT_TYPE), "video/mp4");
    assert_eq!(text(&h, header::CONTENT_LENGTH), clip.len().to_string());
    assert_eq!(text(&h, header::ACCEPT_RANGES), "bytes");
    let etag = text(&h, header::ETAG);
    assert_eq!(etag, format!("\"{}\"", hex::encode(md5_of(&clip))));
    assert!(!text(&h, header::LAST_MODIFIED).is_empty());
    assert_eq!(text(&h, header::CACHE_CONTROL), "public, max-age=60");
    assert_eq!(
        text(&h, "x-content-sha256"),
        hex::encode(Sha256::digest(&clip))
    );
    assert!(text(&h, header::CONTENT_SECURITY_POLICY).starts_with("sandbox"));
    assert_eq!(text(&h, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert!(text(&h, header::CONTENT_DISPOSITION).starts_with("inline;"));

    // Ranges: a middle, a suffix, past the end.
    let (status, h, body) = get(&raw, &[(header::RANGE, "bytes=1000-1999")]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        text(&h, header::CONTENT_RANGE),
        format!("bytes 1000-1999/{}", clip.len())
    );
    assert!(body == clip[1000..2000]);
    let (status, _, body) = get(&raw, &[(header::RANGE, "bytes=-100")]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert!(body == clip[clip.len() - 100..]);
    let (status, h, _) = get(&raw, &[(header::RANGE, "bytes=999999999-")]).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        text(&h, header::CONTENT_RANGE),
        format!("bytes */{}", clip.len())
    );

    // Validators: 304 for the same ETag; an If-Range for another version gets it all.
    let (status, _, body) = get(&raw, &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    let (status, _, body) = get(
        &raw,
        &[
            (header::RANGE, "bytes=0-9"),
            (header::IF_RANGE, "\"other\""),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.len(), clip.len());
    let (status, _, body) = get(
        &raw,
        &[(header::RANGE, "bytes=0-9"), (header::IF_RANGE, &etag)],
    )
    .await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert!(body == clip[..10]);
    let (status, _, _) = get(&raw, &[(header::IF_MATCH, "\"other\"")]).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);

    // ?download is an attachment; HEAD has the headers and no body.
    let (_, h, _) = get(&format!("{raw}?download"), &[]).await;
    assert_eq!(
        text(&h, header::CONTENT_DISPOSITION),
        "attachment; filename=\"clip.mp4\"; filename*=UTF-8''clip%2Emp4"
    );
    let res = reqwest::Client::new().head(&raw).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        text(res.headers(), header::CONTENT_LENGTH),
        clip.len().to_string()
    );
    assert!(res.bytes().await.unwrap().is_empty());

    // Pages: a player for video, an image with Open Graph tags, escaped names.
    let (status, h, body) = get(&format!("{base}/s/{id}/pub/media/clip.mp4"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text(&h, header::CONTENT_TYPE).starts_with("text/html"));
    assert!(text(&h, header::CONTENT_SECURITY_POLICY).contains("default-src 'none'"));
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("<video controls"), "{page}");
    assert!(
        page.contains(&format!("<meta property=\"og:video\" content=\"{raw}\">")),
        "{page}"
    );
    assert!(
        page.contains("<meta property=\"og:title\" content=\"clip.mp4\">"),
        "{page}"
    );
    assert!(
        page.contains(&format!("/raw/{id}/pub/media/clip.mp4?download")),
        "{page}"
    );
    let (_, _, body) = get(&format!("{base}/s/{id}/pub/media/pic.png"), &[]).await;
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains(&format!(
        "<meta property=\"og:image\" content=\"{base}/raw/{id}/pub/media/pic.png\">"
    )));
    assert!(page.contains("<img src="), "{page}");
    let (status, _, body) = get(
        &format!("{base}/s/{id}/pub/media/%3Cb%20onclick%3Dx%3Ebold.txt"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let page = String::from_utf8(body).unwrap();
    assert!(
        !page.contains("<b onclick"),
        "a name is never markup: {page}"
    );
    assert!(page.contains("&lt;b onclick=x&gt;bold.txt"), "{page}");

    // A prefix link lists its level: objects and sub-prefixes, nothing outside.
    let (status, _, body) = get(&format!("{base}/s/{id}/pub/media/"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let page = String::from_utf8(body).unwrap();
    for shown in ["clip.mp4", "pic.png", "sub/", "&lt;b onclick=x&gt;bold.txt"] {
        assert!(
            page.contains(&format!(">{shown}</a>")),
            "{shown} listed: {page}"
        );
    }
    assert!(
        !page.contains("x.txt") && !page.contains("secret"),
        "{page}"
    );
    let (status, h, _) = get(&format!("{base}/raw/{id}/pub/media/"), &[]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "/raw/ of a prefix leads to its page"
    );
    assert!(text(&h, header::CONTENT_TYPE).starts_with("text/html"));

    // What the grant does not reach is not there, and nothing is a 500.
    for outside in [
        format!("{base}/raw/{id}/pub/private/secret.txt"),
        format!("{base}/s/{id}/pub/private/secret.txt"),
        format!("{base}/raw/{id}/pub/media/missing.bin"),
        format!("{base}/raw/{id}/other/media/clip.mp4"),
        format!("{base}/raw/AAAAAAAAAAAAAAAAAAAAAAAAAAAA/pub/media/clip.mp4"),
        format!("{base}/raw/{id}/pub/media/%ff"),
        format!("{base}/elsewhere"),
    ] {
        let (status, _, body) = get(&outside, &[]).await;
        assert!(
            status == StatusCode::NOT_FOUND
                || status == StatusCode::FORBIDDEN
                || status == StatusCode::BAD_REQUEST,
            "{outside}: {status}"
        );
        assert!(
            body != b"secret",
            "{outside} served what the link does not reach"
        );
    }
    let (status, _, _) = get(&format!("{base}/s/{id}/pub/"), &[]).await;
    assert!(
        matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "{status}"
    );
    let res = reqwest::Client::new()
        .put(&raw)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(text(res.headers(), header::ALLOW), "GET, HEAD");

    // A registration that is not public is no link, though its id is valid for S3.
    let private = project
        .metainfo()
        .register_edge(&RegisterRequest {
            access_grant: shared.serialize(),
            public: false,
        })
        .await
        .unwrap();
    assert!(private.links_url.is_none());
    let (status, _, _) = get(
        &format!("{base}/raw/{}/pub/media/clip.mp4", private.access_key_id),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The link service's requests are counted by endpoint.
    let metrics = net.network.satellite.metrics.render();
    assert!(metrics.contains("endpoint=\"links:raw\""), "{metrics}");
    assert!(metrics.contains("endpoint=\"links:page\""));
    net.stop().await;
}

fn md5_of(data: &[u8]) -> [u8; 16] {
    use md5::Digest as _;
    md5::Md5::digest(data).into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn object_links_reach_one_object_pins_refuse_changes_and_links_end() {
    let net = TestNetwork::start_with(Options {
        tweak: Box::new(|c| c.satellite.revocation_cache_ttl = Duration::from_millis(200)),
        ..Default::default()
    })
    .await;
    let project = net.project().await;
    project.create_bucket("pub").await.unwrap();
    let first = random_bytes(20_000);
    put(&project, "nft/1.png", &first, None).await;
    put(&project, "nft/2.png", b"sibling", None).await;

    // A single-object grant: that object, and not its siblings or its prefix.
    let one = project
        .access()
        .restrict(read_only(), &[("pub".into(), "nft/1.png".into())])
        .unwrap();
    let (base, id) = register_public(&net, &one).await;
    let raw = format!("{base}/raw/{id}/pub/nft/1.png");
    let (status, _, body) = get(&raw, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body == first);
    for outside in ["nft/2.png", "nft/", "nft/1.png/x"] {
        let (status, _, _) = get(&format!("{base}/s/{id}/pub/{outside}"), &[]).await;
        assert!(
            matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "{outside}: {status}"
        );
    }

    // Pinned to the content's SHA-256: served while it matches, refused once replaced.
    let pin = hex::encode(Sha256::digest(&first));
    let pinned = format!("{raw}?sha256={pin}");
    let (status, h, body) = get(&pinned, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body == first);
    assert_eq!(text(&h, "x-content-sha256"), pin);
    let (status, _, _) = get(&format!("{raw}?sha256=1234"), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    put(&project, "nft/1.png", &random_bytes(20_000), None).await;
    let (status, _, body) = get(&pinned, &[]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(String::from_utf8_lossy(&body).contains("changed"));
    let (status, _, _) = get(&format!("{base}/s/{id}/pub/nft/1.png?sha256={pin}"), &[]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _, _) = get(&raw, &[]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the unpinned link follows the object"
    );

    // A link that expires: it works, then it is gone, and caches were told so. (The
    // window leaves room for a loaded machine: the first request must come before it
    // ends.)
    let ends = now_unix() + 8;
    let brief = project
        .access()
        .restrict(
            Caveat {
                not_after: Some(ends),
                ..read_only()
            },
            &[("pub".into(), "nft/".into())],
        )
        .unwrap();
    let (_, brief_id) = register_public(&net, &brief).await;
    let brief_raw = format!("{base}/raw/{brief_id}/pub/nft/2.png");
    let (status, h, _) = get(&brief_raw, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let age: u64 = text(&h, header::CACHE_CONTROL)
        .trim_start_matches("public, max-age=")
        .parse()
        .unwrap_or(0);
    assert!(age <= 8, "cached no longer than the link lives: {age}");
    while now_unix() <= ends {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (status, _, _) = get(&brief_raw, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A revoked link stops (within the satellite's revocation cache time).
    let (status, _, _) = get(&raw, &[]).await;
    assert_eq!(status, StatusCode::OK);
    project.revoke(&one.api_key).await.unwrap();
    let mut last = StatusCode::OK;
    for _ in 0..50 {
        last = get(&raw, &[]).await.0;
        if last != StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(last, StatusCode::FORBIDDEN);
    net.stop().await;
}

/// Runs an ffmpeg tool; the README's test command installs them.
fn ffmpeg_tool(name: &str, args: &[&str]) -> std::process::Output {
    Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} runs (scripts/test-all.sh installs ffmpeg): {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ffmpeg_seeks_in_a_video_through_a_link() {
    let net = TestNetwork::start(10).await;
    let project = net.project().await;
    project.create_bucket("pub").await.unwrap();
    // Without faststart the index (moov) is at the end: a player must seek to read it.
    let video = net.dir().join("clip.mp4");
    let made = ffmpeg_tool(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=20:size=320x240:rate=25",
            "-c:v",
            "mpeg4",
            "-q:v",
            "5",
            "-y",
            video.to_str().unwrap(),
        ],
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let data = std::fs::read(&video).unwrap();
    put(&project, "videos/clip.mp4", &data, None).await;
    let shared = project
        .access()
        .restrict(read_only(), &[("pub".into(), "videos/".into())])
        .unwrap();
    let (base, id) = register_public(&net, &shared).await;
    let url = format!("{base}/raw/{id}/pub/videos/clip.mp4");

    let partial_before = count(&net, "links:raw", "206");
    let probe = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            ffmpeg_tool(
                "ffprobe",
                &[
                    "-v",
                    "error",
                    "-show_entries",
                    "format=duration",
                    "-of",
                    "csv=p=0",
                    &url,
                ],
            )
        }
    })
    .await
    .unwrap();
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let duration: f64 = String::from_utf8_lossy(&probe.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!((duration - 20.0).abs() < 0.5, "duration {duration}");

    // Seek to 15 s and decode one frame there.
    let frame = net.dir().join("frame.png");
    let seek = tokio::task::spawn_blocking({
        let frame = frame.clone();
        move || {
            ffmpeg_tool(
                "ffmpeg",
                &[
                    "-v",
                    "error",
                    "-ss",
                    "15",
                    "-i",
                    &url,
                    "-frames:v",
                    "1",
                    "-y",
                    frame.to_str().unwrap(),
                ],
            )
        }
    })
    .await
    .unwrap();
    assert!(
        seek.status.success(),
        "{}",
        String::from_utf8_lossy(&seek.stderr)
    );
    assert!(std::fs::metadata(&frame).unwrap().len() > 0);
    assert!(
        count(&net, "links:raw", "206") > partial_before,
        "the player read ranges (206), not just whole files"
    );
    net.stop().await;
}

/// The satellite's request count for an endpoint and status.
fn count(net: &TestNetwork, endpoint: &str, status: &str) -> u64 {
    net.network
        .satellite
        .metrics
        .http_requests
        .with_label_values(&[endpoint, status])
        .get()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn edge_listeners_serve_https_with_the_configured_certificate() {
    let certs = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_file, key_file) = (certs.path().join("edge.pem"), certs.path().join("key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let net = TestNetwork::start_with(Options {
        tweak: Box::new(move |c| {
            c.satellite.edge.tls_certificate_file = Some(cert_file);
            c.satellite.edge.tls_key_file = Some(key_file);
        }),
        ..Default::default()
    })
    .await;
    let project = net.project().await;
    project.create_bucket("pub").await.unwrap();
    let data = random_bytes(100_000);
    put(&project, "f/data.bin", &data, None).await;
    let shared = project
        .access()
        .restrict(read_only(), &[("pub".into(), "f/".into())])
        .unwrap();
    let (base, id) = register_public(&net, &shared).await;
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let s3 = net.network.satellite.edge_s3_url().unwrap().to_string();
    assert!(s3.starts_with("https://"), "{s3}");

    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let res = trusting
        .get(format!("{base}/raw/{id}/pub/f/data.bin"))
        .header(header::RANGE, "bytes=10-99")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert!(res.bytes().await.unwrap() == data[10..100]);
    // The hosted S3 gateway answers over the same TLS (an unsigned request is refused).
    let res = trusting.get(format!("{s3}/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Without trust in the certificate, or in plain HTTP, nothing is served.
    assert!(
        reqwest::get(format!("{base}/raw/{id}/pub/f/data.bin"))
            .await
            .is_err()
    );
    let plain = base.replace("https://", "http://");
    let res = reqwest::get(format!("{plain}/raw/{id}/pub/f/data.bin")).await;
    assert!(res.is_err() || !res.unwrap().status().is_success());
    net.stop().await;
}
