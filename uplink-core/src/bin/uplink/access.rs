//! `uplink access ...`: create, import, inspect, list and choose access grants.

use std::io::IsTerminal;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use uplink_core::access::AccessGrant;
use uplink_core::client::{ClientConfig, MetainfoClient, discover_satellite};
use uplink_core::crypto::passphrase::root_key_from_passphrase;
use uplink_core::crypto::store::EncryptionStore;
use uplink_core::protocol::NodeUrl;

use crate::config::ConfigDir;

#[derive(Subcommand)]
pub enum AccessCommand {
    /// Create an access grant from a satellite address, an API key and a passphrase.
    Create {
        /// The satellite, as <node id>@<host>:<port> (or <host>:<port> to take the id
        /// the satellite reports, trust on first use).
        #[arg(long)]
        satellite: String,
        /// The API key from the satellite's operator or console.
        #[arg(long, env = "UPLINK_API_KEY", hide_env_values = true)]
        api_key: String,
        /// Encryption passphrase (prompted for when omitted on a terminal).
        #[arg(long, env = "UPLINK_PASSPHRASE", hide_env_values = true)]
        passphrase: Option<String>,
        /// Name to save the grant under.
        #[arg(long, default_value = "default")]
        name: String,
        /// Print the grant instead of saving it.
        #[arg(long)]
        export: bool,
    },
    /// Save an access grant (a string or a file holding one) under a name.
    Import {
        /// Name to save it under.
        name: String,
        /// The grant, or a file containing it.
        grant: String,
        /// Make it the default access.
        #[arg(long)]
        default: bool,
    },
    /// Show what an access grant contains (never its secrets).
    Inspect {
        /// A saved name or a grant; the default access if omitted.
        access: Option<String>,
    },
    /// List saved access grants.
    List,
    /// Choose the default access grant.
    Use { name: String },
}

pub async fn run(cmd: AccessCommand, config: &ConfigDir, access_flag: Option<&str>) -> Result<()> {
    match cmd {
        AccessCommand::Create {
            satellite,
            api_key,
            passphrase,
            name,
            export,
        } => {
            let api_key = uplink_core::access::ApiKey::parse(api_key.trim())
                .context("--api-key is not a valid API key")?;
            let http = reqwest::Client::builder()
                .connect_timeout(ClientConfig::default().connect_timeout)
                .build()?;
            let satellite: NodeUrl = if satellite.contains('@') {
                satellite.parse().with_context(|| {
                    format!("--satellite {satellite:?} must look like <node id>@<host>:<port>")
                })?
            } else {
                let url = discover_satellite(&http, &satellite).await?;
                eprintln!(
                    "satellite at {satellite} says it is {url}; pin it with --satellite {url}"
                );
                url
            };
            let passphrase = match passphrase {
                Some(p) => p,
                None => prompt_passphrase()?,
            };
            // The salt comes from the satellite, so the same passphrase gives the same
            // keys for everyone in the project.
            let info = MetainfoClient::new(http, satellite.address.clone(), api_key.serialize())
                .project_info()
                .await
                .context("asking the satellite for the project's salt")?;
            let root = root_key_from_passphrase(&passphrase, &info.salt)?;
            let grant = AccessGrant {
                satellite,
                api_key,
                encryption: EncryptionStore::with_root(root),
            };
            let serialized = grant.serialize();
            if export {
                println!("{serialized}");
            } else {
                config.store(&name, &serialized, false)?;
                eprintln!(
                    "access {name:?} saved in {} (project {})",
                    config.dir.display(),
                    info.project_id
                );
                println!("{serialized}");
            }
        }
        AccessCommand::Import {
            name,
            grant,
            default,
        } => {
            let text = if std::path::Path::new(&grant).is_file() {
                std::fs::read_to_string(&grant).with_context(|| format!("reading {grant}"))?
            } else {
                grant
            };
            let parsed = AccessGrant::parse(&text).context("cannot import")?;
            config.store(&name, &parsed.serialize(), default)?;
            println!(
                "imported access {name:?} for satellite {}",
                parsed.satellite
            );
        }
        AccessCommand::Inspect { access } => {
            let grant = config.resolve(access.as_deref().or(access_flag))?;
            let caveats = grant.api_key.caveats()?;
            let view = serde_json::json!({
                "satellite": grant.satellite.to_string(),
                "api_key_head": hex::encode(grant.api_key.head()),
                "caveats": caveats,
                "encryption": {
                    "root_key": grant.encryption.default_key.is_some(),
                    "shared_paths": grant.encryption.entries.iter()
                        .map(|e| format!("sj://{}/{}", e.bucket, e.prefix))
                        .collect::<Vec<_>>(),
                }
            });
            println!("{}", serde_json::to_string_pretty(&view)?);
        }
        AccessCommand::List => {
            let file = config.load()?;
            if file.accesses.is_empty() {
                println!("no saved access grants");
            }
            for (name, grant) in &file.accesses {
                let marker = if file.default.as_deref() == Some(name) {
                    "*"
                } else {
                    " "
                };
                let sat = AccessGrant::parse(grant)
                    .map(|g| g.satellite.to_string())
                    .unwrap_or_else(|e| format!("(unusable: {e})"));
                println!("{marker} {name:<20} {sat}");
            }
        }
        AccessCommand::Use { name } => {
            let mut file = config.load()?;
            if !file.accesses.contains_key(&name) {
                bail!("no saved access named {name:?} (see `uplink access list`)");
            }
            file.default = Some(name.clone());
            config.save(&file)?;
            println!("default access is now {name:?}");
        }
    }
    Ok(())
}

fn prompt_passphrase() -> Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!("no passphrase: pass --passphrase or set UPLINK_PASSPHRASE");
    }
    let first = rpassword::prompt_password("Encryption passphrase: ")?;
    let second = rpassword::prompt_password("Again: ")?;
    if first != second {
        bail!("the passphrases differ");
    }
    if first.is_empty() {
        bail!("the passphrase must not be empty");
    }
    Ok(first)
}
