//! Harnesses for what a user pastes or a client presents: access grants, API keys
//! (macaroons) and their caveats.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::fixtures::{
    SECRET, base_key, json_round_trip, postcard_round_trip, restricted_key, sample_actions,
    tamper_action,
};
use super::input::Input;
use crate::access::{AccessError, AccessGrant, Action, ApiKey, Caveat, Operation};

/// `AccessGrant::parse` on any string. An accepted grant serializes to a string that
/// parses to the same grant; a client can then use its keys without panicking, and a
/// full grant decrypts what it encrypts.
pub fn access_grant(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(grant) = AccessGrant::parse(text) else {
        return;
    };
    let serialized = grant.serialize();
    let again = AccessGrant::parse(&serialized).expect("a serialized grant parses");
    assert_eq!(again, grant, "grant round trip changed the grant");
    assert_eq!(
        again.serialize(),
        serialized,
        "grant encoding is not stable"
    );

    let _ = grant.api_key.caveats();
    let store = &grant.encryption;
    for (bucket, name) in [("photos", "2024/a.jpg"), ("photos", "X/"), ("b", "")] {
        let encrypted = store.encrypt_key(bucket, name);
        if let Ok(encrypted) = &encrypted {
            let decrypted = store.decrypt_key(bucket, encrypted);
            if store.entries.is_empty() {
                assert_eq!(decrypted.as_deref(), Ok(name), "a full grant decrypts");
            }
        }
        let _ = store.object_key(bucket, name);
        if let Ok(prefix) = store.encrypt_prefix(bucket, "2024/") {
            let _ = store.decrypt_prefix(bucket, &prefix);
        }
    }
    let _ = grant.restrict(
        Caveat {
            nonce: vec![1],
            ..Caveat::default()
        },
        &[("photos".into(), "2024/".into())],
    );
}

/// `ApiKey::parse` on any string. An accepted key serializes to a string (and to JSON
/// and postcard) that parses to the same key, its signature chain has one link per
/// caveat, and a check that passes means every caveat allows the request.
pub fn api_key(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(key) = ApiKey::parse(text) else {
        return;
    };
    assert_eq!(
        ApiKey::parse(&key.serialize()).as_ref(),
        Ok(&key),
        "API key round trip changed the key"
    );
    let json = serde_json::to_vec(&key).expect("a key encodes");
    assert_eq!(json_round_trip::<ApiKey>(&json).as_ref(), Some(&key));
    let binary = postcard::to_allocvec(&key).expect("a key encodes");
    assert_eq!(postcard_round_trip::<ApiKey>(&binary).as_ref(), Some(&key));

    let tails = key.tails(&SECRET);
    let caveats = key.caveats();
    if let Ok(caveats) = &caveats {
        assert_eq!(tails.len(), caveats.len() + 1, "one tail per caveat");
    }
    for action in sample_actions() {
        if key.check(&SECRET, &action).is_ok() {
            assert_eq!(tails.last(), Some(&key.signature()), "authentic chain");
            for caveat in caveats.as_ref().expect("a key that checks has caveats") {
                assert!(
                    caveat.allows(&action).is_ok(),
                    "{caveat:?} refuses {action:?}"
                );
            }
        }
    }
}

/// Edits the binary form of an authentic restricted key (flip, insert, delete, cut).
/// Whatever the edit, a key that still parses is a different key and is never allowed
/// to do what the original may: editing caveats, head or signature breaks the chain.
pub fn api_key_tamper(data: &[u8]) {
    let original = restricted_key();
    let binary = URL_SAFE_NO_PAD
        .decode(original.serialize())
        .expect("keys serialize to base64url");
    let mut edited = binary.clone();
    let mut input = Input::new(data);
    for _ in 0..8 {
        if input.is_empty() {
            break;
        }
        let op = input.byte();
        let at = input.u16() as usize;
        let value = input.byte();
        let len = edited.len();
        match op % 4 {
            0 if len > 0 => edited[at % len] ^= value,
            1 => edited.insert(at % (len + 1), value),
            2 if len > 0 => {
                edited.remove(at % len);
            }
            3 => edited.truncate(at % (len + 1)),
            _ => {}
        }
    }
    if edited == binary {
        return;
    }
    let Ok(key) = ApiKey::parse(&URL_SAFE_NO_PAD.encode(&edited)) else {
        return;
    };
    assert_ne!(key, original, "different bytes parsed to the original key");
    let result = key.check(&SECRET, &tamper_action());
    assert!(
        result.is_err(),
        "a tampered key was allowed: {key:?} {:?}",
        key.caveats()
    );
}

/// The request a caveat harness checks, read from the input.
fn action(input: &mut Input) -> Action {
    let flags = input.byte();
    let op = [
        Operation::Read,
        Operation::Write,
        Operation::List,
        Operation::Delete,
    ][(flags & 3) as usize];
    let bucket = (flags & 4 != 0).then(|| input.string());
    let encrypted_key = (flags & 8 != 0).then(|| input.string());
    let time = input.i64();
    let object_expires_at = (flags & 16 != 0).then(|| input.i64());
    Action {
        op,
        bucket,
        encrypted_key,
        time,
        object_expires_at,
    }
}

/// A request (first bytes) and a caveat predicate (the rest). An accepted predicate
/// round-trips, and a key minted with the fixture secret and restricted by it passes
/// `check` exactly when the caveat allows the request, refusing with the caveat's reason.
pub fn caveat(data: &[u8]) {
    let mut input = Input::new(data);
    let action = action(&mut input);
    let Ok(mut caveat) = Caveat::from_predicate(input.rest()) else {
        return;
    };
    assert_eq!(
        Caveat::from_predicate(&caveat.to_predicate()).as_ref(),
        Ok(&caveat),
        "caveat predicate round trip"
    );
    let verdict = caveat.allows(&action);
    // `restrict` gives a nonce-less caveat a random nonce; a fixed one keeps runs equal.
    if caveat.nonce.is_empty() {
        caveat.nonce = vec![1];
    }
    let key =
        ApiKey::parse(&base_key().restrict(&caveat).serialize()).expect("a restricted key parses");
    assert_eq!(key.caveats().as_ref(), Ok(&vec![caveat]), "caveats survive");
    let checked = key.check(&SECRET, &action);
    match verdict {
        Ok(()) => assert_eq!(checked, Ok(()), "{action:?}"),
        Err(reason) => assert_eq!(
            checked,
            Err(AccessError::PermissionDenied(reason)),
            "{action:?}"
        ),
    }
}
