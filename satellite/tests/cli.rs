//! The `satellite` binary's command line (and, as a side effect, `cargo test` builds the
//! binary for the end-to-end tests that run it).

use std::process::Command;

#[test]
fn help_names_every_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_satellite"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["setup", "run", "migrate", "admin"] {
        assert!(text.contains(cmd), "{cmd} missing from:\n{text}");
    }
}

#[test]
fn setup_writes_config_and_refuses_to_overwrite_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_satellite"))
            .arg("setup")
            .arg("--data-dir")
            .arg(dir.path())
            .args(extra)
            .output()
            .unwrap()
    };
    let first = run(&["--redundancy", "2/3/4/5"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let config = std::fs::read_to_string(dir.path().join("config.toml")).unwrap();
    assert!(config.contains("redundancy = \"2/3/4/5\""), "{config}");
    assert!(dir.path().join("identity.key").exists());
    let second = run(&[]);
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already exists"));
    let bad = Command::new(env!("CARGO_BIN_EXE_satellite"))
        .args(["setup", "--force", "--redundancy", "9/3/4/5", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("redundancy"));
}
