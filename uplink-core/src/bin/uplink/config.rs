//! Saved access grants: `<config dir>/access.json`, readable only by the user.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use uplink_core::access::AccessGrant;
use uplink_core::protocol::identity::write_private_file;

pub const ACCESS_ENV: &str = "UPLINK_ACCESS";

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AccessFile {
    pub default: Option<String>,
    pub accesses: BTreeMap<String, String>,
}

pub struct ConfigDir {
    pub dir: PathBuf,
}

impl ConfigDir {
    pub fn new(explicit: Option<PathBuf>) -> Result<Self> {
        let dir = match explicit {
            Some(d) => d,
            None => dirs::config_dir()
                .context("cannot find a configuration directory; pass --config-dir")?
                .join("uplink"),
        };
        Ok(Self { dir })
    }

    fn path(&self) -> PathBuf {
        self.dir.join("access.json")
    }

    pub fn load(&self) -> Result<AccessFile> {
        let path = self.path();
        if !path.exists() {
            return Ok(AccessFile::default());
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is corrupt", path.display()))
    }

    pub fn save(&self, file: &AccessFile) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let text = serde_json::to_string_pretty(file)?;
        write_private_file(&self.path(), text.as_bytes())
            .with_context(|| format!("writing {}", self.path().display()))
    }

    /// Saves `grant` under `name`, making it the default if it is the first or asked.
    pub fn store(&self, name: &str, grant: &str, make_default: bool) -> Result<()> {
        let mut file = self.load()?;
        file.accesses.insert(name.to_string(), grant.to_string());
        if make_default || file.default.is_none() {
            file.default = Some(name.to_string());
        }
        self.save(&file)
    }

    /// The grant named, given literally, from the environment, or the default.
    pub fn resolve(&self, access: Option<&str>) -> Result<AccessGrant> {
        let file = self.load()?;
        let (text, origin) = match access {
            Some(a) => match file.accesses.get(a) {
                Some(g) => (g.clone(), format!("saved access {a:?}")),
                None => (a.to_string(), "--access".to_string()),
            },
            None => match std::env::var(ACCESS_ENV) {
                Ok(g) if !g.trim().is_empty() => (g, format!("${ACCESS_ENV}")),
                _ => {
                    let Some(name) = &file.default else {
                        bail!(
                            "no access grant: create one with `uplink access create`, import one \
                             with `uplink access import`, or pass --access / set ${ACCESS_ENV}"
                        );
                    };
                    let g = file
                        .accesses
                        .get(name)
                        .with_context(|| format!("default access {name:?} is missing"))?;
                    (g.clone(), format!("saved access {name:?}"))
                }
            },
        };
        AccessGrant::parse(&text).with_context(|| format!("{origin} is not usable"))
    }
}
