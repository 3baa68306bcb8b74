//! `satellite`: set up, run and administer a satellite.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use satellite::config::{CONFIG_FILE, SatelliteConfig};
use uplink_core::protocol::Identity;

#[derive(Parser)]
#[command(
    name = "satellite",
    version,
    about = "The coordinator of a storage network"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Common {
    /// Directory holding identity, config.toml and the SQLite database.
    #[arg(long, env = "SATELLITE_DATA_DIR", default_value = "satellite-data")]
    data_dir: PathBuf,
    /// Database URL (PostgreSQL: postgres://user:pass@host/db); default SQLite in the data dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Create the identity and a config.toml with every setting at its default.
    Setup {
        #[command(flatten)]
        common: Common,
        /// Address to listen on.
        #[arg(long)]
        listen: Option<String>,
        /// Erasure scheme k/repair/optimal/total.
        #[arg(long)]
        redundancy: Option<String>,
        /// Overwrite an existing config.toml.
        #[arg(long)]
        force: bool,
    },
    /// Run the satellite until interrupted.
    Run {
        #[command(flatten)]
        common: Common,
        /// Address to listen on (overrides config).
        #[arg(long)]
        listen: Option<String>,
        /// Address to advertise to nodes and in grants.
        #[arg(long)]
        external_address: Option<String>,
        /// The services to run, e.g. `api,edge` (api, edge, repair, audit, gc; default
        /// all, or the config's `roles`). Processes that share a database each run some.
        #[arg(long)]
        roles: Option<satellite::roles::Roles>,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        common: Common,
    },
    /// Print the satellite's node URL (id@address).
    Id {
        #[command(flatten)]
        common: Common,
    },
    /// Operator commands on projects and API keys.
    Admin {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        action: AdminAction,
    },
}

#[derive(Subcommand)]
enum AdminAction {
    /// Create a project and print an API key for it.
    CreateProject {
        /// Project name.
        #[arg(long)]
        name: String,
    },
    /// Create another API key for a project.
    CreateApiKey {
        /// Project id.
        #[arg(long)]
        project: String,
        /// Key name.
        #[arg(long, default_value = "default")]
        name: String,
    },
    /// List projects.
    ListProjects,
    /// Let a console account see the nodes and repair pages (or, with --revoke, no
    /// longer). The account must exist: sign up in the console first.
    SetAdmin {
        #[arg(long)]
        email: String,
        #[arg(long)]
        revoke: bool,
    },
    /// Every node: status, free space, reputation, audit counts.
    Nodes {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Repair state: queue length, segments by health, repairs in the last hour, lost
    /// segments.
    Repair {
        #[arg(long)]
        json: bool,
    },
    /// Set a project's own limits (sizes like 10GiB or 500GB); unset ones keep their value.
    SetLimits {
        /// Project id.
        #[arg(long)]
        project: String,
        #[arg(long)]
        buckets: Option<u64>,
        #[arg(long, value_parser = uplink_core::units::parse_size)]
        storage: Option<u64>,
        /// Download bytes per calendar month.
        #[arg(long, value_parser = uplink_core::units::parse_size)]
        egress: Option<u64>,
        #[arg(long)]
        segments: Option<u64>,
        #[arg(long)]
        requests_per_second: Option<u64>,
    },
}

fn load(common: &Common) -> Result<SatelliteConfig> {
    let mut config = SatelliteConfig::load(&common.data_dir)?;
    if common.database_url.is_some() {
        config.database_url = common.database_url.clone();
    }
    Ok(config)
}

/// `id@address` of the satellite this configuration describes.
fn satellite_url(config: &SatelliteConfig) -> Result<uplink_core::protocol::NodeUrl> {
    let identity = Identity::load(&config.identity_path())
        .context("no identity yet: run `satellite setup` first")?;
    Ok(uplink_core::protocol::NodeUrl {
        id: identity.node_id(),
        address: config
            .external_address
            .clone()
            .unwrap_or_else(|| config.listen_addr.clone()),
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                "info,sqlx=warn,actix_server=warn,sea_orm_migration=warn".into()
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Setup {
            common,
            listen,
            redundancy,
            force,
        } => {
            let mut config = load(&common)?;
            if let Some(l) = listen {
                config.listen_addr = l;
            }
            if let Some(r) = redundancy {
                config.redundancy = r;
            }
            config.validate()?;
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("creating {}", config.data_dir.display()))?;
            let path = config.data_dir.join(CONFIG_FILE);
            if path.exists() && !force {
                anyhow::bail!(
                    "{} already exists; pass --force to overwrite it",
                    path.display()
                );
            }
            std::fs::write(&path, config.to_toml())
                .with_context(|| format!("writing {}", path.display()))?;
            let identity =
                Identity::load_or_create(&config.identity_path(), config.identity_difficulty)?;
            println!("satellite id: {}", identity.node_id());
            println!("config:       {}", path.display());
            println!(
                "start it with: satellite run --data-dir {}",
                config.data_dir.display()
            );
        }
        Command::Run {
            common,
            listen,
            external_address,
            roles,
        } => {
            let mut config = load(&common)?;
            if let Some(roles) = roles {
                config.roles = roles;
            }
            if let Some(l) = listen {
                config.listen_addr = l;
            }
            if external_address.is_some() {
                config.external_address = external_address;
            }
            let running = satellite::start(config).await?;
            println!("satellite running at {} ({})", running.url, running.roles());
            if running.roles().has(satellite::roles::Role::Api) {
                println!(
                    "nodes join with: node-sim nodes --satellite {}",
                    running.url
                );
            }
            if let Some(url) = running.edge_s3_url() {
                println!("hosted S3 gateway: {url}");
            }
            if let Some(url) = running.edge_links_url() {
                println!("share links: {url}");
            }
            satellite::signals::shutdown().await;
            eprintln!("shutting down");
            running.stop().await;
        }
        Command::Migrate { common } => {
            let config = load(&common)?;
            satellite::db::connect(&config.resolved_database_url()?).await?;
            println!("database is up to date");
        }
        Command::Id { common } => {
            println!("{}", satellite_url(&load(&common)?)?);
        }
        Command::Admin { common, action } => {
            let config = load(&common)?;
            let db = satellite::db::connect(&config.resolved_database_url()?).await?;
            match action {
                AdminAction::CreateProject { name } => {
                    let project = satellite::admin::create_project(&db, &name).await?;
                    let key = satellite::admin::create_api_key(&db, &project.id, "default").await?;
                    println!("project id: {}", project.id);
                    println!("api key:    {}", key.serialized);
                    println!();
                    println!("Create an access grant with:");
                    let url = satellite_url(&config)
                        .map(|u| u.to_string())
                        .unwrap_or_else(|_| "<satellite id@address>".into());
                    println!(
                        "  uplink access create --satellite {url} --api-key {} --passphrase <passphrase>",
                        key.serialized
                    );
                }
                AdminAction::CreateApiKey { project, name } => {
                    let key = satellite::admin::create_api_key(&db, &project, &name).await?;
                    println!("{}", key.serialized);
                }
                AdminAction::Nodes { json } => {
                    let window = config.node_online_window.as_secs() as i64;
                    let nodes = satellite::operators::nodes(&db, window).await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&nodes)?);
                    } else {
                        println!(
                            "{:<14} {:<22} {:>10} {:>7} {:>7} {:>7} {:>6}  id",
                            "status", "address", "free", "audit", "unknown", "audits", "failed"
                        );
                        for n in &nodes {
                            println!(
                                "{:<14} {:<22} {:>10} {:>7.3} {:>7.3} {:>7} {:>6}  {}",
                                n.status(),
                                n.address,
                                uplink_core::units::format_size(n.free_bytes),
                                n.audit_score,
                                n.unknown_score,
                                n.audits_total,
                                n.audits_failed,
                                n.id
                            );
                        }
                        println!("{} nodes", nodes.len());
                    }
                }
                AdminAction::Repair { json } => {
                    let r = satellite::operators::repair(&db).await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&r)?);
                    } else {
                        println!("repair queue:        {} segments", r.queue_length);
                        println!("repaired last hour:  {}", r.repaired_last_hour);
                        println!("lost segments:       {}", r.lost_segments);
                        for s in &r.lost_samples {
                            println!("  lost: {s}");
                        }
                        match r.last_pass_at {
                            Some(t) => println!(
                                "last checker pass:   {t} (unix), {:.0} segments/s",
                                r.last_pass_segments_per_second.unwrap_or(0.0)
                            ),
                            None => println!("last checker pass:   none yet"),
                        }
                        println!("segments by healthy pieces:");
                        for (healthy, count) in &r.segments_by_healthy {
                            println!("  {healthy:>3}: {count}");
                        }
                    }
                }
                AdminAction::SetAdmin { email, revoke } => {
                    let user = satellite::admin::set_admin(&db, &email, !revoke).await?;
                    if user.is_admin {
                        println!("{} is an administrator", user.email);
                    } else {
                        println!("{} is no longer an administrator", user.email);
                    }
                }
                AdminAction::ListProjects => {
                    for p in satellite::admin::list_projects(&db).await? {
                        println!("{}  {}", p.id, p.name);
                    }
                }
                AdminAction::SetLimits {
                    project,
                    buckets,
                    storage,
                    egress,
                    segments,
                    requests_per_second,
                } => {
                    let update = satellite::admin::LimitsUpdate {
                        buckets,
                        storage_bytes: storage,
                        egress_bytes: egress,
                        segments,
                        requests_per_second,
                    };
                    let p = satellite::admin::set_limits(&db, &project, update).await?;
                    let limits =
                        satellite::accounting::effective_limits(&p, &config.default_limits);
                    println!("limits of project {}:", p.id);
                    println!("  buckets:             {}", limits.buckets);
                    println!(
                        "  storage:             {}",
                        uplink_core::units::format_size(limits.storage_bytes)
                    );
                    println!(
                        "  egress per month:    {}",
                        uplink_core::units::format_size(limits.egress_bytes)
                    );
                    println!("  segments:            {}", limits.segments);
                    println!("  requests per second: {}", limits.requests_per_second);
                }
            }
        }
    }
    Ok(())
}
