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

use crate::restrict_flags::{Effective, RestrictFlags, plain_paths, restrict};
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

pub fn share(
    grant: &AccessGrant,
    flags: &RestrictFlags,
    paths: &[String],
    export_to: Option<&Path>,
) -> Result<()> {
    let shared = restrict(grant, flags, paths)?;
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
