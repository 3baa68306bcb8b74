//! Writes the seed corpus of every fuzz target, made with the real encoders, to
//! `fuzz/corpus/<target>/seed-NN` (or under the directory given as the argument).

use std::collections::BTreeMap;
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus"));
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, data) in uplink_core::fuzzing::seeds() {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir)?;
        let n = counts.entry(name).or_default();
        std::fs::write(dir.join(format!("seed-{n:02}")), data)?;
        *n += 1;
    }
    for (name, n) in counts {
        println!("{name}: {n} seeds");
    }
    Ok(())
}
