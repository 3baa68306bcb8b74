//! Deriving a narrower access grant offline: the flags `share` and `access restrict`
//! share, the paths to share, and what a grant allows once all its caveats apply.
//!
//! Caveats only ever narrow a key, so appending one can never widen a grant; but a
//! caveat that asks for more than the grant already allows (a later expiry, a longer
//! object TTL) would silently not mean what it says. Such requests are refused here,
//! so that the summary the user reads is what the grant does.

use anyhow::{Context, Result, bail};
use clap::Args;
use uplink_core::access::{AccessError, AccessGrant, Caveat};
use uplink_core::client::{ClientConfig, Project, UplinkError};
use uplink_core::crypto::CryptoError;
use uplink_core::protocol::now_unix;

use crate::times::{parse_duration_secs, parse_future_time, parse_time, show_duration, show_time};

/// How to narrow a grant. Flags only take permissions away; what the grant does not
/// allow already stays disallowed.
#[derive(Args, Clone, Debug, Default)]
pub struct RestrictFlags {
    /// Read and list only: no writes, no deletes.
    #[arg(long, conflicts_with = "writeonly")]
    pub readonly: bool,
    /// Write only: no reads, no lists (deletes stay as they are).
    #[arg(long)]
    pub writeonly: bool,
    /// Disallow downloads and reading object information.
    #[arg(long)]
    pub disallow_reads: bool,
    /// Disallow uploads and creating buckets.
    #[arg(long)]
    pub disallow_writes: bool,
    /// Disallow listing objects.
    #[arg(long)]
    pub disallow_lists: bool,
    /// Disallow deleting objects and buckets (and overwriting objects).
    #[arg(long)]
    pub disallow_deletes: bool,
    /// Not valid before: a duration from now like +1h, `now`, or an RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    pub not_before: Option<String>,
    /// Not valid after: a duration from now like +24h, or an RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    pub not_after: Option<String>,
    /// Uploads must expire within this long, e.g. 24h (they must use `cp --expires`).
    #[arg(long, value_name = "DURATION")]
    pub max_object_ttl: Option<String>,
}

impl RestrictFlags {
    /// The caveat these flags ask for (with a fresh nonce), checked for mistakes that
    /// would make a useless grant.
    pub fn to_caveat(&self) -> Result<Caveat> {
        let mut caveat = Caveat::new();
        caveat.disallow_reads = self.disallow_reads || self.writeonly;
        caveat.disallow_lists = self.disallow_lists || self.writeonly;
        caveat.disallow_writes = self.disallow_writes || self.readonly;
        caveat.disallow_deletes = self.disallow_deletes || self.readonly;
        if caveat.disallow_reads
            && caveat.disallow_writes
            && caveat.disallow_lists
            && caveat.disallow_deletes
        {
            bail!(
                "these flags disallow reads, writes, lists and deletes: the grant would allow nothing"
            );
        }
        caveat.not_before = self
            .not_before
            .as_deref()
            .map(|s| parse_time("--not-before", s))
            .transpose()?;
        caveat.not_after = self
            .not_after
            .as_deref()
            .map(|s| parse_future_time("--not-after", s))
            .transpose()
            .context("a grant that has already expired would never work")?;
        if let (Some(before), Some(after)) = (caveat.not_before, caveat.not_after)
            && before >= after
        {
            bail!(
                "--not-before ({}) must be earlier than --not-after ({})",
                show_time(before),
                show_time(after)
            );
        }
        caveat.max_object_ttl = self
            .max_object_ttl
            .as_deref()
            .map(|s| parse_duration_secs("--max-object-ttl", s))
            .transpose()?;
        Ok(caveat)
    }
}

/// `sj://bucket`, `sj://bucket/` or `sj://bucket/prefix/` as (bucket, plaintext prefix).
///
/// Only whole prefixes can be shared, because a grant's encryption keys are the keys at
/// the end of a prefix: `sj://b/photos` is refused rather than guessed at, since it
/// could name an object or a prefix.
pub fn parse_shared_path(s: &str) -> Result<(String, String)> {
    let Some(rest) = s.strip_prefix("sj://") else {
        bail!("{s:?} is not an sj:// path; share paths like sj://bucket/prefix/");
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        bail!("{s:?} names no bucket; share paths like sj://bucket/prefix/");
    }
    if !prefix.is_empty() && !prefix.ends_with('/') {
        bail!(
            "{s:?} does not end with '/': to share everything under that prefix, write \
             {s}/ (a single object can be shared as a link: `uplink share --url`)"
        );
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

/// What a grant allows once every caveat on its key applies: each caveat can only take
/// away, so permissions are the intersection and limits the tightest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    pub reads: bool,
    pub writes: bool,
    pub lists: bool,
    pub deletes: bool,
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    pub max_object_ttl: Option<u64>,
    /// Whether some caveat limits the buckets and prefixes.
    pub paths_restricted: bool,
}

impl Effective {
    pub fn of(caveats: &[Caveat]) -> Self {
        let mut e = Effective {
            reads: true,
            writes: true,
            lists: true,
            deletes: true,
            not_before: None,
            not_after: None,
            max_object_ttl: None,
            paths_restricted: false,
        };
        for c in caveats {
            e.reads &= !c.disallow_reads;
            e.writes &= !c.disallow_writes;
            e.lists &= !c.disallow_lists;
            e.deletes &= !c.disallow_deletes;
            e.not_before = e.not_before.max(c.not_before);
            e.not_after = min_some(e.not_after, c.not_after);
            e.max_object_ttl = min_some(e.max_object_ttl, c.max_object_ttl);
            e.paths_restricted |= !c.allowed_paths.is_empty();
        }
        e
    }

    /// `read, list`, or `none`.
    pub fn operations(&self) -> String {
        operations(self.reads, self.writes, self.lists, self.deletes)
    }
}

/// The allowed operations, comma-separated, or `none`.
pub fn operations(reads: bool, writes: bool, lists: bool, deletes: bool) -> String {
    let ops: Vec<&str> = [
        (reads, "read"),
        (writes, "write"),
        (lists, "list"),
        (deletes, "delete"),
    ]
    .into_iter()
    .filter_map(|(allowed, name)| allowed.then_some(name))
    .collect();
    if ops.is_empty() {
        "none".into()
    } else {
        ops.join(", ")
    }
}

fn min_some<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The plaintext paths a grant can reach, as `sj://bucket/prefix`; `None` when it can
/// reach every bucket (it holds the root key and no caveat limits its paths).
pub fn plain_paths(grant: &AccessGrant, effective: &Effective) -> Option<Vec<String>> {
    if grant.encryption.default_key.is_some() && !effective.paths_restricted {
        return None;
    }
    Some(
        grant
            .encryption
            .entries
            .iter()
            .map(|e| format!("sj://{}/{}", e.bucket, e.prefix))
            .collect(),
    )
}

#[cfg(test)]
/// `grant` narrowed by `flags` to `paths` (none: the paths it already has), offline.
/// Requests for more than the grant allows are refused with the reason.
pub fn restrict(
    grant: &AccessGrant,
    flags: &RestrictFlags,
    paths: &[String],
) -> Result<AccessGrant> {
    restrict_to(grant, flags, &parse_shared_paths(paths)?, &[])
}

/// `sj://` paths as (bucket, prefix or object key) pairs.
pub fn parse_shared_paths(paths: &[String]) -> Result<Vec<(String, String)>> {
    paths.iter().map(|p| parse_shared_path(p)).collect()
}

/// The buckets among `paths` that keep their object names in clear, asked of the
/// satellite (which must prove it with the bucket's tag) for buckets this grant has no
/// entries of its own for. If the satellite cannot be asked, names are shared
/// encrypted: a wrong guess that way is refused on use, never a disclosure.
pub async fn plain_buckets(
    grant: &AccessGrant,
    paths: &[(String, String)],
    client: &ClientConfig,
) -> Result<Vec<String>> {
    let mut buckets: Vec<&String> = paths
        .iter()
        .map(|(b, _)| b)
        .filter(|b| grant.encryption.entry_mode(b).is_none())
        .collect();
    buckets.sort();
    buckets.dedup();
    if buckets.is_empty() || grant.encryption.default_key.is_none() {
        return Ok(Vec::new());
    }
    let project = Project::open(grant.clone(), client.clone())?;
    let mut plain = Vec::new();
    for bucket in buckets {
        match project.bucket_names(bucket).await {
            Ok(mode) if mode.is_plain() => plain.push(bucket.clone()),
            Ok(_) => {}
            Err(e @ UplinkError::UnprovenPlainNames(_)) => return Err(e.into()),
            Err(e) => eprintln!(
                "warning: could not learn how sj://{bucket} keeps its names ({e}); sharing \
                 them as encrypted names"
            ),
        }
    }
    Ok(plain)
}

/// Like [`restrict`], for parsed (bucket, prefix or object key) pairs, where
/// `plain_buckets` keep their names in clear (see [`plain_buckets`]).
pub fn restrict_to(
    grant: &AccessGrant,
    flags: &RestrictFlags,
    paths: &[(String, String)],
    plain_buckets: &[String],
) -> Result<AccessGrant> {
    let caveat = flags.to_caveat()?;
    let current = Effective::of(
        &grant
            .api_key
            .caveats()
            .context("this access grant's API key is not usable")?,
    );
    if let Some(after) = current.not_after
        && after < now_unix()
    {
        bail!(
            "this access grant expired at {}; it cannot be shared",
            show_time(after)
        );
    }
    if let (Some(new), Some(own)) = (caveat.not_after, current.not_after)
        && new > own
    {
        bail!(
            "--not-after {} is later than this access grant's own end ({}): a derived \
             grant cannot outlive the grant it comes from",
            show_time(new),
            show_time(own)
        );
    }
    if let (Some(new), Some(own)) = (caveat.not_before, current.not_before)
        && new < own
    {
        bail!(
            "--not-before {} is earlier than this access grant's own start ({}): a derived \
             grant cannot be valid before the grant it comes from",
            show_time(new),
            show_time(own)
        );
    }
    if let (Some(new), Some(own)) = (caveat.max_object_ttl, current.max_object_ttl)
        && new > own
    {
        bail!(
            "--max-object-ttl {} is longer than this access grant's own maximum object TTL \
             ({}): a derived grant cannot allow longer-lived uploads",
            show_duration(new),
            show_duration(own)
        );
    }
    let restricted = grant
        .restrict_in(caveat, paths, plain_buckets)
        .map_err(|e| match e {
            AccessError::Crypto(CryptoError::NoKeyForPath { bucket, path }) => {
                let reachable = plain_paths(grant, &current)
                    .map(|p| p.join(", "))
                    .unwrap_or_default();
                anyhow::anyhow!(
                    "this access grant cannot reach sj://{bucket}/{path}: it only covers \
                 {reachable}, and a grant can only be narrowed, never widened"
                )
            }
            other => anyhow::Error::new(other).context("cannot restrict the access grant"),
        })?;
    let effective = Effective::of(&restricted.api_key.caveats()?);
    if !(effective.reads || effective.writes || effective.lists || effective.deletes) {
        bail!(
            "with these flags the grant would allow nothing (this grant already disallows {})",
            disallowed(&current)
        );
    }
    Ok(restricted)
}

fn disallowed(e: &Effective) -> String {
    let ops: Vec<&str> = [
        (e.reads, "reads"),
        (e.writes, "writes"),
        (e.lists, "lists"),
        (e.deletes, "deletes"),
    ]
    .into_iter()
    .filter_map(|(allowed, name)| (!allowed).then_some(name))
    .collect();
    if ops.is_empty() {
        "nothing".into()
    } else {
        ops.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use uplink_core::access::ApiKey;
    use uplink_core::crypto::{EncryptionStore, Key};
    use uplink_core::protocol::NodeId;

    use super::*;

    fn grant() -> AccessGrant {
        AccessGrant {
            satellite: format!("{}@127.0.0.1:7777", NodeId::random())
                .parse()
                .unwrap(),
            api_key: ApiKey::new(b"head", &[7; 32]).unwrap(),
            encryption: EncryptionStore::with_root(Key::from_bytes([3; 32])),
        }
    }

    fn flags(f: impl FnOnce(&mut RestrictFlags)) -> RestrictFlags {
        let mut flags = RestrictFlags::default();
        f(&mut flags);
        flags
    }

    fn err(r: Result<AccessGrant>) -> String {
        format!("{:#}", r.unwrap_err())
    }

    #[test]
    fn shared_paths_must_be_prefixes() {
        for (s, want) in [
            ("sj://b", ("b", "")),
            ("sj://b/", ("b", "")),
            ("sj://b/a/b/", ("b", "a/b/")),
        ] {
            let (b, p) = parse_shared_path(s).unwrap();
            assert_eq!((b.as_str(), p.as_str()), want);
        }
        let e = parse_shared_path("sj://b/a/b").unwrap_err().to_string();
        assert!(e.contains("write sj://b/a/b/"), "{e}");
        assert!(e.contains("a single object can be shared as a link"), "{e}");
        assert!(parse_shared_path("sj:///x/").is_err());
        assert!(parse_shared_path("/tmp/x/").is_err());
    }

    #[test]
    fn flags_make_caveats() {
        let c = flags(|f| f.readonly = true).to_caveat().unwrap();
        assert!(c.disallow_writes && c.disallow_deletes && !c.disallow_reads && !c.disallow_lists);
        let c = flags(|f| f.writeonly = true).to_caveat().unwrap();
        assert!(c.disallow_reads && c.disallow_lists && !c.disallow_writes && !c.disallow_deletes);
        assert_eq!(c.nonce.len(), 16);
        let e = flags(|f| {
            f.readonly = true;
            f.disallow_reads = true;
            f.disallow_lists = true;
        })
        .to_caveat()
        .unwrap_err()
        .to_string();
        assert!(e.contains("would allow nothing"), "{e}");
        let e = format!(
            "{:#}",
            flags(|f| f.not_after = Some("2001-01-01T00:00:00Z".into()))
                .to_caveat()
                .unwrap_err()
        );
        assert!(
            e.contains("--not-after \"2001-01-01T00:00:00Z\" is in the past"),
            "{e}"
        );
        let e = flags(|f| {
            f.not_before = Some("+2h".into());
            f.not_after = Some("+1h".into());
        })
        .to_caveat()
        .unwrap_err()
        .to_string();
        assert!(e.contains("must be earlier than --not-after"), "{e}");
        let c = flags(|f| f.max_object_ttl = Some("1h".into()))
            .to_caveat()
            .unwrap();
        assert_eq!(c.max_object_ttl, Some(3600));
    }

    #[test]
    fn restriction_never_widens() {
        let shared = restrict(
            &grant(),
            &flags(|f| {
                f.readonly = true;
                f.not_after = Some("+1h".into());
                f.max_object_ttl = Some("2h".into());
            }),
            &["sj://b/shared/".into()],
        )
        .unwrap();
        let e = Effective::of(&shared.api_key.caveats().unwrap());
        assert_eq!(e.operations(), "read, list");
        assert_eq!(
            plain_paths(&shared, &e).unwrap(),
            vec!["sj://b/shared/".to_string()]
        );
        assert_eq!(plain_paths(&grant(), &Effective::of(&[])), None);

        let e = err(restrict(
            &shared,
            &RestrictFlags::default(),
            &["sj://b/".into()],
        ));
        assert!(e.contains("cannot reach sj://b/"), "{e}");
        assert!(e.contains("only covers sj://b/shared/"), "{e}");
        let e = err(restrict(
            &shared,
            &RestrictFlags::default(),
            &["sj://c/".into()],
        ));
        assert!(e.contains("cannot reach sj://c/"), "{e}");
        let e = err(restrict(
            &shared,
            &flags(|f| f.not_after = Some("+2h".into())),
            &[],
        ));
        assert!(e.contains("cannot outlive"), "{e}");
        let e = err(restrict(
            &shared,
            &flags(|f| f.max_object_ttl = Some("3h".into())),
            &[],
        ));
        assert!(
            e.contains("longer than this access grant's own maximum"),
            "{e}"
        );
        let e = err(restrict(
            &shared,
            &flags(|f| {
                f.disallow_reads = true;
                f.disallow_lists = true;
            }),
            &[],
        ));
        assert!(e.contains("would allow nothing"), "{e}");

        // Asking for nothing more keeps what the grant disallows.
        let deeper = restrict(
            &shared,
            &flags(|f| f.not_after = Some("+30m".into())),
            &["sj://b/shared/sub/".into()],
        )
        .unwrap();
        let e = Effective::of(&deeper.api_key.caveats().unwrap());
        assert_eq!(e.operations(), "read, list");
        assert_eq!(e.max_object_ttl, Some(7200));
        assert!(e.not_after.unwrap() <= now_unix() + 1800);
        // No paths: the grant keeps its own.
        let same = restrict(&shared, &RestrictFlags::default(), &[]).unwrap();
        assert_eq!(same.encryption, shared.encryption);
    }
}
