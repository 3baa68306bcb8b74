//! `uplink`: the command line client of the storage network.

mod access;
mod config;
mod copy;
mod gateway;
mod interrupt;
mod objects;
mod paths;
mod progress;
mod recursive;
mod restrict_flags;
mod share;
mod times;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use uplink_core::client::{ByteRange, ClientConfig, Project, UplinkError};
use uplink_core::transport::Mode;
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
    /// Speak plain HTTP instead of TLS, to a network run that way for loopback
    /// development only: the API key and order limits then travel in clear.
    #[arg(long, global = true, env = "UPLINK_PLAIN_HTTP")]
    plain_http: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create, import, inspect, restrict and revoke access grants.
    #[command(subcommand)]
    Access(access::AccessCommand),
    /// Share part of your access: derive a narrower grant offline, without asking the
    /// satellite. Flags only take permissions away.
    Share {
        #[command(flatten)]
        restrict: restrict_flags::RestrictFlags,
        /// Write the grant to FILE (readable only by you) instead of printing it.
        #[arg(long, value_name = "FILE", conflicts_with = "url")]
        export_to: Option<PathBuf>,
        /// Make a public, read-only link (https://.../s/...) to one object or prefix
        /// instead of a grant: anyone with the link can read it, through the
        /// satellite's link service, until --not-after or revocation.
        #[arg(long)]
        url: bool,
        /// With --url: the link serves only the object's current content (its SHA-256).
        #[arg(long, requires = "url")]
        pin: bool,
        /// The auth service's address (host:port) where the satellite's edge role runs
        /// apart from it (`satellite run --roles edge`); it must present the satellite's
        /// identity. Default: the satellite's own address.
        #[arg(
            long,
            requires = "url",
            value_name = "ADDRESS",
            env = "UPLINK_AUTH_SERVICE"
        )]
        auth_service: Option<String>,
        /// What to share: sj://bucket or sj://bucket/prefix/ (default: everything the
        /// current grant reaches).
        paths: Vec<String>,
    },
    /// Make a bucket.
    Mb {
        bucket: String,
        /// Keep object names in clear (content and metadata stay encrypted): for names
        /// that are public anyway, such as an NFT collection or a public dataset. The
        /// satellite then lists them exactly as S3 does; it cannot be undone.
        #[arg(long)]
        plain_names: bool,
    },
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
        /// Copy a whole directory or prefix (directory to sj://, sj:// to directory,
        /// or sj:// to sj://).
        #[arg(long, short, conflicts_with = "range")]
        recursive: bool,
        /// With --recursive: objects in flight at once (each has its own buffers).
        #[arg(long, short, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
        parallelism: u16,
    },
    /// Move (rename) an object within or between buckets, on the satellite.
    Mv { source: String, destination: String },
    /// Serve S3 on this machine over your grant (encryption stays here).
    Gateway(gateway::GatewayArgs),
    /// Remove an object (or, with --recursive, everything under a prefix).
    Rm {
        url: String,
        #[arg(long, short)]
        recursive: bool,
    },
}

/// When an upload is refused by a grant with a maximum object TTL and `--expires` was
/// missing or too late, says how to fix the command (the satellite's message names the
/// limit but cannot know about command line flags).
fn explain_upload_refusal(
    err: anyhow::Error,
    project: &Project,
    destination: &str,
    expires_at: Option<i64>,
) -> anyhow::Error {
    let uploading = matches!(
        paths::Location::parse(destination),
        Ok(paths::Location::Remote { .. })
    );
    let refused = matches!(
        err.downcast_ref::<UplinkError>(),
        Some(UplinkError::PermissionDenied(_))
    );
    let Some(effective) = project
        .access()
        .api_key
        .caveats()
        .ok()
        .map(|c| restrict_flags::Effective::of(&c))
    else {
        return err;
    };
    match effective.max_object_ttl {
        Some(ttl) if uploading && refused && effective.writes => {
            let limit = uplink_core::protocol::now_unix()
                .saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX));
            if expires_at.is_none_or(|e| e > limit) {
                let ttl = times::show_duration(ttl).replace(' ', "");
                return anyhow::anyhow!(
                    "{err:#}\n(pass --expires with a time within that, e.g. --expires +{ttl})"
                );
            }
            err
        }
        _ => err,
    }
}

fn open_project(config: &ConfigDir, access: Option<&str>, client: ClientConfig) -> Result<Project> {
    let grant = config.resolve(access)?;
    Ok(Project::open(grant, client)?)
}

async fn run(cli: Cli) -> Result<()> {
    let config = ConfigDir::new(cli.config_dir.clone())?;
    let access = cli.access.as_deref();
    let base = ClientConfig {
        transport: Mode::from_plain_http(cli.plain_http),
        ..ClientConfig::default()
    };
    match cli.command {
        Command::Access(cmd) => access::run(cmd, &config, access, &base).await,
        Command::Share {
            restrict,
            export_to,
            url,
            pin,
            auth_service,
            paths,
        } => {
            let grant = config.resolve(access)?;
            if url {
                let [path] = paths.as_slice() else {
                    anyhow::bail!("a link names one object or prefix: give exactly one sj:// path");
                };
                share::share_url(&grant, &restrict, path, pin, auth_service.as_deref(), &base).await
            } else {
                share::share(&grant, &restrict, &paths, export_to.as_deref(), &base).await
            }
        }
        Command::Mb {
            bucket,
            plain_names,
        } => {
            let project = open_project(&config, access, base.clone())?;
            objects::make_bucket(&project, &bucket, plain_names).await
        }
        Command::Rb { bucket, force } => {
            let project = open_project(&config, access, base.clone())?;
            objects::remove_bucket(&project, &bucket, force).await
        }
        Command::Ls { url, recursive } => {
            let project = open_project(&config, access, base.clone())?;
            objects::list(&project, url.as_deref(), recursive).await
        }
        Command::Mv {
            source,
            destination,
        } => {
            let project = open_project(&config, access, base.clone())?;
            copy::move_object(&project, &source, &destination).await
        }
        Command::Gateway(args) => {
            let project = open_project(&config, access, base.clone())?;
            gateway::run(project, args).await
        }
        Command::Rm { url, recursive } => {
            let project = open_project(&config, access, base.clone())?;
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
            recursive,
            parallelism,
        } => {
            let range = range.map(|r| r.parse::<ByteRange>()).transpose()?;
            let expires_at = expires
                .map(|e| times::parse_future_time("--expires", &e))
                .transpose()?;
            let mut client = base.clone();
            if let Some(s) = segment_size {
                client.segment_size = parse_size(&s).map_err(anyhow::Error::msg)?;
            }
            let project = open_project(&config, access, client)?;
            if recursive {
                if content_type.is_some() {
                    anyhow::bail!("--content-type names one object's type; not with --recursive");
                }
                return recursive::copy_recursive(
                    &project,
                    &source,
                    &destination,
                    recursive::RecursiveOptions {
                        parallelism: parallelism.into(),
                        expires_at,
                        quiet,
                    },
                )
                .await;
            }
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
            .map_err(|e| explain_upload_refusal(e, &project, &destination, expires_at))
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
    let command = run(cli);
    tokio::pin!(command);
    let result = tokio::select! {
        r = &mut command => r,
        _ = tokio::signal::ctrl_c() => {
            interrupt::trigger();
            // Let the command clean up (an upload aborts its pending object), briefly.
            match tokio::time::timeout(std::time::Duration::from_secs(10), &mut command).await {
                Ok(Err(e)) => eprintln!("error: {e:#}"),
                Ok(Ok(())) | Err(_) => eprintln!("error: interrupted"),
            }
            std::process::exit(130);
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
