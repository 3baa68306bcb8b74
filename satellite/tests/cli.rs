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
    assert!(
        text.lines().any(|l| l == "Usage: satellite <COMMAND>"),
        "no usage line in:\n{text}"
    );
    let listed = listed_commands(&text);
    for cmd in ["setup", "run", "migrate", "id", "admin"] {
        assert!(
            listed.contains(&cmd),
            "{cmd} missing from {listed:?} in:\n{text}"
        );
        // And it is a command of its own, with its own help.
        let sub = Command::new(env!("CARGO_BIN_EXE_satellite"))
            .args([cmd, "--help"])
            .output()
            .unwrap();
        assert!(sub.status.success(), "{cmd} --help failed");
        let sub = String::from_utf8_lossy(&sub.stdout);
        assert!(
            sub.lines()
                .any(|l| l.starts_with(&format!("Usage: satellite {cmd}"))),
            "{cmd}: {sub}"
        );
    }
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
    assert_eq!(
        first_line(&second.stderr),
        format!(
            "Error: {} already exists; pass --force to overwrite it",
            dir.path().join("config.toml").display()
        )
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_satellite"))
        .args(["setup", "--force", "--redundancy", "9/3/4/5", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert_eq!(
        first_line(&bad.stderr),
        "Error: invalid configuration: redundancy: malformed: redundancy 9/3/4/5 \
         must satisfy 1 <= k <= repair <= optimal <= total"
    );
    // Refused input changes nothing, even with --force.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("config.toml")).unwrap(),
        config
    );
}

fn first_line(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}
