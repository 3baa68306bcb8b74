//! Access grants as delegable capabilities: `uplink share` derives narrower grants
//! offline, which can never be widened again, and `uplink access revoke` takes back a
//! grant and everything derived from it, but only for those who hold it or an ancestor.
//!
//! The `uplink` binary is run as a user would (it must be built: `cargo build --bins`);
//! what the resulting grants can do is checked through the library.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tests::uplink_core::access::{AccessGrant, Caveat};
use tests::uplink_core::client::{ClientConfig, Project, Subject, UplinkError};
use tests::uplink_core::protocol::metainfo::ListObjectsRequest;
use tests::uplink_core::protocol::now_unix;
use tests::{TestNetwork, random_bytes};

fn uplink_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("uplink");
    assert!(
        path.is_file(),
        "{} is missing; run `cargo build --bins` first",
        path.display()
    );
    path
}

struct Ran {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs `uplink` with its own config dir, asynchronously: the network it talks to runs
/// on this test's runtime, which must not be blocked meanwhile.
/// A run that takes longer than two minutes is killed and fails the test.
async fn uplink(config: &Path, args: &[&str]) -> Ran {
    let run = tokio::process::Command::new(uplink_bin())
        .env("UPLINK_CONFIG_DIR", config)
        .env_remove("UPLINK_ACCESS")
        .args(args)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .unwrap_or_else(|_| {
            // Grants are long; leave them out of the message.
            let words: Vec<&&str> = args.iter().filter(|a| a.len() < 40).collect();
            panic!("uplink {words:?} still running after 2 minutes")
        })
        .unwrap();
    Ran {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `uplink --access <grant> share ARGS...`, which must succeed; the new grant.
async fn share(config: &Path, grant: &AccessGrant, args: &[&str]) -> AccessGrant {
    let serialized = grant.serialize();
    let mut all = vec!["--access", serialized.as_str(), "share"];
    all.extend_from_slice(args);
    let out = uplink(config, &all).await;
    assert!(out.ok, "share {args:?} failed: {}", out.stderr);
    AccessGrant::parse(&out.stdout).unwrap()
}

/// `uplink --access <grant> share ARGS...`, which must be refused; its error message.
async fn share_refused(config: &Path, grant: &AccessGrant, args: &[&str]) -> String {
    let serialized = grant.serialize();
    let mut all = vec!["--access", serialized.as_str(), "share"];
    all.extend_from_slice(args);
    let out = uplink(config, &all).await;
    assert!(!out.ok, "share {args:?} was not refused:\n{}", out.stderr);
    assert!(out.stdout.is_empty(), "a refused share printed a grant");
    out.stderr
}

fn open(grant: &AccessGrant) -> Project {
    Project::open(grant.clone(), ClientConfig::default()).unwrap()
}

fn denied(result: Result<impl std::fmt::Debug, UplinkError>, what: &str) -> String {
    match result {
        Err(UplinkError::PermissionDenied(why)) => why,
        other => panic!("{what}: expected permission denied, got {other:?}"),
    }
}

/// The grant holds no encryption key for the path, so the uplink cannot even name it.
fn no_key_for_path(result: Result<impl std::fmt::Debug, UplinkError>, what: &str) {
    use tests::uplink_core::crypto::CryptoError;
    match result {
        Err(UplinkError::Crypto(CryptoError::NoKeyForPath { bucket, .. })) => {
            assert_eq!(bucket, "team", "{what}")
        }
        other => panic!("{what}: expected no key for the path, got {other:?}"),
    }
}

/// Polls `check` until it returns true, failing after a generous deadline.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readonly_share_reaches_only_its_prefix_and_cannot_be_widened() {
    let net = TestNetwork::start(10).await;
    let config = tempfile::tempdir().unwrap();
    let owner_grant = net.access().await;
    let owner = open(&owner_grant);
    owner.create_bucket("team").await.unwrap();
    owner.create_bucket("elsewhere").await.unwrap();
    let body = random_bytes(20_000);
    for key in ["shared/a.bin", "shared/sub/b.bin", "other/x", "root.bin"] {
        owner
            .upload("team", key, &body[..], Default::default())
            .await
            .unwrap();
    }

    let shared = share(
        config.path(),
        &owner_grant,
        &["--readonly", "--not-after", "+1h", "sj://team/shared/"],
    )
    .await;
    let reader = open(&shared);

    // Reads and lists under shared/ work.
    assert!(tests::download(&reader, "team", "shared/sub/b.bin").await == body);
    let mut listed: Vec<String> = reader
        .list_objects("team", "shared/", true)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    listed.sort();
    assert_eq!(listed, ["shared/a.bin", "shared/sub/b.bin"]);

    // No writes, no deletes, even inside the prefix.
    let why = denied(
        reader
            .upload("team", "shared/new.bin", &body[..100], Default::default())
            .await,
        "upload",
    );
    assert_eq!(why, "the access grant does not allow writes");
    denied(reader.delete_object("team", "shared/a.bin").await, "delete");
    denied(reader.create_bucket("newbucket").await, "create bucket");

    // Outside the prefix the grant cannot even name things: it has no key for them ...
    no_key_for_path(
        reader.list_objects("team", "", false).await,
        "list the root",
    );
    let mut out = Vec::new();
    no_key_for_path(
        reader
            .download("team", "other/x", None, &mut out, None)
            .await,
        "read other/x",
    );
    assert!(out.is_empty());
    // ... and the satellite refuses its key there, even with correctly encrypted names.
    let mut sneaky = owner_grant.clone();
    sneaky.api_key = shared.api_key.clone();
    let sneaky = open(&sneaky);
    denied(sneaky.list_objects("team", "", false).await, "list root");
    denied(
        sneaky
            .download("team", "other/x", None, &mut out, None)
            .await,
        "read other/x",
    );
    denied(
        sneaky.stat_object("team", "root.bin").await,
        "stat root.bin",
    );
    denied(
        sneaky.list_objects("elsewhere", "", true).await,
        "list another bucket",
    );
    assert!(out.is_empty());

    // The names the satellite stores outside shared/ do not decrypt with the grant.
    let metainfo = net.metainfo(&owner_grant);
    let everything = metainfo
        .list_objects(
            &ListObjectsRequest {
                bucket: "team".into(),
                delimiter: None,
                prefix: String::new(),
                cursor: None,
                recursive: true,
                limit: None,
                include_metadata: false,
                pending: false,
            },
            &Subject::default(),
        )
        .await
        .unwrap();
    assert_eq!(everything.items.len(), 4);
    let mut decrypted = Vec::new();
    for item in &everything.items {
        match shared.encryption.decrypt_key("team", &item.encrypted_key) {
            Ok(name) => decrypted.push(name),
            Err(_) => {
                let name = owner_grant
                    .encryption
                    .decrypt_key("team", &item.encrypted_key)
                    .unwrap();
                assert!(!name.starts_with("shared/"), "{name} should decrypt");
            }
        }
    }
    decrypted.sort();
    assert_eq!(decrypted, ["shared/a.bin", "shared/sub/b.bin"]);

    // Every attempt to widen it is refused: offline ...
    for (args, why) in [
        (&["sj://team/"][..], "cannot reach sj://team/"),
        (&["sj://team/other/"], "cannot reach sj://team/other/"),
        (&["sj://elsewhere/"], "cannot reach sj://elsewhere/"),
        (&["--not-after", "+2h"], "cannot outlive"),
    ] {
        let err = share_refused(config.path(), &shared, args).await;
        assert!(err.contains(why), "{args:?}: {err}");
    }
    // ... or, when the request is not visibly wider, by the satellite: a share that
    // disallows nothing is still read-only, because the caveats of its chain remain.
    let fewer = share(config.path(), &shared, &["sj://team/shared/sub/"]).await;
    let fewer = open(&fewer);
    assert!(tests::download(&fewer, "team", "shared/sub/b.bin").await == body);
    let why = denied(
        fewer
            .upload("team", "shared/sub/c.bin", &body[..100], Default::default())
            .await,
        "upload with fewer disallows",
    );
    assert_eq!(why, "the access grant does not allow writes");
    denied(
        fewer.delete_object("team", "shared/sub/b.bin").await,
        "delete with fewer disallows",
    );

    // A later end written into the caveat directly (past the CLI's check) does not
    // extend the grant either: the satellite applies the earlier end of the chain. The
    // earlier end is a few seconds away, doubled until the check that must come before
    // it does, so a slow machine cannot make the test fail.
    let mut margin = 3;
    let (extended, parent_end) = loop {
        assert!(
            margin <= 96,
            "the satellite never answered within {margin} s"
        );
        let parent_end = now_unix() + margin;
        let short = owner_grant
            .restrict(
                Caveat {
                    not_after: Some(parent_end),
                    ..Caveat::new()
                },
                &[],
            )
            .unwrap();
        let extended = short
            .restrict(
                Caveat {
                    not_after: Some(now_unix() + 3600),
                    ..Caveat::new()
                },
                &[],
            )
            .unwrap();
        let extended = open(&extended);
        match extended.list_buckets().await {
            Ok(_) => break (extended, parent_end),
            Err(UplinkError::PermissionDenied(_)) if now_unix() >= parent_end => margin *= 2,
            Err(other) => panic!("{other}"),
        }
    };
    eventually("the extended grant expires with its parent", || async {
        match extended.list_buckets().await {
            Err(UplinkError::PermissionDenied(why)) => {
                assert!(why.contains("expired at"), "{why}");
                assert!(now_unix() >= parent_end, "refused before its end: {why}");
                true
            }
            Err(other) => panic!("{other}"),
            Ok(_) => false,
        }
    })
    .await;
    // The owner is untouched by all this.
    assert_eq!(owner.list_objects("team", "", true).await.unwrap().len(), 4);
    net.stop().await;
}

/// Whether the satellite refuses `project` as revoked.
async fn is_revoked(project: &Project) -> bool {
    match project.list_buckets().await {
        Err(UplinkError::Unauthenticated(why)) => {
            assert!(why.contains("revoked"), "{why}");
            true
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_child_revokes_its_descendants_but_not_its_parent() {
    let net = TestNetwork::start(4).await;
    let config = tempfile::tempdir().unwrap();
    let parent = net.access().await;
    open(&parent).create_bucket("team").await.unwrap();
    let child = share(config.path(), &parent, &["--disallow-deletes"]).await;
    let grandchild = share(config.path(), &child, &["--readonly", "sj://team/"]).await;
    for g in [&parent, &child, &grandchild] {
        open(g).list_buckets().await.unwrap();
    }

    // The parent revokes the child, which the user saved under a name.
    let imported = uplink(
        config.path(),
        &["access", "import", "child", &child.serialize()],
    )
    .await;
    assert!(imported.ok, "{}", imported.stderr);
    let out = uplink(
        config.path(),
        &["--access", &parent.serialize(), "access", "revoke", "child"],
    )
    .await;
    assert!(out.ok, "revoke failed: {}", out.stderr);
    assert!(
        out.stdout.contains("revoked access \"child\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("operations allowed: read, write, list\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "every grant derived from it stop working within the satellite's revocation cache TTL"
        ),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(&child.serialize()));

    let (child_p, grandchild_p) = (open(&child), open(&grandchild));
    eventually("the child is refused", || is_revoked(&child_p)).await;
    eventually("the grandchild is refused", || is_revoked(&grandchild_p)).await;
    // The parent keeps working, now and after the satellite's caches have moved on.
    let parent_p = open(&parent);
    parent_p.list_buckets().await.unwrap();
    parent_p
        .upload("team", "still-mine", &b"yes"[..], Default::default())
        .await
        .unwrap();
    // A sibling derived from the parent after the revocation is unaffected too.
    let sibling = share(config.path(), &parent, &["--readonly"]).await;
    assert_eq!(open(&sibling).list_buckets().await.unwrap().len(), 1);
    // And the revoked child cannot revoke anything any more, not even its own child.
    let err = open(&child).revoke(&grandchild.api_key).await.unwrap_err();
    assert!(matches!(err, UplinkError::Unauthenticated(_)), "{err}");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_grant_or_its_ancestors_can_revoke_it() {
    let net = TestNetwork::start(4).await;
    let config = tempfile::tempdir().unwrap();
    let parent = net.access().await;
    let a = share(config.path(), &parent, &[]).await;
    let b = share(config.path(), &parent, &[]).await;
    let a_child = share(config.path(), &a, &["--readonly"]).await;

    // A sibling cannot revoke another sibling.
    let why = denied(open(&a).revoke(&b.api_key).await, "sibling revokes sibling");
    assert!(why.contains("only revoke grants derived from it"), "{why}");
    // Through the CLI too, with the satellite's reason.
    let out = uplink(
        config.path(),
        &[
            "--access",
            &a.serialize(),
            "access",
            "revoke",
            &b.serialize(),
        ],
    )
    .await;
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains("the satellite refused to revoke the grant: a grant can only revoke grants derived from it"),
        "{}",
        out.stderr
    );
    // A child cannot revoke its parent.
    denied(
        open(&a_child).revoke(&a.api_key).await,
        "child revokes parent",
    );
    // A grant from another project is refused before the satellite is asked.
    let stranger = net.access().await;
    let out = uplink(
        config.path(),
        &[
            "--access",
            &stranger.serialize(),
            "access",
            "revoke",
            &a.serialize(),
        ],
    )
    .await;
    assert!(!out.ok);
    assert!(out.stderr.contains("different API keys"), "{}", out.stderr);

    // None of the refused revocations took effect.
    for g in [&parent, &a, &b, &a_child] {
        open(g).list_buckets().await.unwrap();
    }
    // A grant may revoke itself, which takes its descendants with it.
    open(&a).revoke(&a.api_key).await.unwrap();
    let (a_p, a_child_p) = (open(&a), open(&a_child));
    eventually("a is refused", || is_revoked(&a_p)).await;
    eventually("a's child is refused", || is_revoked(&a_child_p)).await;
    open(&b).list_buckets().await.unwrap();
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_object_ttl_bounds_uploads_and_the_objects_expire() {
    let net = TestNetwork::start(4).await;
    let config = tempfile::tempdir().unwrap();
    let owner_grant = net.access().await;
    let owner = open(&owner_grant);
    owner.create_bucket("team").await.unwrap();
    let ttl = share(
        config.path(),
        &owner_grant,
        &["--max-object-ttl", "1h", "sj://team/tmp/"],
    )
    .await;
    let file = config.path().join("upload.txt");
    std::fs::write(&file, b"short-lived").unwrap();
    let file = file.to_str().unwrap();
    let ttl_s = ttl.serialize();
    let cp = |expires: Option<String>| {
        let mut args = vec![
            "--access".to_string(),
            ttl_s.clone(),
            "cp".into(),
            "--quiet".into(),
        ];
        if let Some(e) = expires {
            args.extend(["--expires".into(), e]);
        }
        args.extend([file.to_string(), "sj://team/tmp/upload.txt".into()]);
        let dir = config.path().to_path_buf();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            uplink(&dir, &args).await
        }
    };

    // Without --expires, or expiring too late: refused by the satellite, and the
    // message says why and how to fix the command.
    for expires in [None, Some("+2h".to_string())] {
        let out = cp(expires.clone()).await;
        assert!(!out.ok, "{expires:?} was accepted");
        assert!(
            out.stderr.contains(
                "permission denied: the access grant only allows uploads that expire within 1h"
            ),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains("(pass --expires with a time within that, e.g. --expires +1h)"),
            "{}",
            out.stderr
        );
    }
    assert!(
        owner
            .list_objects("team", "tmp/", true)
            .await
            .unwrap()
            .is_empty()
    );

    // A longer TTL cannot be shared from it (offline) ...
    let err = share_refused(config.path(), &ttl, &["--max-object-ttl", "2h"]).await;
    assert!(
        err.contains("longer than this access grant's own maximum object TTL (1h)"),
        "{err}"
    );
    // ... nor does one written into a caveat directly allow anything more.
    let longer = ttl
        .restrict(
            Caveat {
                max_object_ttl: Some(7200),
                ..Caveat::new()
            },
            &[],
        )
        .unwrap();
    let why = denied(
        open(&longer)
            .upload(
                "team",
                "tmp/longer",
                &b"x"[..],
                tests::uplink_core::client::UploadOptions {
                    expires_at: Some(now_unix() + 5400),
                    ..Default::default()
                },
            )
            .await,
        "upload past the parent's TTL",
    );
    assert!(why.contains("expire within 1h"), "{why}");

    // A shorter expiry is accepted, and the object goes away when it expires. The
    // expiry is a few seconds away, doubled until the listing that must come before it
    // does.
    let mut secs = 5;
    let expires_at = loop {
        assert!(secs <= 160, "uploading and listing never fit in {secs} s");
        let started = now_unix();
        let out = cp(Some(format!("+{secs}s"))).await;
        assert!(out.ok, "{}", out.stderr);
        let listed = owner.list_objects("team", "tmp/", true).await.unwrap();
        match listed.as_slice() {
            [object] => {
                let expires_at = object.expires_at.expect("the object has an expiry");
                assert!(
                    (started + secs..=now_unix() + secs).contains(&expires_at),
                    "{expires_at}"
                );
                break expires_at;
            }
            [] if now_unix() >= started + secs => secs *= 2,
            other => panic!("{other:?}"),
        }
    };
    eventually("the object expires", || async {
        owner
            .list_objects("team", "tmp/", true)
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    assert!(now_unix() >= expires_at);
    match owner.stat_object("team", "tmp/upload.txt").await {
        Err(UplinkError::ObjectNotFound(_)) => {}
        other => panic!("the expired object is still there: {other:?}"),
    }
    net.stop().await;
}
