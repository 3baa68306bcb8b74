//! The `uplink` binary's command line (and, as a side effect, `cargo test` builds the
//! binary for the end-to-end tests that run it).

use std::process::Command;

fn uplink(config: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_uplink"));
    c.env("UPLINK_CONFIG_DIR", config)
        .env_remove("UPLINK_ACCESS");
    c
}

#[test]
fn help_names_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = uplink(dir.path()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["access", "mb", "rb", "ls", "cp", "rm"] {
        assert!(text.contains(cmd), "{cmd} missing from:\n{text}");
    }
}

#[test]
fn clear_errors_without_a_usable_grant() {
    let dir = tempfile::tempdir().unwrap();
    let none = uplink(dir.path()).args(["ls"]).output().unwrap();
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no access grant"));

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
    let out = uplink(dir.path()).args(["cp", "a", "b"]).output().unwrap();
    assert!(!out.status.success());
}
