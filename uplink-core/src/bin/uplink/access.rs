//! `uplink access ...`: create, import, inspect, list, choose, restrict and revoke
//! access grants.

use std::io::IsTerminal;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use uplink_core::access::{AccessGrant, Caveat};
use uplink_core::client::{ClientConfig, MetainfoClient, Project, UplinkError, discover_satellite};
use uplink_core::crypto::passphrase::root_key_from_passphrase;
use uplink_core::crypto::store::EncryptionStore;
use uplink_core::protocol::NodeUrl;
use uplink_core::protocol::metainfo::ACCESS_REVOKE_PATH;
use uplink_core::transport::Transport;

use crate::config::ConfigDir;
use crate::restrict_flags::{
    Effective, RestrictFlags, operations, parse_shared_paths, plain_buckets, restrict_to,
};
use crate::share::summary;
use crate::times::{show_duration, show_time};

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
    /// Show what an access grant contains and allows (never its secrets).
    Inspect {
        /// A saved name or a grant; the default access if omitted.
        access: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List saved access grants.
    List,
    /// Choose the default access grant.
    Use { name: String },
    /// Derive a narrower grant offline from the current one (what `uplink share` does)
    /// and print it, or save it under --name.
    Restrict {
        #[command(flatten)]
        restrict: RestrictFlags,
        /// Save the new grant under this name instead of printing it (an existing name
        /// is never overwritten).
        #[arg(long)]
        name: Option<String>,
        /// Limit it to sj://bucket or sj://bucket/prefix/ (default: the paths the
        /// current grant has).
        paths: Vec<String>,
    },
    /// Revoke an access grant and every grant derived from it, on the satellite. The
    /// revoking grant (--access, or the default) must be the grant itself or one it
    /// was derived from.
    Revoke {
        /// The grant to revoke: a saved name, a grant, or a file holding one.
        grant: String,
    },
    /// Register a grant with the satellite's hosted edge services and print S3
    /// credentials for its gateway. The satellite can then read what the grant can;
    /// for keys that never leave your machine, run `uplink gateway` instead.
    Register {
        /// A saved name or a grant; the default access if omitted.
        access: Option<String>,
        /// Also let share links use it without the secret (read-only grants only).
        #[arg(long)]
        public: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// The auth service's address (host:port) where the satellite's edge role runs
        /// apart from it (`satellite run --roles edge`); it must present the satellite's
        /// identity. Default: the satellite's own address.
        #[arg(long, value_name = "ADDRESS", env = "UPLINK_AUTH_SERVICE")]
        auth_service: Option<String>,
    },
}

/// Registers `grant` with the satellite's auth service: at `auth_service` where the
/// edge role runs apart, else at the satellite itself. Either way the service must
/// prove the satellite's identity, so the grant goes to no one else.
pub async fn register(
    grant: &AccessGrant,
    public: bool,
    auth_service: Option<&str>,
    client: &ClientConfig,
) -> Result<uplink_core::protocol::edge::RegisterResponse> {
    let mut service = grant.satellite.clone();
    if let Some(address) = auth_service {
        service.address = address.to_string();
    }
    let metainfo = MetainfoClient::new(
        Transport::shared(client.transport),
        service,
        grant.api_key.serialize(),
    )
    .with_retry(client.metainfo_retry);
    let issued = metainfo
        .register_edge(&uplink_core::protocol::edge::RegisterRequest {
            access_grant: grant.serialize(),
            public,
        })
        .await
        .with_context(|| {
            format!(
                "registering the access with the auth service at {}",
                auth_service.unwrap_or(&grant.satellite.address)
            )
        })?;
    Ok(issued)
}

pub async fn run(
    cmd: AccessCommand,
    config: &ConfigDir,
    access_flag: Option<&str>,
    client: &ClientConfig,
) -> Result<()> {
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
            let transport = Transport::shared(client.transport);
            let satellite: NodeUrl = if satellite.contains('@') {
                satellite.parse().with_context(|| {
                    format!("--satellite {satellite:?} must look like <node id>@<host>:<port>")
                })?
            } else {
                let url = discover_satellite(&transport, &satellite).await?;
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
            let info = MetainfoClient::new(transport, satellite.clone(), api_key.serialize())
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
        AccessCommand::Inspect { access, json } => {
            let grant = config.resolve(access.as_deref().or(access_flag))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&inspect_json(&grant)?)?);
            } else {
                print!("{}", inspect_text(&grant)?);
            }
        }
        AccessCommand::Restrict {
            restrict: flags,
            name,
            paths,
        } => {
            if let Some(name) = &name
                && config.load()?.accesses.contains_key(name)
            {
                bail!(
                    "an access named {name:?} is already saved; choose another --name \
                     (saved accesses are never overwritten)"
                );
            }
            let grant = config.resolve(access_flag)?;
            let paths = parse_shared_paths(&paths)?;
            let plain = plain_buckets(&grant, &paths, client).await?;
            let restricted = restrict_to(&grant, &flags, &paths, &plain)?;
            eprint!("Restricted access\n{}", summary(&restricted, "  ")?);
            match name {
                Some(name) => {
                    // Saved without becoming the default: a narrowed grant should not
                    // quietly replace the one commands use.
                    let mut file = config.load()?;
                    file.accesses.insert(name.clone(), restricted.serialize());
                    config.save(&file)?;
                    eprintln!("saved as access {name:?} in {}", config.dir.display());
                }
                None => println!("{}", restricted.serialize()),
            }
        }
        AccessCommand::Revoke { grant } => revoke(config, access_flag, &grant, client).await?,
        AccessCommand::Register {
            access,
            public,
            json,
            auth_service,
        } => {
            let grant = config.resolve(access.as_deref().or(access_flag))?;
            let issued = register(&grant, public, auth_service.as_deref(), client).await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "access_key_id": issued.access_key_id,
                        "secret_key": issued.secret_key,
                        "endpoint": issued.endpoint,
                        "not_after": issued.not_after,
                        "links_url": issued.links_url,
                    })
                );
            } else {
                println!("Access key: {}", issued.access_key_id);
                println!("Secret key: {}", issued.secret_key);
                match &issued.endpoint {
                    Some(e) => println!("Endpoint:   {e}"),
                    None => println!("Endpoint:   (this satellite serves no hosted S3 gateway)"),
                }
                if let Some(t) = issued.not_after {
                    println!("Valid until {}", crate::times::show_time(t));
                }
                if let Some(links) = &issued.links_url {
                    println!("Links:      {links}/s/{}/BUCKET/KEY", issued.access_key_id);
                }
            }
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

/// The grant to revoke as (saved name if any, grant).
fn revocation_target(config: &ConfigDir, given: &str) -> Result<(Option<String>, AccessGrant)> {
    let file = config.load()?;
    if let Some(text) = file.accesses.get(given) {
        let grant = AccessGrant::parse(text)
            .with_context(|| format!("saved access {given:?} is not usable"))?;
        return Ok((Some(given.to_string()), grant));
    }
    let text = if std::path::Path::new(given).is_file() {
        std::fs::read_to_string(given).with_context(|| format!("reading {given}"))?
    } else {
        given.to_string()
    };
    let grant = AccessGrant::parse(&text).with_context(|| {
        format!("{given:?} is neither a saved access (see `uplink access list`) nor a usable access grant")
    })?;
    let key = grant.api_key.serialize();
    let name = file.accesses.iter().find_map(|(name, text)| {
        AccessGrant::parse(text)
            .ok()
            .filter(|g| g.api_key.serialize() == key)
            .map(|_| name.clone())
    });
    Ok((name, grant))
}

async fn revoke(
    config: &ConfigDir,
    access_flag: Option<&str>,
    given: &str,
    client: &ClientConfig,
) -> Result<()> {
    let (name, target) = revocation_target(config, given)?;
    let revoker = config
        .resolve(access_flag)
        .context("no grant to revoke with")?;
    if revoker.satellite.id != target.satellite.id {
        bail!(
            "the grant to revoke belongs to satellite {}, but the revoking grant to {}",
            target.satellite,
            revoker.satellite
        );
    }
    // Every grant derived from another shares its API key's head, so a different head
    // can never be an ancestor; the satellite checks the rest.
    if revoker.api_key.head() != target.api_key.head() {
        bail!(
            "the grant to revoke was not derived from the revoking grant (they come from \
             different API keys): only the grant itself or one it was derived from can revoke it"
        );
    }
    let project = Project::open(revoker, client.clone())?;
    match project.revoke(&target.api_key).await {
        Ok(()) => {}
        Err(UplinkError::PermissionDenied(why)) => {
            bail!("the satellite refused to revoke the grant: {why}")
        }
        Err(UplinkError::Satellite { status: 404, .. }) => bail!(
            "the satellite at {} does not support revoking access grants (POST \
             {ACCESS_REVOKE_PATH} answered 404)",
            target.satellite.address
        ),
        Err(e) => return Err(e).context("revoking the access grant"),
    }
    match &name {
        Some(name) => println!("revoked access {name:?}"),
        None => println!("revoked the access grant"),
    }
    print!("{}", summary(&target, "  ")?);
    println!(
        "It and every grant derived from it stop working within the satellite's revocation \
         cache TTL."
    );
    if let Some(name) = name {
        println!(
            "It is still saved as {name:?} in {}, where it is now useless.",
            config.dir.display()
        );
    }
    Ok(())
}

/// One caveat as `label: value` pairs; paths as stored, with encrypted prefixes (the
/// satellite only ever sees those).
fn caveat_fields(c: &Caveat) -> Vec<(&'static str, String)> {
    let mut fields = vec![(
        "operations allowed",
        operations(
            !c.disallow_reads,
            !c.disallow_writes,
            !c.disallow_lists,
            !c.disallow_deletes,
        ),
    )];
    if !c.allowed_paths.is_empty() {
        let paths: Vec<String> = c
            .allowed_paths
            .iter()
            .map(|p| {
                if p.encrypted_prefix.is_empty() {
                    format!("bucket {:?} (all of it)", p.bucket)
                } else {
                    format!(
                        "bucket {:?}, encrypted prefix {:?}",
                        p.bucket, p.encrypted_prefix
                    )
                }
            })
            .collect();
        fields.push(("paths", paths.join("; ")));
    }
    if let Some(t) = c.not_before {
        fields.push(("not before", show_time(t)));
    }
    if let Some(t) = c.not_after {
        fields.push(("not after", show_time(t)));
    }
    if let Some(t) = c.max_object_ttl {
        fields.push(("max object TTL", show_duration(t)));
    }
    fields
}

fn inspect_text(grant: &AccessGrant) -> Result<String> {
    use std::fmt::Write;
    let caveats = grant.api_key.caveats()?;
    let mut out = String::new();
    writeln!(out, "satellite:          {}", grant.satellite)?;
    writeln!(
        out,
        "API key head:       {}",
        hex::encode(grant.api_key.head())
    )?;
    let keys = if grant.encryption.default_key.is_some() {
        "the project's root key (every bucket)".to_string()
    } else {
        let paths: Vec<String> = grant
            .encryption
            .entries
            .iter()
            .map(|e| format!("sj://{}/{}", e.bucket, e.prefix))
            .collect();
        format!("only for {}", paths.join(", "))
    };
    writeln!(out, "encryption keys:    {keys}")?;
    if caveats.is_empty() {
        writeln!(out, "caveats:            none (unrestricted API key)")?;
    } else {
        writeln!(
            out,
            "caveats:            {} (every one applies, oldest first)",
            caveats.len()
        )?;
        for (i, c) in caveats.iter().enumerate() {
            writeln!(out, "  caveat {}:", i + 1)?;
            for (label, value) in caveat_fields(c) {
                writeln!(out, "    {:<19} {value}", format!("{label}:"))?;
            }
        }
    }
    writeln!(out, "in effect:")?;
    out.push_str(&summary(grant, "  ")?);
    Ok(out)
}

fn inspect_json(grant: &AccessGrant) -> Result<serde_json::Value> {
    let caveats = grant.api_key.caveats()?;
    let effective = Effective::of(&caveats);
    let ops = |reads: bool, writes: bool, lists: bool, deletes: bool| -> Vec<&'static str> {
        [
            (reads, "read"),
            (writes, "write"),
            (lists, "list"),
            (deletes, "delete"),
        ]
        .into_iter()
        .filter_map(|(allowed, name)| allowed.then_some(name))
        .collect()
    };
    let caveats: Vec<serde_json::Value> = caveats
        .iter()
        .map(|c| {
            serde_json::json!({
                "operations_allowed": ops(
                    !c.disallow_reads,
                    !c.disallow_writes,
                    !c.disallow_lists,
                    !c.disallow_deletes,
                ),
                "allowed_paths": c.allowed_paths,
                "not_before": c.not_before.map(show_time),
                "not_after": c.not_after.map(show_time),
                "max_object_ttl_seconds": c.max_object_ttl,
            })
        })
        .collect();
    Ok(serde_json::json!({
        "satellite": grant.satellite.to_string(),
        "api_key_head": hex::encode(grant.api_key.head()),
        "caveats": caveats,
        "effective": {
            "operations_allowed": ops(
                effective.reads,
                effective.writes,
                effective.lists,
                effective.deletes,
            ),
            "not_before": effective.not_before.map(show_time),
            "not_after": effective.not_after.map(show_time),
            "max_object_ttl_seconds": effective.max_object_ttl,
        },
        "encryption": {
            "root_key": grant.encryption.default_key.is_some(),
            "shared_paths": grant.encryption.entries.iter()
                .map(|e| format!("sj://{}/{}", e.bucket, e.prefix))
                .collect::<Vec<_>>(),
        }
    }))
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
