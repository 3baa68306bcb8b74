//! Replays every fuzz corpus and kept crash input through the same harnesses the fuzz
//! targets run (`uplink_core::fuzzing`), so that what the fuzzers explored and what
//! they once broke stays checked by a plain `cargo test`.
//!
//! `cargo run -p uplink-core --features fuzzing --example write_fuzz_seeds` rewrites the
//! seed inputs under `fuzz/corpus/<target>/seed-*` from the real encoders.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use uplink_core::fuzzing::{self, Harness, TARGETS};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `harness` on every file, and fails naming each file that panicked.
fn replay(harness: Harness, files: &[PathBuf]) {
    let failures: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let data = std::fs::read(file).expect("readable corpus file");
            catch_unwind(AssertUnwindSafe(|| harness(&data)))
                .err()
                .map(|_| file.display().to_string())
        })
        .collect();
    assert!(failures.is_empty(), "inputs that fail: {failures:#?}");
}

fn replay_target(name: &str) {
    let harness = fuzzing::harness(name).expect("a known target");
    let corpus = files_in(&fuzz_dir().join("corpus").join(name));
    assert!(!corpus.is_empty(), "fuzz/corpus/{name} is missing or empty");
    replay(harness, &corpus);
    replay(harness, &files_in(&fuzz_dir().join("artifacts").join(name)));
    println!("{name}: replayed {} corpus inputs", corpus.len());
}

macro_rules! corpus_tests {
    ($($name:ident),* $(,)?) => {
        $(#[test]
        fn $name() {
            replay_target(stringify!($name));
        })*

        #[test]
        fn every_target_has_a_replay_test() {
            let tested = [$(stringify!($name)),*];
            for (name, _) in TARGETS {
                assert!(tested.contains(name), "no replay test for fuzz target {name}");
            }
            assert_eq!(tested.len(), TARGETS.len());
        }
    };
}

corpus_tests!(
    access_grant,
    api_key,
    api_key_tamper,
    caveat,
    order_limit,
    piece_frames,
    metainfo_bodies,
    console_bodies,
    checkin,
);

/// Every fuzz target has its own binary in `fuzz/fuzz_targets`, and nothing else does.
#[test]
fn fuzz_targets_match_the_harnesses() {
    let mut on_disk: Vec<String> = files_in(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut known: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    known.sort();
    assert_eq!(on_disk, known);
}

/// The seeds are valid inputs, so every property the harnesses check is exercised on
/// them, not only "does not panic": an accepted order limit that verifies, a key that
/// checks, a grant that decrypts.
#[test]
fn seeds_pass_their_harnesses() {
    let seeds = fuzzing::seeds();
    for (name, _) in TARGETS {
        assert!(
            seeds.iter().any(|(t, _)| t == name),
            "no seed for target {name}"
        );
    }
    for (name, data) in &seeds {
        fuzzing::harness(name).expect("a known target")(data);
    }
}

/// The fixtures are authentic, so the harnesses' "verifies only if unmodified"
/// properties are not vacuous.
#[test]
fn fixtures_verify() {
    use uplink_core::fuzzing::fixtures::*;
    use uplink_core::protocol::Signable;
    signed_limit()
        .verify_signature(&satellite().public_key())
        .unwrap();
    let hash = signed_piece_hash();
    piece_key()
        .public_key()
        .verify(&hash.signing_bytes(), &hash.signature)
        .unwrap();
    let checkin = signed_checkin();
    node()
        .public_key()
        .verify(&checkin.signing_bytes(), &checkin.signature)
        .unwrap();
    restricted_key().check(&SECRET, &tamper_action()).unwrap();
}
