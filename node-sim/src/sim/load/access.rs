//! Which access grant to use, chosen as the `uplink` CLI chooses it: `--access` names a
//! saved access or is a grant itself; otherwise `$UPLINK_ACCESS`; otherwise the default
//! saved access in `<config dir>/uplink/access.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use uplink_core::access::AccessGrant;

use super::LoadError;

pub const ACCESS_ENV: &str = "UPLINK_ACCESS";

/// The part of the uplink's `access.json` read here.
#[derive(Debug, Default, Deserialize)]
struct AccessFile {
    default: Option<String>,
    #[serde(default)]
    accesses: BTreeMap<String, String>,
}

/// The uplink's configuration directory: `explicit`, else the platform's.
pub fn config_dir(explicit: Option<&Path>) -> Option<PathBuf> {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| dirs::config_dir().map(|d| d.join("uplink")))
}

fn load(dir: Option<&Path>) -> Result<AccessFile, LoadError> {
    let Some(path) = dir.map(|d| d.join("access.json")) else {
        return Ok(AccessFile::default());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(AccessFile::default()),
        Err(e) => {
            return Err(LoadError::InvalidArgument(format!(
                "reading {}: {e}",
                path.display()
            )));
        }
    };
    serde_json::from_str(&text)
        .map_err(|_| LoadError::InvalidArgument(format!("{} is corrupt", path.display())))
}

/// The grant `access` names or is, else `$UPLINK_ACCESS`, else the saved default.
pub fn resolve(access: Option<&str>, config_dir: Option<&Path>) -> Result<AccessGrant, LoadError> {
    let file = load(config_dir)?;
    let (text, origin) = match access {
        Some(a) => match file.accesses.get(a) {
            Some(g) => (g.clone(), format!("saved access {a:?}")),
            None => (a.to_string(), "--access".to_string()),
        },
        None => match std::env::var(ACCESS_ENV) {
            Ok(g) if !g.trim().is_empty() => (g, format!("${ACCESS_ENV}")),
            _ => {
                let name = file.default.as_ref().ok_or_else(|| {
                    LoadError::InvalidArgument(format!(
                        "no access grant: pass --access, set ${ACCESS_ENV}, or save one \
                         with `uplink access import`"
                    ))
                })?;
                let g = file.accesses.get(name).ok_or_else(|| {
                    LoadError::InvalidArgument(format!("default access {name:?} is missing"))
                })?;
                (g.clone(), format!("saved access {name:?}"))
            }
        },
    };
    // The grant's text is a secret: the error names where it came from, not what it is.
    AccessGrant::parse(text.trim())
        .map_err(|e| LoadError::InvalidArgument(format!("{origin} is not a usable grant: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_through_the_saved_file_and_bad_grants_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("access.json"),
            r#"{"default": "main", "accesses": {"main": "not-a-grant"}}"#,
        )
        .unwrap();
        let err = resolve(Some("main"), Some(dir.path())).unwrap_err();
        assert!(
            matches!(&err, LoadError::InvalidArgument(m) if m.starts_with("saved access \"main\"")),
            "{err:?}"
        );
        let err = resolve(Some("xyz"), Some(dir.path())).unwrap_err();
        assert!(
            matches!(&err, LoadError::InvalidArgument(m) if m.starts_with("--access") && !m.contains("xyz")),
            "{err:?}"
        );
        std::fs::write(dir.path().join("access.json"), "{").unwrap();
        assert!(matches!(
            resolve(Some("main"), Some(dir.path())),
            Err(LoadError::InvalidArgument(m)) if m.ends_with("is corrupt")
        ));
    }
}
