//! Attacks on the satellite's access layer and HTTP server, each refused: revocation
//! floods and revocations by expired grants, API keys outliving their creator's
//! membership, password and email abuse at the console, and clients that hold
//! connections open by sending slowly.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tests::satellite::db::entities::revocation;
use tests::uplink_core::access::{AccessGrant, ApiKey, Caveat};
use tests::uplink_core::client::{ClientConfig, Project, UplinkError};
use tests::uplink_core::crypto::{EncryptionStore, Key};
use tests::uplink_core::protocol::now_unix;
use tests::{Options, TestNetwork};

use crate::console_client::{Console, message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Whatever could hang (a server that never closes) fails after this instead.
const OUTER_DEADLINE: Duration = Duration::from_secs(60);

fn open(grant: &AccessGrant) -> Project {
    Project::open(grant.clone(), ClientConfig::default()).expect("project opens")
}

/// A restriction of `grant` with a fresh nonce (so every call gives a distinct grant).
fn share(grant: &AccessGrant, caveat: Caveat) -> AccessGrant {
    grant
        .restrict(
            Caveat {
                nonce: Caveat::new().nonce,
                ..caveat
            },
            &[],
        )
        .expect("restrict")
}

async fn revocation_rows(net: &TestNetwork) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    revocation::Entity::find()
        .count(&net.network.satellite.db)
        .await
        .expect("count revocations")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_outside_their_time_window_cannot_revoke() {
    let net = TestNetwork::start(1).await;
    let root = net.access().await;
    open(&root).create_bucket("team").await.unwrap();
    let now = now_unix();
    for (caveat, reason) in [
        (
            Caveat {
                not_after: Some(now - 60),
                ..Caveat::default()
            },
            "expired at",
        ),
        (
            Caveat {
                not_before: Some(now + 3600),
                ..Caveat::default()
            },
            "not valid until",
        ),
    ] {
        let outside = share(&root, caveat);
        let child = share(&outside, Caveat::default());
        for target in [&child, &outside] {
            match open(&outside).revoke(&target.api_key).await {
                Err(UplinkError::PermissionDenied(why)) => {
                    assert!(why.contains(reason), "{why}")
                }
                other => panic!("a grant outside its time window revoked: {other:?}"),
            }
        }
    }
    assert_eq!(revocation_rows(&net).await, 0, "a refused revocation wrote");
    // A grant within its window still revokes.
    let current = share(
        &root,
        Caveat {
            not_before: Some(now - 60),
            not_after: Some(now + 3600),
            ..Caveat::default()
        },
    );
    let child = share(&current, Caveat::default());
    open(&current).revoke(&child.api_key).await.unwrap();
    assert_eq!(revocation_rows(&net).await, 1);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_per_project_are_bounded_even_when_racing() {
    const MAX: u64 = 5;
    let net = TestNetwork::start_with(Options {
        nodes: 1,
        tweak: Box::new(|c| {
            c.satellite.max_revocations_per_project = MAX;
            c.satellite.revocations_per_minute = 1000;
        }),
    })
    .await;
    let root = net.access().await;
    // A read-only share is enough to spend the project's revocations.
    let reader = share(
        &root,
        Caveat {
            disallow_writes: true,
            disallow_deletes: true,
            ..Caveat::default()
        },
    );
    let reader_p = open(&reader);
    for _ in 0..MAX - 1 {
        let child = share(&reader, Caveat::default());
        reader_p.revoke(&child.api_key).await.unwrap();
    }
    // The last unit, raced for by twelve.
    let children: Vec<AccessGrant> = (0..12).map(|_| share(&reader, Caveat::default())).collect();
    let results = futures::future::join_all(children.iter().map(|child| {
        let reader = open(&reader);
        async move { reader.revoke(&child.api_key).await }
    }))
    .await;
    let mut won = 0;
    for result in results {
        match result {
            Ok(()) => won += 1,
            Err(UplinkError::LimitExceeded(why)) => {
                assert!(why.contains(&format!("limit of {MAX} revoked")), "{why}")
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(won, 1, "exactly one of the racing revocations fits");
    assert_eq!(revocation_rows(&net).await, MAX);
    // Revoking what is already revoked still answers success and writes nothing.
    let first = &children[0];
    let _ = reader_p.revoke(&first.api_key).await;
    assert_eq!(revocation_rows(&net).await, MAX);
    // The root key still works, and another project is not affected.
    open(&root).list_buckets().await.unwrap();
    let other = net.access().await;
    let other_child = share(&other, Caveat::default());
    open(&other).revoke(&other_child.api_key).await.unwrap();
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_are_rate_limited() {
    let net = TestNetwork::start_with(Options {
        nodes: 1,
        tweak: Box::new(|c| c.satellite.revocations_per_minute = 3),
    })
    .await;
    let root = net.access().await;
    let reader = share(
        &root,
        Caveat {
            disallow_writes: true,
            ..Caveat::default()
        },
    );
    let reader_p = open(&reader);
    // Three a minute: seven quick revocations cross at most one minute boundary, so at
    // least one is refused.
    let mut refused = None;
    for _ in 0..7 {
        let child = share(&reader, Caveat::default());
        match reader_p.revoke(&child.api_key).await {
            Ok(()) => {}
            Err(UplinkError::LimitExceeded(why)) => {
                refused = Some(why);
                break;
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    let why = refused.expect("a flood of revocations is cut off");
    assert!(why.contains("3 revocations a minute"), "{why}");
    net.stop().await;
}

fn grant_of(net: &TestNetwork, serialized_key: &str) -> AccessGrant {
    AccessGrant {
        satellite: net.network.satellite_url().clone(),
        api_key: ApiKey::parse(serialized_key).unwrap(),
        encryption: EncryptionStore::with_root(Key::random()),
    }
}

/// An owner's project with a member, each holding a key (and a grant shared from the
/// member's key).
struct Team {
    owner: Console,
    member: Console,
    member_id: String,
    project: String,
    owner_grant: AccessGrant,
    member_grant: AccessGrant,
    member_share: AccessGrant,
}

async fn team(net: &TestNetwork) -> Team {
    let anon = Console::new(net);
    let (owner, _) = anon.signup_with_id("owner@example.com").await;
    let (member, member_id) = anon.signup_with_id("member@example.com").await;
    let (status, body) = owner.post("/projects", json!({"name": "P"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let project = body["id"].as_str().unwrap().to_string();
    let (status, body) = owner
        .post(
            &format!("/projects/{project}/members"),
            json!({"email": "member@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, owner_key) = owner.create_key(&project, "owner key").await;
    let (_, member_key) = member.create_key(&project, "member key").await;
    let owner_grant = grant_of(net, &owner_key);
    let member_grant = grant_of(net, &member_key);
    let member_share = share(
        &member_grant,
        Caveat {
            disallow_deletes: true,
            ..Caveat::default()
        },
    );
    open(&owner_grant).create_bucket("shared").await.unwrap();
    for g in [&member_grant, &member_share] {
        assert_eq!(open(g).list_buckets().await.unwrap().len(), 1);
    }
    assert_eq!(
        owner.keys(&project).await,
        [
            ("member key".into(), Some("member@example.com".into())),
            ("owner key".into(), Some("owner@example.com".into())),
        ]
    );
    Team {
        owner,
        member,
        member_id,
        project,
        owner_grant,
        member_grant,
        member_share,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_members_keys_stop_working() {
    let net = TestNetwork::start(1).await;
    let t = team(&net).await;
    let path = format!("/projects/{}/members/{}", t.project, t.member_id);
    let (status, body) = t.owner.call(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    for g in [&t.member_grant, &t.member_share] {
        match open(g).list_buckets().await {
            Err(UplinkError::Unauthenticated(why)) => {
                assert!(why.contains("unknown API key"), "{why}")
            }
            other => panic!("a removed member's grant still works: {other:?}"),
        }
    }
    assert_eq!(open(&t.owner_grant).list_buckets().await.unwrap().len(), 1);
    assert_eq!(
        t.owner.keys(&t.project).await,
        [("owner key".into(), Some("owner@example.com".into()))]
    );

    // A member who leaves takes their keys along too.
    let anon = Console::new(&net);
    let (carol, carol_id) = anon.signup_with_id("carol@example.com").await;
    let add = json!({"email": "carol@example.com"});
    let (status, _) = t
        .owner
        .post(&format!("/projects/{}/members", t.project), add)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, carol_key) = carol.create_key(&t.project, "carol key").await;
    let carol_grant = grant_of(&net, &carol_key);
    open(&carol_grant).list_buckets().await.unwrap();
    let leave = format!("/projects/{}/members/{carol_id}", t.project);
    let (status, body) = carol
        .call(Method::DELETE, &format!("{leave}?keys=reassign"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    open(&carol_grant).list_buckets().await.unwrap();
    let (status, _) = carol.call(Method::DELETE, &leave, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(matches!(
        open(&carol_grant).list_buckets().await,
        Err(UplinkError::Unauthenticated(_))
    ));
    // Removed, they cannot make another key either.
    let (status, _) = t
        .member
        .post(
            &format!("/projects/{}/api-keys", t.project),
            json!({"name": "after"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_may_keep_a_removed_members_keys() {
    let net = TestNetwork::start(1).await;
    let t = team(&net).await;
    let path = format!("/projects/{}/members/{}", t.project, t.member_id);
    let (status, body) = t
        .owner
        .call(Method::DELETE, &format!("{path}?keys=keep"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(message(&body).contains("query string"), "{body}");
    let (status, body) = t
        .owner
        .call(Method::DELETE, &format!("{path}?keys=reassign"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    for g in [&t.member_grant, &t.member_share] {
        assert_eq!(open(g).list_buckets().await.unwrap().len(), 1);
    }
    assert_eq!(
        t.owner.keys(&t.project).await,
        [
            ("member key".into(), Some("owner@example.com".into())),
            ("owner key".into(), Some("owner@example.com".into())),
        ]
    );
    let (status, _) = t
        .member
        .call(
            Method::GET,
            &format!("/projects/{}/api-keys", t.project),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Keys made by operators have no creator.
    let db = &net.network.satellite.db;
    tests::satellite::admin::create_api_key(db, &t.project, "operator key")
        .await
        .unwrap();
    let keys = t.owner.keys(&t.project).await;
    assert!(keys.contains(&("operator key".into(), None)), "{keys:?}");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_and_emails_are_checked_before_any_work() {
    let net = TestNetwork::start(1).await;
    let anon = Console::new(&net);
    let (ann, _) = anon.signup_with_id("ann@example.com").await;

    // An over-long password is refused before hashing, alike with or without an account.
    let long = "p".repeat(2000);
    let mut answers = Vec::new();
    for email in ["ann@example.com", "nobody@example.com"] {
        answers.push(
            anon.post("/auth/login", json!({"email": email, "password": long}))
                .await,
        );
    }
    assert_eq!(answers[0], answers[1], "the answer depends on the account");
    let (status, body) = &answers[0];
    assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
    assert!(message(body).contains("at most 1024 bytes"), "{body}");
    let change = json!({"current_password": long, "new_password": "another fine one"});
    let (status, body) = ann.post("/auth/password", change).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(message(&body).contains("at most 1024 bytes"), "{body}");

    for email in [
        "ann\u{0}@example.com",
        "bob@example.com\u{0}",
        "bob@exam\u{7}ple.com",
        "bob@@example.com",
        "bob@example..com",
    ] {
        let (status, body) = anon
            .post(
                "/auth/signup",
                json!({"email": email, "password": "correct horse"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{email:?}: {body}");
        assert!(message(&body).contains("valid email address"), "{body}");
    }

    for (password, reason) in [
        ("Password1", "most commonly used"),
        ("qwertyuiop", "most commonly used"),
        ("Dora.Explorer@Example.com", "email address"),
        ("dora.explorer", "email address"),
    ] {
        let (status, body) = anon
            .post(
                "/auth/signup",
                json!({"email": "Dora.Explorer@example.com", "password": password}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{password}: {body}");
        assert!(message(&body).contains(reason), "{password}: {body}");
    }
    for password in ["Password1", "QWERTYUIOP"] {
        let change = json!({"current_password": "correct horse", "new_password": password});
        let (status, body) = ann.post("/auth/password", change).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{password}: {body}");
        assert!(message(&body).contains("most commonly used"), "{body}");
    }
    let change = json!({"current_password": "correct horse", "new_password": "ann@example.com"});
    let (status, body) = ann.post("/auth/password", change).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(message(&body).contains("email address"), "{body}");
    // None of it changed anything: the old password and session still work.
    let (status, _) = ann.call(Method::GET, "/auth/me", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = anon
        .post(
            "/auth/login",
            json!({"email": "ann@example.com", "password": "correct horse"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    net.stop().await;
}

/// How a connection that was sending slowly ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// The server closed (or reset) the connection without answering.
    Closed,
    /// The server answered with this status.
    Answered(u16),
}

/// Sends `prefix` at once, then `dribble` one byte at a time, a quarter of a second
/// apart (and then keeps the connection open), until the server closes the connection
/// or answers. Fails after [`OUTER_DEADLINE`].
async fn dribble(address: &str, prefix: &[u8], dribble: &[u8]) -> Ended {
    let run = async {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        stream.write_all(prefix).await.expect("send the prefix");
        let mut answer = Vec::new();
        let mut pending = dribble.iter();
        loop {
            if let Some(byte) = pending.next()
                && stream.write_all(&[*byte]).await.is_err()
            {
                return Ended::Closed;
            }
            let mut buf = [0u8; 1024];
            match tokio::time::timeout(Duration::from_millis(250), stream.read(&mut buf)).await {
                Err(_) => {}
                Ok(Ok(0)) | Ok(Err(_)) => {
                    return status_of(&answer).map_or(Ended::Closed, Ended::Answered);
                }
                Ok(Ok(n)) => {
                    answer.extend_from_slice(&buf[..n]);
                    if let Some(status) = status_of(&answer) {
                        return Ended::Answered(status);
                    }
                }
            }
        }
    };
    tokio::time::timeout(OUTER_DEADLINE, run)
        .await
        .expect("the server kept a slow connection open")
}

/// The status of a response whose status line has arrived.
fn status_of(answer: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(answer).ok()?;
    let line = text.split_once("\r\n")?.0;
    line.split(' ').nth(1)?.parse().ok()
}

/// Reads one response with a `Content-Length` body off `stream`; its status.
async fn read_response(stream: &mut TcpStream) -> u16 {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.expect("read a response");
        assert!(n > 0, "closed before answering");
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                return status_of(&answer).expect("a status line");
            }
        }
    }
}

async fn slow_network() -> TestNetwork {
    TestNetwork::start_with(Options {
        nodes: 1,
        tweak: Box::new(|c| {
            // The requests below are written by hand, so plain HTTP.
            c.satellite.plain_http = true;
            c.satellite.http.header_timeout = Duration::from_secs(1);
            c.satellite.http.keep_alive = Duration::from_secs(1);
            c.satellite.http.disconnect_timeout = Duration::from_secs(1);
            c.satellite.http.body_min_bytes = 100;
            c.satellite.http.body_window = Duration::from_secs(1);
        }),
    })
    .await
}

const SLOW_HEADER: &[u8] = b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_do_not_hold_connections() {
    let net = slow_network().await;
    let address = net.network.satellite_url().address.clone();

    // The first request of a connection.
    let ended = dribble(
        &address,
        b"GET /health HTTP/1.1\r\nHost: sat\r\n",
        SLOW_HEADER,
    )
    .await;
    assert!(
        matches!(ended, Ended::Closed | Ended::Answered(408)),
        "{ended:?}"
    );

    // A later request on a kept-alive connection, whose headers no actix timer covers.
    let run = async {
        let mut stream = TcpStream::connect(&address).await.expect("connect");
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: sat\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(read_response(&mut stream).await, 200);
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: sat\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        for byte in SLOW_HEADER.iter().cycle() {
            if stream.write_all(&[*byte]).await.is_err() {
                return Ended::Closed;
            }
            match tokio::time::timeout(Duration::from_millis(250), stream.read(&mut buf)).await {
                Err(_) => {}
                Ok(Ok(0)) | Ok(Err(_)) => return Ended::Closed,
                Ok(Ok(n)) => {
                    return status_of(&buf[..n]).map_or(Ended::Closed, Ended::Answered);
                }
            }
        }
        unreachable!("the header cycles for ever")
    };
    let ended = tokio::time::timeout(OUTER_DEADLINE, run)
        .await
        .expect("the server kept a kept-alive connection with slow headers open");
    assert!(
        matches!(ended, Ended::Closed | Ended::Answered(408)),
        "{ended:?}"
    );

    // Prompt clients are served as before.
    let health = net
        .http()
        .get(format!("{}/health", net.console_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_are_cut_off_before_authentication() {
    let net = slow_network().await;
    let address = net.network.satellite_url().address.clone();
    let body = br#"{"name": "slowly-named-bucket-that-takes-its-time-to-arrive-at-the-satellite-byte-by-byte-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#;
    let head = format!(
        "POST /v1/buckets/create HTTP/1.1\r\nHost: sat\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let ended = dribble(&address, head.as_bytes(), body).await;
    assert_eq!(ended, Ended::Answered(408));

    // The same through the console API, with a chunked body.
    let head = "POST /api/v0/auth/login HTTP/1.1\r\nHost: sat\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    let chunks: Vec<u8> = body
        .iter()
        .flat_map(|b| {
            let mut chunk = b"1\r\n".to_vec();
            chunk.push(*b);
            chunk.extend_from_slice(b"\r\n");
            chunk
        })
        .collect();
    let ended = dribble(&address, head.as_bytes(), &chunks).await;
    assert_eq!(ended, Ended::Answered(408));

    // A body sent at once is read as before (and refused for want of an API key).
    let (status, _) = {
        let res = net
            .http()
            .post(format!("{}/v1/buckets/create", net.console_url()))
            .header("content-type", "application/json")
            .body(&body[..])
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    };
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    net.stop().await;
}
