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
    for cmd in ["network", "nodes", "bench"] {
        assert!(text.contains(cmd), "{cmd} missing from:\n{text}");
    }
}

#[test]
fn nodes_refuse_a_malformed_satellite_url() {
    let out = Command::new(env!("CARGO_BIN_EXE_node-sim"))
        .args(["nodes", "--satellite", "nobody@", "--count", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--satellite"));
}
