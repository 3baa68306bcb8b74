//! `uplink`: the command line client of the storage network.

mod access;
mod config;
mod copy;
mod objects;
mod paths;
mod progress;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use uplink_core::client::{ByteRange, ClientConfig, Project};
use uplink_core::units::parse_size;

use crate::config::ConfigDir;

#[derive(Parser)]
#[command(
    name = "uplink",
    version,
    about = "Store and fetch objects on the storage network"
)]
struct Cli {
    /// Access grant to use: a saved name or a serialized grant (default: $UPLINK_ACCESS,
    /// then the default saved access).
    #[arg(long, global = true)]
    access: Option<String>,
    /// Where saved access grants live.
    #[arg(long, global = true, env = "UPLINK_CONFIG_DIR")]
    config_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create, import and inspect access grants.
    #[command(subcommand)]
    Access(access::AccessCommand),
    /// Make a bucket.
    Mb { bucket: String },
    /// Remove a bucket.
    Rb {
        bucket: String,
        /// Delete the bucket's objects too.
        #[arg(long)]
        force: bool,
    },
    /// List buckets, or objects under sj://bucket/prefix.
    Ls {
        url: Option<String>,
        /// List everything under the prefix, not just one level.
        #[arg(long, short)]
        recursive: bool,
    },
    /// Copy between local files (or - for stdin/stdout) and sj://bucket/key.
    Cp {
        source: String,
        destination: String,
        /// Only bytes START-END (inclusive), START- or -LENGTH of the source.
        #[arg(long)]
        range: Option<String>,
        /// Make the uploaded object expire: a duration like +24h, or an RFC 3339 time.
        #[arg(long)]
        expires: Option<String>,
        /// Content type to record with the object.
        #[arg(long)]
        content_type: Option<String>,
        /// No progress bar or summary.
        #[arg(long, short)]
        quiet: bool,
        /// Print throughput and peak memory on stderr when done.
        #[arg(long)]
        stats: bool,
        /// Plaintext bytes per segment, e.g. 64MiB (at most the satellite's maximum).
        #[arg(long)]
        segment_size: Option<String>,
    },
    /// Remove an object (or, with --recursive, everything under a prefix).
    Rm {
        url: String,
        #[arg(long, short)]
        recursive: bool,
    },
}

fn parse_expires(s: &str) -> Result<i64> {
    let now = uplink_core::protocol::now_unix();
    let rel = s.strip_prefix('+').unwrap_or(s);
    if let Ok(d) = humantime::parse_duration(rel) {
        return Ok(now + d.as_secs() as i64);
    }
    let t = humantime::parse_rfc3339_weak(s)
        .with_context(|| format!("--expires {s:?} is neither a duration like +24h nor a time"))?;
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if secs <= now {
        bail!("--expires {s:?} is in the past");
    }
    Ok(secs)
}

fn open_project(config: &ConfigDir, access: Option<&str>, client: ClientConfig) -> Result<Project> {
    let grant = config.resolve(access)?;
    Ok(Project::open(grant, client)?)
}

async fn run(cli: Cli) -> Result<()> {
    let config = ConfigDir::new(cli.config_dir.clone())?;
    let access = cli.access.as_deref();
    match cli.command {
        Command::Access(cmd) => access::run(cmd, &config, access).await,
        Command::Mb { bucket } => {
            let project = open_project(&config, access, ClientConfig::default())?;
            objects::make_bucket(&project, &bucket).await
        }
        Command::Rb { bucket, force } => {
            let project = open_project(&config, access, ClientConfig::default())?;
            objects::remove_bucket(&project, &bucket, force).await
        }
        Command::Ls { url, recursive } => {
            let project = open_project(&config, access, ClientConfig::default())?;
            objects::list(&project, url.as_deref(), recursive).await
        }
        Command::Rm { url, recursive } => {
            let project = open_project(&config, access, ClientConfig::default())?;
            objects::remove(&project, &url, recursive).await
        }
        Command::Cp {
            source,
            destination,
            range,
            expires,
            content_type,
            quiet,
            stats,
            segment_size,
        } => {
            let range = range.map(|r| r.parse::<ByteRange>()).transpose()?;
            let expires_at = expires.map(|e| parse_expires(&e)).transpose()?;
            let mut client = ClientConfig::default();
            if let Some(s) = segment_size {
                client.segment_size = parse_size(&s).map_err(anyhow::Error::msg)?;
            }
            let project = open_project(&config, access, client)?;
            copy::copy(
                &project,
                &source,
                &destination,
                copy::CopyOptions {
                    range,
                    expires_at,
                    content_type,
                    quiet,
                    stats,
                },
            )
            .await
        }
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("UPLINK_LOG")
                .unwrap_or_else(|_| "error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
