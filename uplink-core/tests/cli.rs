//! The `uplink` binary's command line (and, as a side effect, `cargo test` builds the
//! binary for the end-to-end tests that run it).

use std::process::Command;

fn uplink(config: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_uplink"));
    c.env("UPLINK_CONFIG_DIR", config)
        .env_remove("UPLINK_ACCESS");
    c
}

/// The names in the "Commands:" section of clap's help, in order.
fn listed_commands(help: &str) -> Vec<&str> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

#[test]
fn help_names_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = uplink(dir.path()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l == "Usage: uplink [OPTIONS] <COMMAND>"),
        "no usage line in:\n{text}"
    );
    let listed = listed_commands(&text);
    for cmd in ["access", "share", "mb", "rb", "ls", "cp", "rm"] {
        assert!(
            listed.contains(&cmd),
            "{cmd} missing from {listed:?} in:\n{text}"
        );
        let sub = uplink(dir.path()).args([cmd, "--help"]).output().unwrap();
        assert!(sub.status.success(), "{cmd} --help failed");
        let sub = String::from_utf8_lossy(&sub.stdout);
        assert!(
            sub.lines()
                .any(|l| l.starts_with(&format!("Usage: uplink {cmd} "))),
            "{cmd}: {sub}"
        );
    }
    // `access` has its own commands.
    let out = uplink(dir.path())
        .args(["access", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let listed = listed_commands(&text);
    for cmd in ["create", "list", "inspect", "import", "restrict", "revoke"] {
        assert!(listed.contains(&cmd), "access {cmd} missing from:\n{text}");
    }
}

#[test]
fn clear_errors_without_a_usable_grant() {
    let dir = tempfile::tempdir().unwrap();
    let none = uplink(dir.path()).args(["ls"]).output().unwrap();
    assert!(!none.status.success());
    assert!(
        String::from_utf8_lossy(&none.stderr).starts_with("error: no access grant: "),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );

    let bad = uplink(dir.path())
        .args(["--access", "garbage-grant", "ls"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--access is not usable"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    let import = uplink(dir.path())
        .args(["access", "import", "x", "not-a-grant"])
        .output()
        .unwrap();
    assert!(!import.status.success());
    assert!(
        String::from_utf8_lossy(&import.stderr)
            .starts_with("error: cannot import: not a valid access grant"),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    assert!(!dir.path().join("access.json").exists(), "nothing saved");
}

#[test]
fn bad_paths_and_ranges_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let out = uplink(dir.path())
        .args(["cp", "--range", "9-1", "sj://b/k", "-"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("range \"9-1\" must look like"), "{err}");
    // Two local paths: refused for what they are, not for a missing grant.
    let out = uplink(dir.path())
        .args(["--access", &offline_grant(), "cp", "a", "b"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: one side of cp must be an sj:// URL"),
        "{err}"
    );
}

/// A grant for a satellite that does not exist: enough for everything done offline.
fn offline_grant() -> String {
    use uplink_core::access::{AccessGrant, ApiKey};
    use uplink_core::crypto::{EncryptionStore, Key};
    use uplink_core::protocol::NodeId;
    AccessGrant {
        satellite: format!("{}@127.0.0.1:9", NodeId::random()).parse().unwrap(),
        api_key: ApiKey::new(b"cli-test-head", &[7; 32]).unwrap(),
        encryption: EncryptionStore::with_root(Key::random()),
    }
    .serialize()
}

struct Ran {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run(config: &std::path::Path, args: &[&str]) -> Ran {
    let out = uplink(config).args(args).output().unwrap();
    Ran {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn share_and_restrict_offline_show_their_caveats() {
    use uplink_core::access::AccessGrant;
    let dir = tempfile::tempdir().unwrap();
    let full = offline_grant();
    let shared = run(
        dir.path(),
        &[
            "--access",
            &full,
            "share",
            "--readonly",
            "--not-after",
            "+1h",
            "--max-object-ttl",
            "2h",
            "sj://b/shared/",
        ],
    );
    assert!(shared.ok, "{}", shared.stderr);
    let summary = &shared.stderr;
    for want in [
        "operations allowed: read, list",
        "paths:              sj://b/shared/",
        "valid:              until ",
        "(in 1h)",
        "max object TTL:     2h",
    ] {
        assert!(summary.contains(want), "{want:?} missing from:\n{summary}");
    }
    // stdout is the grant alone, so that scripts can capture it.
    let grant = AccessGrant::parse(&shared.stdout).unwrap();
    assert_eq!(grant.encryption.entries.len(), 1);
    assert!(grant.encryption.default_key.is_none());
    let encrypted_prefix = grant.encryption.entries[0].encrypted_prefix.clone();

    let inspected = run(dir.path(), &["access", "inspect", shared.stdout.trim()]);
    assert!(inspected.ok, "{}", inspected.stderr);
    let text = &inspected.stdout;
    for want in [
        "encryption keys:    only for sj://b/shared/",
        "caveats:            1 ",
        "operations allowed: read, list",
        &format!("paths:              bucket \"b\", encrypted prefix {encrypted_prefix:?}"),
        "not after:",
        "max object TTL:     2h",
        "in effect:",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
    // Neither the API key nor the original grant is ever printed.
    for secret in [grant.api_key.serialize(), full.clone()] {
        assert!(!text.contains(&secret) && !summary.contains(&secret));
    }
    let json = run(
        dir.path(),
        &["access", "inspect", "--json", shared.stdout.trim()],
    );
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        json["caveats"][0]["operations_allowed"],
        serde_json::json!(["read", "list"])
    );
    assert_eq!(
        json["caveats"][0]["allowed_paths"][0]["encrypted_prefix"],
        encrypted_prefix.as_str()
    );
    assert_eq!(json["caveats"][0]["max_object_ttl_seconds"], 7200);

    // `access restrict` is the same operation, saved under a name.
    let restricted = run(
        dir.path(),
        &[
            "--access",
            shared.stdout.trim(),
            "access",
            "restrict",
            "--disallow-lists",
            "--name",
            "friend",
            "sj://b/shared/sub/",
        ],
    );
    assert!(restricted.ok, "{}", restricted.stderr);
    assert!(restricted.stdout.is_empty(), "{}", restricted.stdout);
    assert!(restricted.stderr.contains("saved as access \"friend\""));
    let inspected = run(dir.path(), &["access", "inspect", "friend"]);
    assert!(inspected.stdout.contains("caveats:            2 "));
    assert!(
        inspected
            .stdout
            .contains("operations allowed: read\n  paths:              sj://b/shared/sub/"),
        "{}",
        inspected.stdout
    );
    let again = run(
        dir.path(),
        &["--access", &full, "access", "restrict", "--name", "friend"],
    );
    assert!(!again.ok);
    assert!(again.stderr.contains("already saved"), "{}", again.stderr);
    // Printed rather than saved without --name.
    let printed = run(
        dir.path(),
        &["--access", &full, "access", "restrict", "--writeonly"],
    );
    assert!(printed.ok, "{}", printed.stderr);
    assert!(printed.stderr.contains("operations allowed: write, delete"));
    assert!(printed.stderr.contains("paths:              all buckets"));
    AccessGrant::parse(&printed.stdout).unwrap();
}

#[test]
fn bad_restriction_flags_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let full = offline_grant();
    let cases: &[(&[&str], &str)] = &[
        (&["--readonly", "--writeonly"], "cannot be used with"),
        (
            &["--not-after", "2001-01-01T00:00:00Z"],
            "--not-after \"2001-01-01T00:00:00Z\" is in the past",
        ),
        (
            &["--not-after", "next week"],
            "is neither a duration like +24h",
        ),
        (
            &["--not-before", "+2h", "--not-after", "+1h"],
            "must be earlier than --not-after",
        ),
        (&["--max-object-ttl", "0s"], "must be at least one second"),
        (&["--max-object-ttl", "forever"], "is not a duration"),
        (
            &["--writeonly", "--disallow-writes", "--disallow-deletes"],
            "the grant would allow nothing",
        ),
        (&["s3://b/"], "is not an sj:// path"),
    ];
    for (flags, want) in cases {
        for command in [&["share"][..], &["access", "restrict"]] {
            let mut args = vec!["--access", full.as_str()];
            args.extend_from_slice(command);
            args.extend_from_slice(flags);
            let out = run(dir.path(), &args);
            assert!(!out.ok, "{args:?} succeeded");
            assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
            assert!(out.stdout.is_empty());
        }
    }
    // Nothing to restrict without a grant.
    let out = run(dir.path(), &["share", "--readonly", "sj://b/"]);
    assert!(
        !out.ok && out.stderr.contains("no access grant"),
        "{}",
        out.stderr
    );
}

#[test]
fn only_whole_prefixes_are_shared_and_never_widened() {
    let dir = tempfile::tempdir().unwrap();
    let full = offline_grant();
    let out = run(dir.path(), &["--access", &full, "share", "sj://b/a/b"]);
    assert!(!out.ok);
    assert!(
        out.stderr.contains("write sj://b/a/b/")
            && out
                .stderr
                .contains("a single object can be shared as a link"),
        "{}",
        out.stderr
    );
    for whole_bucket in ["sj://b", "sj://b/"] {
        let out = run(dir.path(), &["--access", &full, "share", whole_bucket]);
        assert!(out.ok, "{}", out.stderr);
        assert!(
            out.stderr.contains("paths:              sj://b/\n"),
            "{}",
            out.stderr
        );
    }
    let out = run(
        dir.path(),
        &["--access", &full, "share", "sj://b/a/", "sj://c/x/"],
    );
    assert!(
        out.stderr
            .contains("paths:              sj://b/a/, sj://c/x/")
    );
    let shared = out.stdout.trim().to_string();
    for wider in ["sj://b/", "sj://b/other/", "sj://d/"] {
        let out = run(dir.path(), &["--access", &shared, "share", wider]);
        assert!(!out.ok, "{wider}");
        assert!(
            out.stderr.contains("cannot reach") && out.stderr.contains("never widened"),
            "{}",
            out.stderr
        );
    }
    let out = run(
        dir.path(),
        &["--access", &shared, "share", "--not-after", "+2h"],
    );
    assert!(out.ok);
    let bounded = out.stdout.trim().to_string();
    let out = run(
        dir.path(),
        &["--access", &bounded, "share", "--not-after", "+3h"],
    );
    assert!(
        !out.ok && out.stderr.contains("cannot outlive"),
        "{}",
        out.stderr
    );
    // No path: the grant keeps its own.
    let out = run(dir.path(), &["--access", &shared, "share", "--readonly"]);
    assert!(
        out.stderr
            .contains("paths:              sj://b/a/, sj://c/x/")
    );
}

#[test]
fn share_exports_to_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("friend.grant");
    std::fs::write(&file, "old contents").unwrap();
    let out = run(
        dir.path(),
        &[
            "--access",
            &offline_grant(),
            "share",
            "--readonly",
            "--export-to",
            file.to_str().unwrap(),
            "sj://b/",
        ],
    );
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.is_empty(), "the grant goes to the file only");
    assert!(out.stderr.contains("access grant written to"));
    let text = std::fs::read_to_string(&file).unwrap();
    uplink_core::access::AccessGrant::parse(&text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The file imports like any grant.
    let out = run(
        dir.path(),
        &["access", "import", "friend", file.to_str().unwrap()],
    );
    assert!(out.ok, "{}", out.stderr);
}
