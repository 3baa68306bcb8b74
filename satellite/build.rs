//! The web console's files are built into the binary; rebuild when they change.

fn main() {
    println!("cargo:rerun-if-changed=console");
}
