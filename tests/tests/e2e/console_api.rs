//! The console API over real HTTP: accounts, sessions, projects, members, API keys,
//! usage and limits, as a browser or script would call it.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::uplink_core::access::{AccessGrant, ApiKey};
use tests::uplink_core::client::{ClientConfig, Project, UplinkError};
use tests::uplink_core::crypto::{EncryptionStore, Key};
use tests::uplink_core::protocol::now_unix;
use tests::{Options, TestNetwork, random_bytes};

use crate::console_client::{Console, message};

async fn network() -> TestNetwork {
    TestNetwork::start(10).await
}

#[tokio::test]
async fn sign_up_log_in_and_out() {
    let net = network().await;
    let anon = Console::new(&net);

    let (status, body) = anon.get("/config").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["satellite_address"],
        net.network.satellite_url().to_string()
    );

    let (status, body) = anon.get("/auth/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(anon.get("/projects").await.0, StatusCode::UNAUTHORIZED);

    for (email, password, why) in [
        ("not-an-email", "long enough pw", "email"),
        ("ann@example.com", "short", "at least 8"),
    ] {
        let (status, body) = anon
            .post(
                "/auth/signup",
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(message(&body).contains(why), "{body}");
    }
    let ann = anon.signup("Ann@Example.com", "correct horse").await;
    let (status, body) = ann.get("/auth/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"]["email"], "ann@example.com");
    assert!(body["user"].get("password_hash").is_none());

    let (status, body) = anon
        .post(
            "/auth/signup",
            json!({"email": "ann@example.com", "password": "another pw"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Wrong password and unknown email: the same answer.
    let (s1, b1) = anon
        .post(
            "/auth/login",
            json!({"email": "ann@example.com", "password": "wrong horse"}),
        )
        .await;
    let (s2, b2) = anon
        .post(
            "/auth/login",
            json!({"email": "nobody@example.com", "password": "wrong horse"}),
        )
        .await;
    assert_eq!(
        (s1, s2),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(b1, b2);
    assert_eq!(message(&b1), "invalid email or password");

    let (status, body) = anon
        .post(
            "/auth/login",
            json!({"email": "ANN@example.com ", "password": "correct horse"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = anon.with_token(body["token"].as_str().unwrap());

    // Logging out ends that session at once, and only that one.
    let (status, _) = second.post("/auth/logout", json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = second.get("/auth/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message(&body).contains("session has ended"), "{body}");
    assert_eq!(ann.get("/auth/me").await.0, StatusCode::OK);

    // A tampered token is refused.
    let token = ann.token.clone().unwrap();
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let forged = ann.with_token(&String::from_utf8(tampered).unwrap());
    assert_eq!(forged.get("/auth/me").await.0, StatusCode::UNAUTHORIZED);
    net.stop().await;
}

#[tokio::test]
async fn expired_sessions_are_refused() {
    let net = TestNetwork::start_with(Options {
        nodes: 1,
        tweak: Box::new(|c| c.satellite.console.session_ttl = Duration::from_secs(5)),
    })
    .await;
    let anon = Console::new(&net);
    let (status, body) = anon
        .post(
            "/auth/signup",
            json!({"email": "ann@example.com", "password": "correct horse"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let expires_at = body["expires_at"].as_i64().expect("the session's end");
    let ann = anon.with_token(body["token"].as_str().unwrap());
    // Accepted while the clock is before the end, refused from the end on: compared
    // with the clock read before each request (accepted) and after it (refused), so no
    // margin can be lost to a slow machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let before = now_unix();
        let (status, body) = ann.get("/auth/me").await;
        let after = now_unix();
        match status {
            StatusCode::OK => {
                assert!(
                    before < expires_at,
                    "accepted at {before}, ended at {expires_at}"
                );
            }
            StatusCode::UNAUTHORIZED => {
                assert!(
                    after >= expires_at,
                    "refused at {after}, ends at {expires_at}"
                );
                assert!(message(&body).contains("session has ended"), "{body}");
                break;
            }
            other => panic!("{other}: {body}"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the session never ended"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    net.stop().await;
}

#[tokio::test]
async fn password_change_ends_every_session() {
    let net = network().await;
    let anon = Console::new(&net);
    let a = anon.signup("bob@example.com", "first password").await;
    let (_, body) = anon
        .post(
            "/auth/login",
            json!({"email": "bob@example.com", "password": "first password"}),
        )
        .await;
    let b = anon.with_token(body["token"].as_str().unwrap());

    let (status, body) = a
        .post(
            "/auth/password",
            json!({"current_password": "not it", "new_password": "second password"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = a
        .post(
            "/auth/password",
            json!({"current_password": "first password", "new_password": "second password"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fresh = anon.with_token(body["token"].as_str().unwrap());
    assert_eq!(a.get("/auth/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(b.get("/auth/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(fresh.get("/auth/me").await.0, StatusCode::OK);
    for (password, expected) in [
        ("first password", StatusCode::UNAUTHORIZED),
        ("second password", StatusCode::OK),
    ] {
        let (status, _) = anon
            .post(
                "/auth/login",
                json!({"email": "bob@example.com", "password": password}),
            )
            .await;
        assert_eq!(status, expected, "{password}");
    }
    net.stop().await;
}

/// The wait a refused login names ("try again in N seconds").
fn wait_named(body: &Value) -> u64 {
    let m = message(body);
    m.split("try again in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no wait in {body}"))
}

#[tokio::test]
async fn repeated_failed_logins_are_slowed_down_alike_for_every_email() {
    let net = TestNetwork::start_with(Options {
        nodes: 1,
        tweak: Box::new(|c| c.satellite.console.login_failures_before_lockout = 3),
    })
    .await;
    let anon = Console::new(&net);
    anon.signup("carol@example.com", "correct horse").await;
    let login = |email: &'static str, password: &'static str| {
        anon.post("/auth/login", json!({"email": email, "password": password}))
    };
    let mut seen = Vec::new();
    for email in ["carol@example.com", "nobody@example.com"] {
        // Below the threshold every failure is answered as one.
        for _ in 0..3 {
            let (status, body) = login(email, "bad guess").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
            assert_eq!(message(&body), "invalid email or password");
        }
        // From there on each failure locks the email out, for 1, 2, 4 ... seconds (whole
        // seconds, so the first lock may already be over). Attempts while locked are
        // refused unheard and do not count; keep failing until a lock of 4 s is set,
        // which leaves seconds to spare for the checks after it.
        let mut failures = 3;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let body = loop {
            assert!(std::time::Instant::now() < deadline, "never locked for 4 s");
            let (status, body) = login(email, "bad guess").await;
            match status {
                StatusCode::UNAUTHORIZED => failures += 1,
                StatusCode::TOO_MANY_REQUESTS if failures >= 5 => break body,
                StatusCode::TOO_MANY_REQUESTS => {
                    assert!(wait_named(&body) <= 1 << (failures - 3), "{body}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => panic!("{other}: {body}"),
            }
        };
        assert_eq!(
            failures, 5,
            "each failure after the threshold doubles the lock"
        );
        assert!((1..=4).contains(&wait_named(&body)), "{body}");
        // Locked now: even the right password is refused until the wait is over.
        let (status, body) = login(email, "correct horse").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert!(message(&body).contains("try again in"), "{body}");
        seen.push((
            failures,
            message(&body).split(" in ").next().map(str::to_string),
        ));
    }
    assert_eq!(
        seen[0], seen[1],
        "an unknown email behaves like a known one"
    );
    net.stop().await;
}

#[tokio::test]
async fn projects_and_members() {
    let net = network().await;
    let anon = Console::new(&net);
    let owner = anon.signup("owner@example.com", "owner password").await;
    let other = anon.signup("other@example.com", "other password").await;

    let (status, body) = owner.post("/projects", json!({"name": "  "})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let id = owner.project("Photos").await;
    let (status, body) = owner.get("/projects").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["projects"][0]["name"], "Photos");
    assert_eq!(body["projects"][0]["role"], "owner");
    assert!(!body["projects"][0]["salt"].as_str().unwrap().is_empty());

    // Someone else's project does not exist for them.
    for (method, path) in [
        (Method::GET, format!("/projects/{id}")),
        (Method::GET, format!("/projects/{id}/usage")),
        (Method::GET, format!("/projects/{id}/api-keys")),
        (Method::GET, format!("/projects/{id}/buckets")),
        (Method::GET, format!("/projects/{id}/members")),
        (Method::DELETE, format!("/projects/{id}")),
    ] {
        let (status, body) = other.call(method, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (status, body) = other.get("/projects").await;
    assert_eq!(body["projects"], json!([]), "{status}");

    let (status, body) = owner
        .post(
            &format!("/projects/{id}/members"),
            json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = owner
        .post(
            &format!("/projects/{id}/members"),
            json!({"email": "Other@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let other_id = body["user_id"].as_str().unwrap().to_string();
    let (status, _) = owner
        .post(
            &format!("/projects/{id}/members"),
            json!({"email": "other@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // A member sees the project but cannot manage it.
    let (status, body) = other.get(&format!("/projects/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["role"], "member");
    let (status, body) = other
        .call(
            Method::PATCH,
            &format!("/projects/{id}"),
            Some(json!({"name": "Mine now"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let owner_id = owner.get("/auth/me").await.1["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = other
        .call(
            Method::DELETE,
            &format!("/projects/{id}/members/{owner_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, body) = owner.get(&format!("/projects/{id}/members")).await;
    assert_eq!(body["members"].as_array().unwrap().len(), 2);

    let (status, body) = owner
        .call(
            Method::PATCH,
            &format!("/projects/{id}"),
            Some(json!({"name": "Family photos", "description": "2026"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Family photos");

    let (status, _) = owner
        .call(
            Method::DELETE,
            &format!("/projects/{id}/members/{other_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        other.get(&format!("/projects/{id}")).await.0,
        StatusCode::NOT_FOUND
    );

    // A project with buckets cannot be deleted.
    let key = create_key(&owner, &id, "k").await;
    let project = open(&net, &key).await;
    project.create_bucket("bkt").await.unwrap();
    let (status, body) = owner
        .call(Method::DELETE, &format!("/projects/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    project.delete_bucket("bkt", false).await.unwrap();
    let (status, _) = owner
        .call(Method::DELETE, &format!("/projects/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    match project.create_bucket("ccc").await {
        Err(UplinkError::Unauthenticated(why)) => {
            assert!(why.contains("unknown API key"), "its keys are gone: {why}")
        }
        other => panic!("the deleted project's key still works: {other:?}"),
    }
    net.stop().await;
}

async fn create_key(console: &Console, project: &str, name: &str) -> String {
    let (status, body) = console
        .post(
            &format!("/projects/{project}/api-keys"),
            json!({"name": name}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["api_key"].as_str().unwrap().to_string()
}

/// What a user does with a new key: a grant with their own encryption key.
async fn open(net: &TestNetwork, key: &str) -> Project {
    let grant = AccessGrant {
        satellite: net.network.satellite_url().clone(),
        api_key: ApiKey::parse(key).unwrap(),
        encryption: EncryptionStore::with_root(Key::random()),
    };
    Project::open(grant, ClientConfig::default()).unwrap()
}

#[tokio::test]
async fn api_keys_are_created_listed_paged_and_deleted() {
    let net = network().await;
    let ann = Console::new(&net)
        .signup("ann@example.com", "correct horse")
        .await;
    let id = ann.project("P").await;
    for i in 0..5 {
        create_key(&ann, &id, &format!("key {i}")).await;
    }
    let (status, body) = ann
        .post(
            &format!("/projects/{id}/api-keys"),
            json!({"name": "key 0"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Pages of two: sizes 2, 2, 1 and then nothing; together exactly the whole list,
    // in its order, each key once.
    let key_ids = |body: &Value| -> Vec<String> {
        body["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (status, everything) = ann.get(&format!("/projects/{id}/api-keys?limit=100")).await;
    assert_eq!(status, StatusCode::OK);
    let all = key_ids(&everything);
    let mut names: Vec<&str> = everything["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["key 0", "key 1", "key 2", "key 3", "key 4"]);
    let mut paged = Vec::new();
    for (page, size) in [(1, 2), (2, 2), (3, 1), (4, 0)] {
        let (status, body) = ann
            .get(&format!("/projects/{id}/api-keys?page={page}&limit=2"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["total"], 5);
        let ids = key_ids(&body);
        assert_eq!(ids.len(), size, "page {page}: {body}");
        for key in body["api_keys"].as_array().unwrap() {
            assert!(key.get("api_key").is_none(), "secrets are shown once");
        }
        paged.extend(ids);
    }
    assert_eq!(paged, all, "pages are disjoint and complete");

    let serialized = create_key(&ann, &id, "to delete").await;
    let project = open(&net, &serialized).await;
    project.create_bucket("bkt").await.unwrap();
    let mut restricted = project.access().clone();
    restricted.api_key = restricted
        .api_key
        .restrict(&tests::uplink_core::access::Caveat {
            disallow_deletes: true,
            ..tests::uplink_core::access::Caveat::new()
        });
    let child = Project::open(restricted, ClientConfig::default()).unwrap();
    child
        .upload("bkt", "k", &b"data"[..], Default::default())
        .await
        .unwrap();

    let (_, body) = ann.get(&format!("/projects/{id}/api-keys?limit=100")).await;
    let key_id = body["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "to delete")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = ann
        .call(
            Method::DELETE,
            &format!("/projects/{id}/api-keys/{key_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for p in [&project, &child] {
        match p.list_buckets().await {
            Err(UplinkError::Unauthenticated(why)) => {
                assert!(why.contains("unknown API key"), "{why}")
            }
            other => panic!("a deleted key still works: {other:?}"),
        }
    }
    let (status, _) = ann
        .call(
            Method::DELETE,
            &format!("/projects/{id}/api-keys/{key_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    net.stop().await;
}

#[tokio::test]
async fn usage_buckets_and_encrypted_listing() {
    let net = network().await;
    let ann = Console::new(&net)
        .signup("ann@example.com", "correct horse")
        .await;
    let id = ann.project("P").await;
    let key = create_key(&ann, &id, "k").await;
    let project = open(&net, &key).await;
    project.create_bucket("photos").await.unwrap();
    let data = random_bytes(300 << 10);
    project
        .upload("photos", "2026/summer.jpg", &data[..], Default::default())
        .await
        .unwrap();
    project
        .upload("photos", "readme.txt", &b"hello"[..], Default::default())
        .await
        .unwrap();

    let (status, body) = ann.get(&format!("/projects/{id}/usage")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["usage"]["buckets"], 1);
    assert_eq!(body["usage"]["objects"], 2);
    assert_eq!(body["usage"]["storage_bytes"], (300 << 10) + 5);
    assert_eq!(body["limits"]["buckets"], 100);

    let (_, body) = ann.get(&format!("/projects/{id}/buckets")).await;
    assert_eq!(body["total"], 1);
    assert_eq!(body["buckets"][0]["name"], "photos");
    assert_eq!(body["buckets"][0]["objects"], 2);

    let (status, body) = ann
        .get(&format!("/projects/{id}/buckets/photos/objects?limit=1"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let first = &body["items"][0];
    let cursor = body["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_string();
    let (_, page2) = ann
        .get(&format!(
            "/projects/{id}/buckets/photos/objects?limit=1&cursor={}",
            urlencode(&cursor)
        ))
        .await;
    let second = &page2["items"][0];
    assert_eq!(page2["next_cursor"], Value::Null);
    let names: Vec<&str> = [first, second]
        .iter()
        .map(|i| i["encrypted_key"].as_str().unwrap())
        .collect();
    for name in &names {
        assert!(
            !name.contains("summer") && !name.contains("readme"),
            "{name}"
        );
    }
    assert_eq!(
        [first, second]
            .iter()
            .filter(|i| i["is_prefix"] == true)
            .count(),
        1
    );

    project
        .download("photos", "readme.txt", None, &mut Vec::new(), None)
        .await
        .unwrap();
    let (_, body) = ann.get(&format!("/projects/{id}/usage")).await;
    assert_eq!(body["usage"]["egress_bytes"], 5);
    net.stop().await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The message of a refusal for a project limit; any other error fails the test.
fn limit_exceeded(err: UplinkError) -> String {
    match err {
        UplinkError::LimitExceeded(_) => err.to_string(),
        other => panic!("expected a project limit, got {other:?}"),
    }
}

#[tokio::test]
async fn project_limits_are_enforced_with_errors_that_name_them() {
    use tests::satellite::admin::{LimitsUpdate, set_limits};
    let net = network().await;
    let ann = Console::new(&net)
        .signup("ann@example.com", "correct horse")
        .await;
    let id = ann.project("P").await;
    let key = create_key(&ann, &id, "k").await;
    let project = open(&net, &key).await;
    let db = &net.network.satellite.db;

    set_limits(
        db,
        &id,
        LimitsUpdate {
            buckets: Some(1),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    project.create_bucket("one1").await.unwrap();
    let err = limit_exceeded(project.create_bucket("two2").await.unwrap_err());
    assert!(err.contains("bucket limit of 1"), "{err}");

    set_limits(
        db,
        &id,
        LimitsUpdate {
            storage_bytes: Some(10_000),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let data = random_bytes(20_000);
    project
        .upload("one1", "a", &data[..], Default::default())
        .await
        .unwrap();
    let err = project
        .upload("one1", "b", &data[..], Default::default())
        .await
        .unwrap_err();
    let err = limit_exceeded(err);
    assert!(err.contains("storage limit of 9.77 KiB"), "{err}");

    set_limits(
        db,
        &id,
        LimitsUpdate {
            egress_bytes: Some(30_000),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    project
        .download("one1", "a", None, &mut Vec::new(), None)
        .await
        .unwrap();
    let err = project
        .download("one1", "a", None, &mut Vec::new(), None)
        .await
        .unwrap_err();
    let err = limit_exceeded(err);
    assert!(err.contains("monthly egress limit"), "{err}");

    set_limits(
        db,
        &id,
        LimitsUpdate {
            segments: Some(1),
            storage_bytes: Some(1 << 30),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let err = project
        .upload("one1", "c", &b"x"[..], Default::default())
        .await
        .unwrap_err();
    let err = limit_exceeded(err);
    assert!(err.contains("segment limit of 1"), "{err}");

    set_limits(
        db,
        &id,
        LimitsUpdate {
            requests_per_second: Some(3),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut refused = None;
    for _ in 0..20 {
        if let Err(e) = project.list_buckets().await {
            refused = Some(limit_exceeded(e));
            break;
        }
    }
    let err = refused.expect("a burst above 3 requests per second is refused");
    assert!(err.contains("request rate limit of 3"), "{err}");

    let (_, body) = ann.get(&format!("/projects/{id}/usage")).await;
    assert_eq!(body["limits"]["segments"], 1);
    assert_eq!(body["usage"]["segments"], 1);
    net.stop().await;
}

#[tokio::test]
async fn password_requests_are_limited_per_client_address() {
    let net = TestNetwork::start_with(Options {
        nodes: 1,
        tweak: Box::new(|c| c.satellite.console.credential_requests_per_minute = 3),
    })
    .await;
    // Two clients on different loopback addresses: the server sees two peers.
    let a = Console::from_address(&net, [127, 0, 0, 2]);
    let b = Console::from_address(&net, [127, 0, 0, 3]);
    async fn signup(console: &Console, email: String) -> (StatusCode, Value) {
        console
            .post(
                "/auth/signup",
                json!({"email": email, "password": "long enough pw"}),
            )
            .await
    }
    // A floods until refused; B, right after, is not; and A, after B, still is, which
    // shows that no minute boundary passed in between (otherwise try again).
    for round in 0..3 {
        let mut refused = None;
        for i in 0..7 {
            let (status, body) = signup(&a, format!("a{round}-{i}@example.com")).await;
            if status == StatusCode::TOO_MANY_REQUESTS {
                refused = Some(body);
                break;
            }
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        // Three per minute: seven quick attempts cross at most one minute boundary.
        let body = refused.expect("a flood of sign-ups is cut off");
        assert!(message(&body).contains("attempts a minute"), "{body}");
        let (status, body) = signup(&b, format!("b{round}@example.com")).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "another address is not limited: {body}"
        );
        let (status, body) = signup(&a, format!("a{round}-again@example.com")).await;
        match status {
            StatusCode::TOO_MANY_REQUESTS => {
                net.stop().await;
                return;
            }
            // A new minute began: the comparison above proved nothing; repeat it.
            StatusCode::CREATED => continue,
            other => panic!("{other}: {body}"),
        }
    }
    panic!("three rounds each crossed a minute boundary");
}
