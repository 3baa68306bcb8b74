//! What a restricted API key may still do, and the evaluation of a request against it.
//!
//! A caveat only ever takes permissions away, and a key carries every caveat added along
//! its chain of restrictions, all of which must allow a request: so restricting a key
//! can only narrow it, whoever does it. Caveats are first-party macaroon predicates
//! (`sj-caveat-v1:` + JSON). Fields this version does not know are refused rather than
//! ignored, because an ignored restriction is a widened key.

use std::time::{Duration, UNIX_EPOCH};

use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::AccessError;
use crate::protocol::metainfo::b64;

/// Prefix of every caveat predicate; the version is part of it.
pub const PREDICATE_PREFIX: &[u8] = b"sj-caveat-v1:";

/// A bucket, or a part of one, that a restricted key may touch.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaveatPath {
    pub bucket: String,
    /// Encrypted key prefix: `""` (the whole bucket) or ending in `/`; anything else
    /// is one object's encrypted key, allowing exactly that object (a single-object
    /// share, such as a share link to one file).
    #[serde(default)]
    pub encrypted_prefix: String,
}

/// One restriction of an API key. The default restricts nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Caveat {
    #[serde(skip_serializing_if = "is_false")]
    pub disallow_reads: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub disallow_writes: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub disallow_lists: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub disallow_deletes: bool,
    /// Empty: every bucket and key. Otherwise a request must fall within one of these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_paths: Vec<CaveatPath>,
    /// Unix seconds before which the key is not valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    /// Unix seconds after which the key is not valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<i64>,
    /// Uploads must expire within this many seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_object_ttl: Option<u64>,
    /// Random, so that two identical restrictions of one key give distinct keys (which
    /// can then be revoked separately).
    #[serde(with = "b64", skip_serializing_if = "Vec::is_empty")]
    pub nonce: Vec<u8>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The kind of a request, as caveats see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Read,
    Write,
    List,
    Delete,
}

/// A request to check against caveats.
///
/// `bucket: None` is a project-level request (listing buckets, project info).
/// `encrypted_key` is the encrypted object key, or for [`Operation::List`] the encrypted
/// listing prefix (`None` = the bucket's root). A bucket without a key is a bucket-level
/// request: bucket info (`Read`), create (`Write`), delete (`Delete`), list its root
/// (`List`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    pub op: Operation,
    pub bucket: Option<String>,
    pub encrypted_key: Option<String>,
    /// When the request is made, unix seconds.
    pub time: i64,
    /// For uploads: when the object expires, unix seconds.
    pub object_expires_at: Option<i64>,
}

impl Action {
    /// An action at the current time with no object expiry.
    pub fn new(op: Operation, bucket: Option<&str>, encrypted_key: Option<&str>) -> Self {
        Self {
            op,
            bucket: bucket.map(str::to_string),
            encrypted_key: encrypted_key.map(str::to_string),
            time: crate::protocol::now_unix(),
            object_expires_at: None,
        }
    }
}

/// The last second RFC 3339 can write (9999-12-31T23:59:59Z).
const LAST_RFC3339_SECOND: u64 = 253_402_300_799;

fn show_time(unix: i64) -> String {
    u64::try_from(unix)
        .ok()
        .filter(|s| *s <= LAST_RFC3339_SECOND)
        .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
        .map(|t| humantime::format_rfc3339_seconds(t).to_string())
        .unwrap_or_else(|| format!("unix time {unix}"))
}

/// Whether an encrypted `prefix` covers `key` on component boundaries; a "prefix" that
/// does not end in `/` is one object's key and covers only that key.
fn prefix_covers(prefix: &str, key: &str) -> bool {
    if prefix.is_empty() || prefix.ends_with('/') {
        key.starts_with(prefix)
    } else {
        key == prefix
    }
}

impl Caveat {
    /// A caveat that restricts nothing yet, with a fresh random nonce.
    pub fn new() -> Self {
        let mut nonce = vec![0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        Self {
            nonce,
            ..Self::default()
        }
    }

    /// The macaroon predicate: `sj-caveat-v1:` followed by JSON.
    pub fn to_predicate(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("a caveat always serializes to JSON");
        let mut out = Vec::with_capacity(PREDICATE_PREFIX.len() + json.len());
        out.extend_from_slice(PREDICATE_PREFIX);
        out.extend_from_slice(&json);
        out
    }

    /// Parses a predicate made by [`Caveat::to_predicate`]; anything else is refused.
    pub fn from_predicate(predicate: &[u8]) -> Result<Caveat, AccessError> {
        let json = predicate.strip_prefix(PREDICATE_PREFIX).ok_or_else(|| {
            AccessError::Malformed(format!(
                "unknown API key caveat {:?}",
                String::from_utf8_lossy(&predicate[..predicate.len().min(40)])
            ))
        })?;
        let caveat: Caveat = serde_json::from_slice(json)
            .map_err(|e| AccessError::Malformed(format!("invalid API key caveat: {e}")))?;
        for path in &caveat.allowed_paths {
            if path.bucket.is_empty() {
                return Err(AccessError::Malformed(
                    "invalid API key caveat: an allowed path has an empty bucket".into(),
                ));
            }
        }
        Ok(caveat)
    }

    /// Whether this caveat allows `action`; the error is a reason to show the user.
    ///
    /// With `allowed_paths` set: a request inside a bucket must name an allowed bucket,
    /// and its key (or listing prefix) must lie under one of that bucket's allowed
    /// prefixes. Listing a bucket's root or a parent of an allowed prefix is refused (it
    /// would reveal names outside the share), and so is creating or deleting a bucket
    /// the caveat only allows part of. Bucket info is allowed for allowed buckets.
    /// Listing buckets stays allowed, as in Storj (the satellite should show only the
    /// buckets for which a bucket-level `List` passes); other project-level requests
    /// (project info, whose salt would let a holder test passphrase guesses against
    /// the keys they were given) are refused.
    ///
    /// With `max_object_ttl` set, an upload (a `Write` with a key) must carry an expiry
    /// no later than `time + max_object_ttl`.
    pub fn allows(&self, action: &Action) -> Result<(), String> {
        let (disallowed, what) = match action.op {
            Operation::Read => (self.disallow_reads, "reads"),
            Operation::Write => (self.disallow_writes, "writes"),
            Operation::List => (self.disallow_lists, "lists"),
            Operation::Delete => (self.disallow_deletes, "deletes"),
        };
        if disallowed {
            return Err(format!("the access grant does not allow {what}"));
        }
        if let Some(not_before) = self.not_before
            && action.time < not_before
        {
            return Err(format!(
                "the access grant is not valid until {}",
                show_time(not_before)
            ));
        }
        if let Some(not_after) = self.not_after
            && action.time > not_after
        {
            return Err(format!(
                "the access grant expired at {}",
                show_time(not_after)
            ));
        }
        self.allows_path(action)?;
        self.allows_expiry(action)
    }

    fn allows_path(&self, action: &Action) -> Result<(), String> {
        if self.allowed_paths.is_empty() {
            return Ok(());
        }
        let Some(bucket) = &action.bucket else {
            return match action.op {
                Operation::List => Ok(()),
                _ => Err("the access grant is restricted to specific buckets and prefixes".into()),
            };
        };
        let mut prefixes = self
            .allowed_paths
            .iter()
            .filter(|p| &p.bucket == bucket)
            .map(|p| p.encrypted_prefix.as_str())
            .peekable();
        if prefixes.peek().is_none() {
            return Err(format!(
                "the access grant does not allow access to bucket {bucket:?}"
            ));
        }
        match (&action.encrypted_key, action.op) {
            (Some(key), _) => {
                if prefixes.any(|p| prefix_covers(p, key)) {
                    Ok(())
                } else if action.op == Operation::List {
                    Err(format!(
                        "the access grant only allows listing within its prefixes of bucket {bucket:?}"
                    ))
                } else {
                    Err(format!(
                        "the access grant does not allow access to this key in bucket {bucket:?}"
                    ))
                }
            }
            (None, Operation::Read) => Ok(()),
            (None, Operation::List) => {
                if prefixes.any(str::is_empty) {
                    Ok(())
                } else {
                    Err(format!(
                        "the access grant only allows listing within its prefixes of bucket {bucket:?}"
                    ))
                }
            }
            (None, Operation::Write | Operation::Delete) => {
                if prefixes.any(str::is_empty) {
                    Ok(())
                } else {
                    Err(format!(
                        "the access grant does not allow creating or deleting bucket {bucket:?}, only prefixes within it"
                    ))
                }
            }
        }
    }

    fn allows_expiry(&self, action: &Action) -> Result<(), String> {
        let Some(ttl) = self.max_object_ttl else {
            return Ok(());
        };
        if action.op != Operation::Write || action.encrypted_key.is_none() {
            return Ok(());
        }
        let limit = action
            .time
            .saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX));
        match action.object_expires_at {
            Some(expires) if expires <= limit => Ok(()),
            _ => Err(format!(
                "the access grant only allows uploads that expire within {}",
                humantime::format_duration(Duration::from_secs(ttl))
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_700_000_000;

    fn act(op: Operation, bucket: Option<&str>, key: Option<&str>) -> Action {
        Action {
            op,
            bucket: bucket.map(Into::into),
            encrypted_key: key.map(Into::into),
            time: T,
            object_expires_at: None,
        }
    }

    fn paths(list: &[(&str, &str)]) -> Caveat {
        Caveat {
            allowed_paths: list
                .iter()
                .map(|(b, p)| CaveatPath {
                    bucket: b.to_string(),
                    encrypted_prefix: p.to_string(),
                })
                .collect(),
            ..Caveat::new()
        }
    }

    #[test]
    fn predicate_round_trip_and_strictness() {
        let caveat = Caveat {
            disallow_writes: true,
            not_after: Some(T),
            max_object_ttl: Some(60),
            ..paths(&[("b", "X/")])
        };
        let pred = caveat.to_predicate();
        assert!(pred.starts_with(PREDICATE_PREFIX));
        assert_eq!(Caveat::from_predicate(&pred).unwrap(), caveat);
        // An empty caveat is short: no defaults are spelled out.
        assert_eq!(Caveat::default().to_predicate(), b"sj-caveat-v1:{}");

        for bad in [
            &b"time < 2030"[..],
            b"sj-caveat-v1:not json",
            b"sj-caveat-v1:{\"disallow_puts\":true}",
            b"sj-caveat-v1:{\"allowed_paths\":[{\"bucket\":\"\"}]}",
        ] {
            assert!(
                matches!(Caveat::from_predicate(bad), Err(AccessError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn nonces_make_equal_restrictions_distinct() {
        assert_ne!(Caveat::new().to_predicate(), Caveat::new().to_predicate());
    }

    #[test]
    fn operations_can_be_disallowed() {
        let caveat = Caveat {
            disallow_writes: true,
            disallow_deletes: true,
            ..Caveat::new()
        };
        assert!(
            caveat
                .allows(&act(Operation::Read, Some("b"), Some("k")))
                .is_ok()
        );
        assert!(
            caveat
                .allows(&act(Operation::List, Some("b"), None))
                .is_ok()
        );
        let err = caveat
            .allows(&act(Operation::Write, Some("b"), Some("k")))
            .unwrap_err();
        assert_eq!(err, "the access grant does not allow writes");
        assert!(
            caveat
                .allows(&act(Operation::Delete, Some("b"), None))
                .is_err()
        );
    }

    #[test]
    fn time_window_is_inclusive() {
        let caveat = Caveat {
            not_before: Some(T - 10),
            not_after: Some(T + 10),
            ..Caveat::new()
        };
        let mut a = act(Operation::Read, Some("b"), Some("k"));
        for (time, ok) in [
            (T - 11, false),
            (T - 10, true),
            (T + 10, true),
            (T + 11, false),
        ] {
            a.time = time;
            assert_eq!(caveat.allows(&a).is_ok(), ok, "{time}");
        }
        a.time = T + 11;
        assert!(
            caveat
                .allows(&a)
                .unwrap_err()
                .contains("expired at 2023-11-14T22:13:30Z")
        );
    }

    #[test]
    fn paths_restrict_buckets_keys_and_listings() {
        let caveat = paths(&[("b", "X/Y/"), ("c", "")]);
        let allowed = [
            act(Operation::Read, Some("b"), Some("X/Y/k")),
            act(Operation::Write, Some("b"), Some("X/Y/Z/k")),
            act(Operation::List, Some("b"), Some("X/Y/")),
            act(Operation::List, Some("b"), Some("X/Y/Z/")),
            act(Operation::Read, Some("b"), None),
            act(Operation::List, None, None),
            act(Operation::List, Some("c"), None),
            act(Operation::Write, Some("c"), None),
            act(Operation::Delete, Some("c"), Some("anything")),
        ];
        for a in &allowed {
            assert!(caveat.allows(a).is_ok(), "{a:?}");
        }
        let refused = [
            act(Operation::Read, Some("b"), Some("X/Yk")),
            act(Operation::Read, Some("b"), Some("X/Y")),
            act(Operation::Read, Some("b"), Some("X/W/k")),
            act(Operation::List, Some("b"), Some("X/")),
            act(Operation::List, Some("b"), Some("")),
            act(Operation::List, Some("b"), None),
            act(Operation::Write, Some("b"), None),
            act(Operation::Delete, Some("b"), None),
            act(Operation::Read, Some("d"), Some("X/Y/k")),
            act(Operation::List, Some("d"), None),
            act(Operation::Read, None, None),
        ];
        for a in &refused {
            assert!(caveat.allows(a).is_err(), "{a:?}");
        }
    }

    #[test]
    fn an_exact_key_allows_that_object_only() {
        let caveat = paths(&[("b", "X/Y")]);
        assert!(
            caveat
                .allows(&act(Operation::Read, Some("b"), Some("X/Y")))
                .is_ok()
        );
        for refused in [
            act(Operation::Read, Some("b"), Some("X/Yz")),
            act(Operation::Read, Some("b"), Some("X/Y/")),
            act(Operation::Read, Some("b"), Some("X/Y/k")),
            act(Operation::Read, Some("b"), Some("X/")),
            act(Operation::List, Some("b"), Some("X/")),
            act(Operation::List, Some("b"), None),
            act(Operation::Read, Some("c"), Some("X/Y")),
        ] {
            assert!(caveat.allows(&refused).is_err(), "{refused:?}");
        }
        let parsed = Caveat::from_predicate(&caveat.to_predicate()).unwrap();
        assert_eq!(parsed, caveat);
    }

    #[test]
    fn times_beyond_year_9999_are_shown_as_numbers() {
        // RFC 3339 ends at 9999-12-31; a caveat may name any i64 time, and refusing a
        // request must not fail on the way to saying why.
        let far = 36_999_000_063_600;
        let caveat = Caveat {
            not_before: Some(far),
            ..Caveat::new()
        };
        let err = caveat
            .allows(&act(Operation::Read, Some("b"), Some("k")))
            .unwrap_err();
        assert_eq!(
            err,
            format!("the access grant is not valid until unix time {far}")
        );
        let caveat = Caveat {
            not_after: Some(i64::MIN),
            ..Caveat::new()
        };
        let err = caveat
            .allows(&act(Operation::Read, Some("b"), Some("k")))
            .unwrap_err();
        assert!(err.ends_with(&format!("unix time {}", i64::MIN)), "{err}");
        assert_eq!(show_time(253_402_300_799), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn unrestricted_paths_allow_project_requests() {
        let caveat = Caveat::new();
        assert!(caveat.allows(&act(Operation::Read, None, None)).is_ok());
        assert!(caveat.allows(&act(Operation::List, None, None)).is_ok());
    }

    #[test]
    fn max_ttl_requires_an_expiry_on_uploads() {
        let caveat = Caveat {
            max_object_ttl: Some(3600),
            ..Caveat::new()
        };
        let mut upload = act(Operation::Write, Some("b"), Some("k"));
        let err = caveat.allows(&upload).unwrap_err();
        assert!(err.contains("expire within 1h"), "{err}");
        upload.object_expires_at = Some(T + 3600);
        assert!(caveat.allows(&upload).is_ok());
        upload.object_expires_at = Some(T + 3601);
        assert!(caveat.allows(&upload).is_err());
        // Reads and bucket creation carry no object to expire.
        assert!(
            caveat
                .allows(&act(Operation::Read, Some("b"), Some("k")))
                .is_ok()
        );
        assert!(
            caveat
                .allows(&act(Operation::Write, Some("b"), None))
                .is_ok()
        );
        let huge = Caveat {
            max_object_ttl: Some(u64::MAX),
            ..Caveat::new()
        };
        upload.object_expires_at = Some(i64::MAX);
        assert!(huge.allows(&upload).is_ok());
    }
}
