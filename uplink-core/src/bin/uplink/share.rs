//! `uplink share`: hand someone a narrower access grant, made offline from yours.
//!
//! Sharing needs no satellite round trip: the API key is narrowed by appending a caveat
//! (macaroons need no secret for that) and the encryption keys by keeping only those at
//! the shared prefixes. The summary says what the new grant allows after every caveat
//! of its chain, not just the new one, because that is what its holder will get.

use std::path::Path;

use anyhow::{Context, Result};
use uplink_core::access::AccessGrant;
use uplink_core::protocol::identity::write_private_file;
use uplink_core::protocol::now_unix;

use crate::restrict_flags::{
    Effective, RestrictFlags, parse_shared_paths, plain_buckets, plain_paths, restrict_to,
};
use crate::times::{show_duration, show_time_relative};

/// What `grant` allows, one `label: value` line each, indented by `indent`. Never
/// shows a secret: no API key, no encryption key.
pub fn summary(grant: &AccessGrant, indent: &str) -> Result<String> {
    let effective = Effective::of(
        &grant
            .api_key
            .caveats()
            .context("the access grant's API key is not usable")?,
    );
    let paths = match plain_paths(grant, &effective) {
        None => "all buckets and objects".to_string(),
        Some(p) if p.is_empty() => {
            "restricted, but the grant holds no encryption key for any path".to_string()
        }
        Some(p) => p.join(", "),
    };
    let now = now_unix();
    let valid = match (effective.not_before, effective.not_after) {
        (None, None) => "no time limit".to_string(),
        (Some(b), None) => format!("from {}", show_time_relative(b, now)),
        (None, Some(a)) if a < now => format!("expired at {}", show_time_relative(a, now)),
        (None, Some(a)) => format!("until {}", show_time_relative(a, now)),
        (Some(b), Some(a)) => format!(
            "from {} until {}",
            show_time_relative(b, now),
            show_time_relative(a, now)
        ),
    };
    let ttl = match effective.max_object_ttl {
        Some(t) => format!("{} (uploads must use --expires)", show_duration(t)),
        None => "none".to_string(),
    };
    let lines = [
        ("satellite", grant.satellite.to_string()),
        ("operations allowed", effective.operations()),
        ("paths", paths),
        ("valid", valid),
        ("max object TTL", ttl),
    ];
    Ok(lines
        .iter()
        .map(|(label, value)| format!("{indent}{:<19} {value}\n", format!("{label}:")))
        .collect())
}

/// Writes a grant to `path`, readable only by the user: written beside it under a
/// temporary name and renamed, so an existing file's looser mode is never kept.
pub fn write_grant_file(path: &Path, grant: &AccessGrant) -> Result<()> {
    if path.is_dir() {
        anyhow::bail!("{} is a directory; give a file name", path.display());
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} has no file name", path.display()))?;
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let text = format!("{}\n", grant.serialize());
    write_private_file(&tmp, text.as_bytes())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::Error::new(e).context(format!("writing {}", path.display()))
    })
}

pub async fn share(
    grant: &AccessGrant,
    flags: &RestrictFlags,
    paths: &[String],
    export_to: Option<&Path>,
    client: &uplink_core::client::ClientConfig,
) -> Result<()> {
    let paths = parse_shared_paths(paths)?;
    let plain = plain_buckets(grant, &paths, client).await?;
    let shared = restrict_to(grant, flags, &paths, &plain)?;
    eprint!("Sharing access\n{}", summary(&shared, "  ")?);
    match export_to {
        Some(path) => {
            write_grant_file(path, &shared)?;
            eprintln!(
                "access grant written to {} (it holds the decryption keys for these paths: \
                 keep it as secret as a password)",
                path.display()
            );
        }
        None => {
            eprintln!(
                "access grant (it holds the decryption keys for these paths: share it as you \
                 would a password):"
            );
            println!("{}", shared.serialize());
        }
    }
    Ok(())
}

/// Characters kept as they are in a link's key (unreserved, and `/`).
fn link_path(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `sj://bucket/key` (one object) or `sj://bucket/prefix/` (everything under it).
fn parse_link_target(s: &str) -> Result<(String, String)> {
    let Some(rest) = s.strip_prefix("sj://") else {
        anyhow::bail!("{s:?} is not an sj:// path; share links like sj://bucket/key");
    };
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        anyhow::bail!("{s:?} names no bucket; share links like sj://bucket/key");
    }
    Ok((bucket.to_string(), key.to_string()))
}

/// `uplink share --url`: a public, read-only registration of a grant narrowed to one
/// object or prefix, and the link that serves it. The link's holder reads what that
/// grant reads and nothing else; `--pin` ties an object link to the content's SHA-256.
pub async fn share_url(
    grant: &AccessGrant,
    flags: &RestrictFlags,
    path: &str,
    pin: bool,
    auth_service: Option<&str>,
    client: &uplink_core::client::ClientConfig,
) -> Result<()> {
    use uplink_core::client::Project;

    let (bucket, key) = parse_link_target(path)?;
    let is_prefix = key.is_empty() || key.ends_with('/');
    if flags.writeonly || flags.disallow_reads {
        anyhow::bail!("a share link is for reading: --writeonly and --disallow-reads do not apply");
    }
    if is_prefix && flags.disallow_lists {
        anyhow::bail!("a link to a prefix lists what is under it: --disallow-lists does not apply");
    }
    if pin && is_prefix {
        anyhow::bail!("--pin ties a link to one object's content: name an object, not a prefix");
    }
    let mut flags = flags.clone();
    flags.readonly = true;
    let target = [(bucket.clone(), key.clone())];
    let plain = plain_buckets(grant, &target, client).await?;
    let shared = restrict_to(grant, &flags, &target, &plain)?;
    let pinned = if pin {
        let owner = Project::open(grant.clone(), client.clone())?;
        let entry = owner
            .stat_object(&bucket, &key)
            .await
            .with_context(|| format!("cannot pin sj://{bucket}/{key}"))?;
        Some(entry.sha256.with_context(|| {
            format!(
                "sj://{bucket}/{key} has no recorded SHA-256 (it was uploaded in parts), so \
                 a link cannot be pinned to it; upload it again in one piece to pin it"
            )
        })?)
    } else {
        None
    };
    let issued = crate::access::register(&shared, true, auth_service, client).await?;
    let base = issued.links_url.context(
        "this satellite serves no share links (its operator has not set edge.links_listen)",
    )?;
    let base = base.trim_end_matches('/');
    let path = format!(
        "{}/{}/{}",
        issued.access_key_id,
        link_path(&bucket),
        link_path(&key)
    );
    let query = pinned
        .as_ref()
        .map(|h| format!("?sha256={h}"))
        .unwrap_or_default();
    eprint!("Sharing a public link\n{}", summary(&shared, "  ")?);
    if let Some(h) = &pinned {
        eprintln!("  {:<19} {h}", "pinned SHA-256:");
    }
    eprintln!(
        "anyone with the link can read this until it expires or you revoke the grant \
         (`uplink access revoke`)"
    );
    println!("{base}/s/{path}{query}");
    if !is_prefix {
        eprintln!("raw bytes: {base}/raw/{path}{query}");
    }
    Ok(())
}
