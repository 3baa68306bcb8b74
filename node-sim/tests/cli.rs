//! The `node-sim` binary's command line (and, as a side effect, `cargo test` builds the
//! binary for the end-to-end tests that run it).

use std::process::Command;

#[test]
fn help_names_every_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_node-sim"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l == "Usage: node-sim [OPTIONS] <COMMAND>"),
        "no usage line in:\n{text}"
    );
    let listed = listed_commands(&text);
    for cmd in [
        "network",
        "nodes",
        "bench",
        "load",
        "trash",
        "exit",
        "durability",
    ] {
        assert!(
            listed.contains(&cmd),
            "{cmd} missing from {listed:?} in:\n{text}"
        );
        // And it is a command of its own, with its own help.
        let sub = Command::new(env!("CARGO_BIN_EXE_node-sim"))
            .args([cmd, "--help"])
            .output()
            .unwrap();
        assert!(sub.status.success(), "{cmd} --help failed");
        let sub = String::from_utf8_lossy(&sub.stdout);
        assert!(
            sub.lines()
                .any(|l| l.starts_with(&format!("Usage: node-sim {cmd}"))),
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
fn nodes_refuse_a_malformed_satellite_url() {
    let out = Command::new(env!("CARGO_BIN_EXE_node-sim"))
        .args(["nodes", "--satellite", "nobody@", "--count", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.lines().next(),
        Some("Error: --satellite must look like <id>@<host>:<port>"),
        "{err}"
    );
}
