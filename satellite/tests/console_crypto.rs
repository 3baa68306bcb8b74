//! The web console's access-grant JavaScript (`satellite/console/js/crypto/`) against
//! `uplink-core`, in both directions.
//!
//! Rust makes vectors (key derivation, name encryption, grants, restrictions, and the
//! inputs each implementation must refuse) that `console/tests/crypto_check.mjs`
//! recomputes with the JavaScript; the script writes what it produced, including grants
//! and API keys restricted with random nonces, and this test parses those with the Rust
//! code and checks what they allow, what they decrypt and that they are exactly what
//! Rust would have made. Node.js is required: without it the test fails rather than
//! skipping, because a console that makes grants no uplink accepts must not ship.

use std::path::Path;
use std::process::Command;

use argon2::{Algorithm, Argon2, AssociatedData, ParamsBuilder, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use uplink_core::access::{
    AccessError, AccessGrant, Action, ApiKey, Caveat, CaveatPath, Operation,
};
use uplink_core::crypto::passphrase::root_key_from_passphrase;
use uplink_core::crypto::path::{bucket_key, encrypt_path};
use uplink_core::crypto::{CryptoError, EncryptionStore, Key, derive};
use uplink_core::protocol::{NodeId, NodeUrl};

const SECRET: [u8; 32] = [0x5e; 32];
const HEAD: &[u8] = b"console-crypto-head-0001";
const ROOT: [u8; 32] = [0xa7; 32];
const PASSPHRASE: &str = "correct horse battery staple, ünïcødé 🔑";
const SALT: &[u8] = b"project-salt-0123456789";
const NONCE: [u8; 16] = *b"fixed-nonce-0001";
/// Request time for caveat checks; inside every time window used below.
const T: i64 = 1_700_000_000;
const ODD_BUCKET: &str = "b\"\\\u{1}\u{7f} é 名";

/// Everything the vectors are made from.
struct Fixture {
    satellite: NodeUrl,
    api_key: ApiKey,
    passphrase_root: Key,
    /// The grant `uplink access create` makes from the fixture's inputs.
    full: AccessGrant,
    /// `full` restricted to photos/2024/ and all of docs, without deletes (deterministic
    /// nonce).
    shared: AccessGrant,
}

/// A restriction as `AccessGrant::restrict` takes it (the caveat without nonce).
#[derive(Clone)]
struct Restriction {
    caveat: Caveat,
    paths: Vec<(String, String)>,
}

fn paths(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(b, p)| (b.to_string(), p.to_string()))
        .collect()
}

fn fixture() -> Fixture {
    let mut id = [0u8; 32];
    id[2..].copy_from_slice(&[0x42; 30]); // leading zero bytes spell as leading '1's
    let satellite = NodeUrl {
        id: NodeId(id),
        address: "satellite.example:7777".into(),
    };
    let api_key = ApiKey::new(HEAD, &SECRET).unwrap();
    let passphrase_root = root_key_from_passphrase(PASSPHRASE, SALT).unwrap();
    let full = AccessGrant {
        satellite: satellite.clone(),
        api_key: api_key.clone(),
        encryption: EncryptionStore::with_root(passphrase_root.clone()),
    };
    let shared = full
        .restrict(
            Caveat {
                disallow_deletes: true,
                nonce: NONCE.to_vec(),
                ..Caveat::default()
            },
            &paths(&[("photos", "2024/"), ("docs", "")]),
        )
        .unwrap();
    Fixture {
        satellite,
        api_key,
        passphrase_root,
        full,
        shared,
    }
}

fn crypto_code(e: &CryptoError) -> &'static str {
    match e {
        CryptoError::WrongKeyOrCorrupted => "WrongKeyOrCorrupted",
        CryptoError::Malformed(_) => "Malformed",
        CryptoError::NoKeyForPath { .. } => "NoKeyForPath",
        CryptoError::InvalidPrefix(_) => "InvalidPrefix",
        CryptoError::EmptyPassphrase => "EmptyPassphrase",
        CryptoError::KeyDerivation(_) => "KeyDerivation",
    }
}

fn access_code(e: &AccessError) -> &'static str {
    match e {
        AccessError::Malformed(_) => "Malformed",
        AccessError::PermissionDenied(_) => "PermissionDenied",
        AccessError::InvalidKey => "InvalidKey",
        AccessError::Crypto(c) => crypto_code(c),
    }
}

/// How the console's `decryptPath` reads a name: `""` or ending in `/` is a prefix.
fn decrypt_name(store: &EncryptionStore, bucket: &str, enc: &str) -> Result<String, CryptoError> {
    if enc.is_empty() || enc.ends_with('/') {
        store.decrypt_prefix(bucket, enc)
    } else {
        store.decrypt_key(bucket, enc)
    }
}

/// Restriction options in the shape `restrictGrant` takes (big integers as strings).
fn options(r: &Restriction, nonce: bool) -> Value {
    let c = &r.caveat;
    let mut o = json!({
        "disallowReads": c.disallow_reads,
        "disallowWrites": c.disallow_writes,
        "disallowLists": c.disallow_lists,
        "disallowDeletes": c.disallow_deletes,
    });
    let int = |v: i128| {
        if v.unsigned_abs() < 1 << 53 {
            json!(v)
        } else {
            json!(v.to_string())
        }
    };
    if let Some(v) = c.not_before {
        o["notBefore"] = int(v.into());
    }
    if let Some(v) = c.not_after {
        o["notAfter"] = int(v.into());
    }
    if let Some(v) = c.max_object_ttl {
        o["maxObjectTtl"] = int(v.into());
    }
    if nonce {
        o["nonce"] = json!(B64.encode(NONCE));
    }
    if !r.paths.is_empty() {
        o["paths"] = r
            .paths
            .iter()
            .map(|(b, p)| json!({"bucket": b, "prefix": p}))
            .collect();
    }
    o
}

/// A caveat in the shape `restrictApiKey` takes.
fn caveat_json(c: &Caveat) -> Value {
    let r = Restriction {
        caveat: c.clone(),
        paths: Vec::new(),
    };
    let mut o = options(&r, !c.nonce.is_empty());
    o["allowedPaths"] = c
        .allowed_paths
        .iter()
        .map(|p| json!({"bucket": p.bucket, "encryptedPrefix": p.encrypted_prefix}))
        .collect();
    o
}

// ------------------------------------------------------------------ vectors

fn argon2_small(
    password: &[u8],
    secret: &[u8],
    ad: &[u8],
    m: u32,
    t: u32,
    p: u32,
    len: usize,
) -> Value {
    let salt = b"some salt value!";
    let mut builder = ParamsBuilder::new();
    builder.m_cost(m).t_cost(t).p_cost(p).output_len(len);
    if !ad.is_empty() {
        builder.data(AssociatedData::new(ad).unwrap());
    }
    let params = builder.build().unwrap();
    let argon =
        Argon2::new_with_secret(secret, Algorithm::Argon2id, Version::V0x13, params).unwrap();
    let mut tag = vec![0u8; len];
    argon.hash_password_into(password, salt, &mut tag).unwrap();
    json!({
        "password_hex": hex::encode(password), "salt_hex": hex::encode(salt),
        "secret_hex": hex::encode(secret), "ad_hex": hex::encode(ad),
        "m": m, "t": t, "p": p, "len": len, "tag_hex": hex::encode(tag),
    })
}

fn primitive_vectors() -> Value {
    let root = Key::from_bytes(ROOT);
    let derive_cases: [(Key, Vec<u8>); 4] = [
        (root.clone(), Vec::new()),
        (root.clone(), b"bucket:photos".to_vec()),
        (Key::from_bytes([0; 32]), "path:ünï".as_bytes().to_vec()),
        (root.clone(), vec![0xff; 200]),
    ];
    let base = bucket_key(&root, "photos");
    let path_cases = [
        "a",
        "a/b/c",
        "a//b",
        "dir/",
        "/lead",
        "",
        "//",
        "ünïcødé/naïve 名前.txt",
        "\u{feff}bom",
        "cafe\u{301}/e\u{301}",
    ];
    json!({
        "argon2id": [
            argon2_small(b"pw", b"", b"", 8, 1, 1, 32),
            argon2_small(b"password", b"", b"", 64, 3, 2, 32),
            argon2_small(b"password", b"secret!!", b"associated", 100, 2, 3, 32),
            argon2_small(b"long output", b"", b"", 256, 1, 1, 100),
            argon2_small("pässwörd".as_bytes(), b"", b"", 1024, 2, 1, 64),
        ],
        "derive": derive_cases.iter().map(|(k, label)| json!({
            "key_hex": hex::encode(k.as_bytes()), "label_hex": hex::encode(label),
            "out_hex": hex::encode(derive(k, label).as_bytes()),
        })).collect::<Vec<_>>(),
        "paths": path_cases.iter().map(|p| json!({
            "key_hex": hex::encode(base.as_bytes()), "path": p, "encrypted": encrypt_path(&base, p),
        })).collect::<Vec<_>>(),
    })
}

fn root_key_vectors(f: &Fixture) -> Value {
    let refusal = |pass: &str, salt: &[u8]| {
        let err = root_key_from_passphrase(pass, salt).unwrap_err();
        json!({"passphrase": pass, "salt_hex": hex::encode(salt), "code": crypto_code(&err)})
    };
    json!({
        "root_keys": [{
            "passphrase": PASSPHRASE, "salt_hex": hex::encode(SALT),
            "key_hex": hex::encode(f.passphrase_root.as_bytes()),
        }],
        "root_key_refusals": [refusal("", SALT), refusal("pw", b"short")],
    })
}

fn name_vectors() -> Value {
    let root = Key::from_bytes(ROOT);
    let store = EncryptionStore::with_root(root.clone());
    let root_hex = hex::encode(ROOT);
    let mut prefixes = Vec::new();
    for bucket in ["photos", ODD_BUCKET] {
        for prefix in ["", "a/", "photos/2024/", "ünï/名前/", "/", "a//"] {
            let enc = store.encrypt_prefix(bucket, prefix).unwrap();
            prefixes.push(
                json!({"root_hex": root_hex, "bucket": bucket, "prefix": prefix, "encrypted": enc}),
            );
        }
    }
    let prefix_refusals: Vec<Value> = ["a", "a/b"]
        .iter()
        .map(|p| {
            let err = store.encrypt_prefix("photos", p).unwrap_err();
            json!({"root_hex": root_hex, "bucket": "photos", "prefix": p, "code": crypto_code(&err)})
        })
        .collect();
    let mut decrypt = Vec::new();
    for key in [
        "a",
        "dir/",
        "a//b",
        "",
        "ünï/x y.txt",
        "cafe\u{301}/x",
        "photos/2024/trip/a.jpg",
    ] {
        let enc = store.encrypt_key("photos", key).unwrap();
        decrypt.push(
            json!({"root_hex": root_hex, "bucket": "photos", "encrypted": enc, "plain": key}),
        );
    }
    json!({
        "prefixes": prefixes,
        "prefix_refusals": prefix_refusals,
        "decrypt": decrypt,
        "decrypt_refusals": decrypt_refusals(&store),
    })
}

/// Names that must not decrypt, each with the reason Rust gives.
fn decrypt_refusals(store: &EncryptionStore) -> Vec<Value> {
    let enc = store.encrypt_key("photos", "a/b/c.txt").unwrap();
    let prefix = store.encrypt_prefix("photos", "a/b/").unwrap();
    let parts: Vec<&str> = enc.split('/').collect();
    let swapped = format!("{}/{}/{}", parts[1], parts[0], parts[2]);
    let mut flipped = enc.clone().into_bytes();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    // An empty name is 28 bytes: its last base64 character carries 4 unused bits, and
    // setting one gives a second spelling of the same bytes, which must be refused.
    let mut loose = store.encrypt_key("photos", "").unwrap().into_bytes();
    let last_char = loose.last_mut().unwrap();
    assert!(b"AQgw".contains(last_char));
    *last_char += 1;
    let loose = String::from_utf8(loose).unwrap();
    let other_root = Key::from_bytes([1; 32]);
    let cases: [(&str, &str, Key); 9] = [
        ("other-bucket", &enc, Key::from_bytes(ROOT)),
        ("photos", &enc, other_root.clone()),
        ("photos", &prefix, other_root),
        ("photos", &swapped, Key::from_bytes(ROOT)),
        ("photos", &flipped, Key::from_bytes(ROOT)),
        ("photos", "short", Key::from_bytes(ROOT)),
        ("photos", "not/base64!", Key::from_bytes(ROOT)),
        ("photos", "x=", Key::from_bytes(ROOT)),
        ("photos", &loose, Key::from_bytes(ROOT)),
    ];
    cases
        .iter()
        .map(|(bucket, enc, root)| {
            let s = EncryptionStore::with_root(root.clone());
            let err = decrypt_name(&s, bucket, enc).unwrap_err();
            json!({"root_hex": hex::encode(root.as_bytes()), "bucket": bucket, "encrypted": enc, "code": crypto_code(&err)})
        })
        .collect()
}

/// A grant as the console's `parseGrant` should describe it.
fn parsed(g: &AccessGrant) -> Value {
    let caveats: Vec<Value> = g
        .api_key
        .caveats()
        .unwrap()
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    json!({
        "satellite": g.satellite.to_string(),
        "api_key": g.api_key.serialize(),
        "api_key_head_hex": hex::encode(g.api_key.head()),
        "caveats": caveats,
        "default_key_hex": g.encryption.default_key.as_ref().map(|k| hex::encode(k.as_bytes())),
        "entries": g.encryption.entries.iter().map(|e| json!({
            "bucket": e.bucket, "prefix": e.prefix, "encrypted_prefix": e.encrypted_prefix,
            "key_hex": hex::encode(e.key.as_bytes()),
        })).collect::<Vec<_>>(),
    })
}

fn grant_vectors(f: &Fixture) -> Value {
    // The console gets the key as the user pastes it: any base64 spelling, any padding.
    let binary = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(f.api_key.serialize())
        .unwrap();
    let pasted_key = format!("  {}\n", B64.encode(binary));
    let root_grant = AccessGrant {
        encryption: EncryptionStore::with_root(Key::from_bytes(ROOT)),
        ..f.full.clone()
    };
    let good = f.full.serialize();
    let mut damaged: Vec<char> = good.chars().collect();
    let mid = damaged.len() / 2;
    damaged[mid] = if damaged[mid] == '2' { '3' } else { '2' };
    let damaged: String = damaged.into_iter().collect();
    let refusals: Vec<Value> = [
        (damaged, "checksum mismatch"),
        (
            good[..good.len() - 3].to_string(),
            "not a valid access grant",
        ),
        ("0OIl".to_string(), "is not base58"),
        ("   ".to_string(), "it is empty"),
        ("2".to_string(), "it is too short"),
    ]
    .into_iter()
    .map(|(grant, text)| {
        let err = AccessGrant::parse(&grant).unwrap_err().to_string();
        assert!(err.contains(text), "Rust says {err:?} for {grant:?}");
        json!({"grant": grant, "text": text})
    })
    .collect();
    let parse: Vec<Value> = [f.full.clone(), f.shared.clone(), root_grant]
        .iter()
        .map(|g| json!({"grant": g.serialize(), "expected": parsed(g)}))
        .collect();
    json!({
        "create": [{
            "satellite": f.satellite.to_string(), "api_key": pasted_key, "passphrase": PASSPHRASE,
            "salt_hex": hex::encode(SALT), "grant": good,
        }],
        "parse": parse,
        "parse_refusals": refusals,
    })
}

fn deterministic_restrictions(f: &Fixture) -> Vec<(AccessGrant, Restriction)> {
    let r = |caveat: Caveat, list: &[(&str, &str)]| Restriction {
        caveat,
        paths: paths(list),
    };
    vec![
        (
            f.full.clone(),
            r(
                Caveat {
                    disallow_deletes: true,
                    ..Caveat::default()
                },
                &[("photos", "2024/")],
            ),
        ),
        (
            f.full.clone(),
            r(
                Caveat {
                    disallow_reads: true,
                    disallow_writes: true,
                    disallow_lists: true,
                    disallow_deletes: true,
                    not_before: Some(i64::MIN),
                    not_after: Some(-5),
                    max_object_ttl: Some(u64::MAX),
                    ..Caveat::default()
                },
                &[],
            ),
        ),
        (
            f.full.clone(),
            r(
                Caveat {
                    disallow_writes: true,
                    not_after: Some(1 << 60),
                    max_object_ttl: Some(86_400),
                    ..Caveat::default()
                },
                &[
                    ("photos", "2024/"),
                    ("photos", "2024/"),
                    (ODD_BUCKET, ""),
                    ("docs", "a//b/"),
                    ("photos", "2024/june/"),
                ],
            ),
        ),
        (
            f.shared.clone(),
            r(
                Caveat {
                    disallow_lists: true,
                    ..Caveat::default()
                },
                &[("photos", "2024/june/")],
            ),
        ),
        (f.shared.clone(), r(Caveat::default(), &[])),
        (
            f.shared.clone(),
            r(Caveat::default(), &[("docs", "x/"), ("docs", "")]),
        ),
    ]
}

fn restrict_vectors(f: &Fixture) -> Value {
    let restrict: Vec<Value> = deterministic_restrictions(f)
        .iter()
        .map(|(parent, r)| {
            let caveat = Caveat {
                nonce: NONCE.to_vec(),
                ..r.caveat.clone()
            };
            let expected = parent.restrict(caveat, &r.paths).unwrap().serialize();
            json!({"grant": parent.serialize(), "options": options(r, true), "expected": expected})
        })
        .collect();
    let refusal = |parent: &AccessGrant, list: &[(&str, &str)]| {
        let r = Restriction {
            caveat: Caveat::default(),
            paths: paths(list),
        };
        let err = parent.restrict(Caveat::new(), &r.paths).unwrap_err();
        json!({"grant": parent.serialize(), "options": options(&r, false), "code": access_code(&err)})
    };
    let refusals = [
        refusal(&f.shared, &[("photos", "")]),
        refusal(&f.shared, &[("photos", "2023/")]),
        refusal(&f.shared, &[("photos", "2024/june/"), ("unshared", "")]),
        // (A path without a trailing `/` is a single-object share in uplink-core; the
        // console shares prefixes only and checks that itself, so it is no vector.)
        refusal(&f.full, &[("", "")]),
        refusal(&f.full, &[("photos", "ok/"), ("", "x/")]),
    ];
    let key_caveats = [
        Caveat {
            disallow_reads: true,
            allowed_paths: vec![CaveatPath {
                bucket: "b".into(),
                encrypted_prefix: "X/".into(),
            }],
            not_after: Some(T + 60),
            nonce: NONCE.to_vec(),
            ..Caveat::default()
        },
        Caveat {
            nonce: NONCE.to_vec(),
            ..Caveat::default()
        },
    ];
    let restrict_api_key: Vec<Value> = [f.api_key.clone(), f.shared.api_key.clone()]
        .iter()
        .zip(&key_caveats)
        .map(|(key, c)| {
            json!({"api_key": key.serialize(), "caveat": caveat_json(c), "expected": key.restrict(c).serialize()})
        })
        .collect();
    json!({
        "restrict": restrict,
        "restrict_refusals": refusals,
        "restrict_api_key": restrict_api_key,
        "random_restrict": random_restrictions(f).iter().map(|(parent, r)| json!({
            "grant": parent.serialize(), "options": options(r, false),
        })).collect::<Vec<_>>(),
        "random_restrict_api_key": [{"api_key": f.api_key.serialize(), "caveat": caveat_json(&key_caveat())}],
    })
}

/// Restrictions the script makes with random nonces; checked by [`check_js_restriction`].
fn random_restrictions(f: &Fixture) -> Vec<(AccessGrant, Restriction)> {
    vec![
        (
            f.full.clone(),
            Restriction {
                caveat: Caveat {
                    disallow_deletes: true,
                    ..Caveat::default()
                },
                paths: paths(&[("photos", "2024/"), ("docs", "")]),
            },
        ),
        (
            f.full.clone(),
            Restriction {
                caveat: Caveat {
                    disallow_lists: true,
                    not_before: Some(T - 100),
                    not_after: Some(T + 100),
                    max_object_ttl: Some(3600),
                    ..Caveat::default()
                },
                paths: Vec::new(),
            },
        ),
        (
            f.shared.clone(),
            Restriction {
                caveat: Caveat {
                    disallow_writes: true,
                    ..Caveat::default()
                },
                paths: paths(&[("photos", "2024/june/"), ("photos", "2024/ü/")]),
            },
        ),
    ]
}

fn key_caveat() -> Caveat {
    Caveat {
        disallow_writes: true,
        allowed_paths: vec![CaveatPath {
            bucket: "photos".into(),
            encrypted_prefix: String::new(),
        }],
        ..Caveat::default()
    }
}

// ------------------------------------------------------------------ checks of JS output

fn action(op: Operation, bucket: &str, key: &str, time: i64) -> Action {
    Action {
        op,
        bucket: Some(bucket.into()),
        encrypted_key: Some(key.into()),
        time,
        object_expires_at: Some(time + 60),
    }
}

fn denied(key: &ApiKey, a: &Action) -> bool {
    matches!(key.check(&SECRET, a), Err(AccessError::PermissionDenied(_)))
}

/// Whether some caveat of `key` disallows `op`.
fn op_disallowed(key: &ApiKey, op: Operation) -> bool {
    key.caveats().unwrap().iter().any(|c| match op {
        Operation::Read => c.disallow_reads,
        Operation::Write => c.disallow_writes,
        Operation::List => c.disallow_lists,
        Operation::Delete => c.disallow_deletes,
    })
}

/// A grant the script restricted (random nonce) is what Rust makes for that nonce, and
/// it decrypts and allows exactly what it should.
fn check_js_restriction(f: &Fixture, parent: &AccessGrant, r: &Restriction, js: &str) {
    let g = AccessGrant::parse(js).unwrap_or_else(|e| panic!("Rust refuses the JS grant: {e}"));
    assert_eq!(g.satellite, parent.satellite);
    let caveats = g.api_key.caveats().unwrap();
    let before = parent.api_key.caveats().unwrap();
    assert_eq!(caveats.len(), before.len() + 1);
    assert_eq!(caveats[..before.len()], before[..]);
    let last = caveats.last().unwrap();
    assert_eq!(last.nonce.len(), 16, "a random 16-byte nonce");
    let mut expected_paths: Vec<CaveatPath> = Vec::new();
    for (bucket, prefix) in &r.paths {
        let p = CaveatPath {
            bucket: bucket.clone(),
            encrypted_prefix: parent.encryption.encrypt_prefix(bucket, prefix).unwrap(),
        };
        if !expected_paths.contains(&p) {
            expected_paths.push(p);
        }
    }
    let expected = Caveat {
        allowed_paths: expected_paths,
        nonce: last.nonce.clone(),
        ..r.caveat.clone()
    };
    assert_eq!(last, &expected);
    let again = parent
        .restrict(
            Caveat {
                allowed_paths: Vec::new(),
                ..last.clone()
            },
            &r.paths,
        )
        .unwrap();
    assert_eq!(
        again.serialize(),
        js,
        "Rust makes the same grant for that nonce"
    );
    if r.paths.is_empty() {
        assert_eq!(g.encryption, parent.encryption);
    } else {
        assert!(g.encryption.default_key.is_none());
        assert_eq!(
            g.encryption,
            parent.encryption.restrict_many(&r.paths, &[]).unwrap()
        );
    }
    check_behaviour(f, &g, r);
}

fn check_behaviour(f: &Fixture, g: &AccessGrant, r: &Restriction) {
    let everything = &f.full.encryption;
    let inside: Vec<(String, String)> = if r.paths.is_empty() {
        paths(&[("photos", "2024/")])
    } else {
        r.paths.clone()
    };
    for (bucket, prefix) in &inside {
        let name = format!("{prefix}inside/ü.txt");
        let enc = everything.encrypt_key(bucket, &name).unwrap();
        assert_eq!(g.encryption.decrypt_key(bucket, &enc).unwrap(), name);
        assert_eq!(g.encryption.encrypt_key(bucket, &name).unwrap(), enc);
        let listing = everything.encrypt_prefix(bucket, prefix).unwrap();
        for (op, key) in [
            (Operation::Read, &enc),
            (Operation::Write, &enc),
            (Operation::Delete, &enc),
            (Operation::List, &listing),
        ] {
            let a = action(op, bucket, key, T);
            assert_eq!(
                denied(&g.api_key, &a),
                op_disallowed(&g.api_key, op),
                "{op:?} {bucket}/{prefix}"
            );
        }
        let wrong_secret = g
            .api_key
            .check(&[1; 32], &action(Operation::Read, bucket, &enc, T));
        assert_eq!(wrong_secret, Err(AccessError::InvalidKey));
        check_times(g, r, bucket, &enc);
    }
    let covered = |bucket: &str, name: &str| {
        r.paths
            .iter()
            .any(|(b, p)| b == bucket && name.starts_with(p.as_str()))
    };
    for (bucket, name) in [
        ("photos", "2023/outside.txt"),
        ("photos", "2024/x"),
        ("unshared", "x"),
    ] {
        if r.paths.is_empty() || covered(bucket, name) {
            continue;
        }
        let enc = everything.encrypt_key(bucket, name).unwrap();
        assert!(
            matches!(
                g.encryption.decrypt_key(bucket, &enc),
                Err(CryptoError::NoKeyForPath { .. })
            ),
            "{bucket}/{name}"
        );
        assert!(matches!(
            g.encryption.encrypt_key(bucket, name),
            Err(CryptoError::NoKeyForPath { .. })
        ));
        assert!(
            denied(&g.api_key, &action(Operation::Read, bucket, &enc, T)),
            "{bucket}/{name}"
        );
    }
}

fn check_times(g: &AccessGrant, r: &Restriction, bucket: &str, enc: &str) {
    let c = &r.caveat;
    if let Some(nb) = c.not_before {
        assert!(denied(
            &g.api_key,
            &action(Operation::Read, bucket, enc, nb - 1)
        ));
    }
    if let Some(na) = c.not_after {
        assert!(denied(
            &g.api_key,
            &action(Operation::Read, bucket, enc, na + 1)
        ));
    }
    if let (Some(ttl), false) = (
        c.max_object_ttl,
        op_disallowed(&g.api_key, Operation::Write),
    ) {
        let mut upload = action(Operation::Write, bucket, enc, T);
        upload.object_expires_at = Some(T + ttl as i64 + 1);
        assert!(denied(&g.api_key, &upload));
        upload.object_expires_at = Some(T + ttl as i64);
        g.api_key.check(&SECRET, &upload).unwrap();
    }
}

fn check_js_api_key(f: &Fixture, js: &str) {
    let key = ApiKey::parse(js).unwrap();
    assert_eq!(key.head(), HEAD);
    let last = key.caveats().unwrap().pop().unwrap();
    assert_eq!(last.nonce.len(), 16);
    assert_eq!(
        last,
        Caveat {
            nonce: last.nonce.clone(),
            ..key_caveat()
        }
    );
    assert_eq!(f.api_key.restrict(&last).serialize(), js);
    key.check(&SECRET, &action(Operation::Read, "photos", "K", T))
        .unwrap();
    assert!(denied(&key, &action(Operation::Write, "photos", "K", T)));
    assert!(denied(&key, &action(Operation::Read, "docs", "K", T)));
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

fn expected_strings<'a>(vectors: &'a Value, section: &str, field: &str) -> Vec<&'a str> {
    vectors[section]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[field].as_str().unwrap())
        .collect()
}

/// What the script computed from the vectors' inputs is what Rust computed.
fn check_outputs(f: &Fixture, vectors: &Value, out: &Value) {
    for (section, field) in [
        ("argon2id", "tag_hex"),
        ("derive", "out_hex"),
        ("paths", "encrypted"),
        ("root_keys", "key_hex"),
        ("create", "grant"),
        ("prefixes", "encrypted"),
        ("decrypt", "plain"),
        ("restrict", "expected"),
        ("restrict_api_key", "expected"),
    ] {
        assert_eq!(
            strings(&out[section]),
            expected_strings(vectors, section, field),
            "{section}"
        );
    }
    let created = AccessGrant::parse(strings(&out["create"])[0]).unwrap();
    assert_eq!(created, f.full);
    let parses: Vec<&Value> = vectors["parse"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["expected"])
        .collect();
    assert_eq!(
        out["parse"].as_array().unwrap().iter().collect::<Vec<_>>(),
        parses
    );

    let randoms = random_restrictions(f);
    let js = strings(&out["random_restrict"]);
    assert_eq!(js.len(), randoms.len());
    for ((parent, r), grant) in randoms.iter().zip(js) {
        check_js_restriction(f, parent, r, grant);
    }
    for key in strings(&out["random_restrict_api_key"]) {
        check_js_api_key(f, key);
    }
    for m in out["malformed_grants"].as_array().unwrap() {
        let grant = m["grant"].as_str().unwrap();
        assert!(
            AccessGrant::parse(grant).is_err(),
            "Rust accepts a grant JS refuses ({})",
            m["why"]
        );
    }
    check_tied_entries(&out["tied"]);
    assert_eq!(
        AccessGrant::parse(out["padded_grant"].as_str().unwrap()).unwrap(),
        f.full
    );
    let std_key = ApiKey::parse(out["api_key_standard_base64"].as_str().unwrap()).unwrap();
    assert_eq!(std_key, f.api_key);
}

/// With two entries for one prefix (only a tampered grant has them), both
/// implementations use the last one.
fn check_tied_entries(tied: &Value) {
    let text = |name: &str| tied[name].as_str().unwrap().to_string();
    let grant = AccessGrant::parse(&text("grant")).unwrap();
    let [first, second] = &grant.encryption.entries[..] else {
        panic!("the tampered grant has two entries");
    };
    assert_eq!(
        (&first.bucket, &first.prefix),
        (&second.bucket, &second.prefix)
    );
    assert_ne!(first.key, second.key);
    let caveat = Caveat {
        nonce: B64.decode(text("nonce")).unwrap(),
        ..Caveat::default()
    };
    let restricted = grant
        .restrict(caveat, &[(text("bucket"), text("prefix"))])
        .unwrap();
    assert_eq!(restricted.serialize(), text("restricted"));
}

// ------------------------------------------------------------------ the test

fn run_node(vectors: &Path, outputs: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("console/tests/crypto_check.mjs");
    let run = Command::new("node")
        .arg(&script)
        .arg(vectors)
        .arg(outputs)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `node` ({e}): Node.js 20 or later is required for the console crypto test")
        });
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "{} failed ({}):\n{stdout}\n{stderr}",
        script.display(),
        run.status
    );
    eprint!("{stdout}{stderr}");
}

#[test]
fn javascript_access_grants_match_uplink_core() {
    let f = fixture();
    let mut vectors = json!({});
    for part in [
        primitive_vectors(),
        root_key_vectors(&f),
        name_vectors(),
        grant_vectors(&f),
        restrict_vectors(&f),
    ] {
        vectors
            .as_object_mut()
            .unwrap()
            .extend(part.as_object().unwrap().clone());
    }
    let dir = tempfile::tempdir().unwrap();
    let vectors_path = dir.path().join("vectors.json");
    let outputs_path = dir.path().join("outputs.json");
    std::fs::write(&vectors_path, serde_json::to_vec_pretty(&vectors).unwrap()).unwrap();
    run_node(&vectors_path, &outputs_path);
    let out: Value = serde_json::from_slice(&std::fs::read(&outputs_path).unwrap()).unwrap();
    check_outputs(&f, &vectors, &out);
}
