//! `node-sim`: run a local network, run nodes against a satellite, or benchmark.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use node_sim::node::{StorageBackend, StorageNode};
use node_sim::sim::bench::{BenchConfig, run as run_bench};
use node_sim::sim::faults::{ControlServer, ControlToken, FaultPlan};
use node_sim::sim::load::{self, LoadConfig, Mix, SizeRange};
use node_sim::sim::network::node_config;
use node_sim::sim::{Network, NetworkConfig};
use uplink_core::access::AccessGrant;
use uplink_core::protocol::NodeUrl;
use uplink_core::protocol::identity::write_private_file;
use uplink_core::transport::{Mode, Transport};
use uplink_core::units::parse_size;

#[derive(Parser)]
#[command(name = "node-sim", version, about = "Storage nodes and local networks")]
struct Cli {
    /// Serve and dial plain HTTP instead of TLS, for loopback development only: API
    /// keys and order limits then travel in clear. Uplinks then need `--plain-http` too.
    #[arg(long, global = true, env = "UPLINK_PLAIN_HTTP")]
    plain_http: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Local networks.
    Network {
        #[command(subcommand)]
        action: NetworkAction,
    },
    /// Run nodes FIRST..FIRST+COUNT-1 against a satellite running elsewhere.
    Nodes {
        /// The satellite: <id>@<host>:<port> (or host:port to trust whatever answers).
        #[arg(long)]
        satellite: String,
        #[arg(long, default_value_t = 10)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        first: usize,
        #[arg(long, default_value = "local-network")]
        dir: PathBuf,
        /// Port of every node (each node has its own IP, 127.0.i.1).
        #[arg(long, default_value_t = 7778)]
        port: u16,
        /// Space each node offers, in GiB.
        #[arg(long, default_value_t = 1024)]
        capacity_gib: u64,
    },
    /// Upload and download a generated object through a local network and report
    /// throughput and the uplink's peak memory.
    Bench {
        /// Object size, e.g. 1GiB or 256MiB.
        #[arg(long, default_value = "1GiB")]
        size: String,
        #[arg(long, default_value_t = 10)]
        nodes: usize,
        /// Erasure scheme k/repair/optimal/total.
        #[arg(long, default_value = "4/6/8/10")]
        redundancy: String,
        /// Working directory (default: a temporary one).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The uplink binary (default: next to this one).
        #[arg(long)]
        uplink: Option<PathBuf>,
        /// Segment size passed to the uplink, e.g. 64MiB.
        #[arg(long)]
        segment_size: Option<String>,
        /// fsync every piece on the nodes (as production nodes do).
        #[arg(long)]
        sync: bool,
    },
    /// Run many concurrent clients against a running satellite: uploads, downloads and
    /// range reads (each compared byte for byte), listings and deletes; report ops/s,
    /// latencies, errors by kind and mismatches. Exits non-zero on any error or mismatch.
    Load(LoadArgs),
    /// See, restore or empty the trash of a stopped node: the pieces garbage collection
    /// moved aside.
    Trash {
        #[command(subcommand)]
        action: TrashAction,
    },
    /// Ask the satellite to let a node leave gracefully: it gets no new pieces, its
    /// pieces move to other nodes while it keeps serving them, and the answer says when
    /// it may shut down. Run it again (or with --status) to follow the progress.
    Exit {
        /// The node's data directory (holds its identity).
        #[arg(long)]
        dir: PathBuf,
        /// The satellite: <id>@<host>:<port>.
        #[arg(long)]
        satellite: String,
        /// Only report how the exit stands; do not start one.
        #[arg(long)]
        status: bool,
        /// Keep asking every 10 seconds until the node may shut down.
        #[arg(long)]
        wait: bool,
    },
    /// Durability under node churn by the satellite's repair rules: segment loss
    /// probability over years, repair traffic per stored byte, repair queue depth.
    Durability(node_sim::sim::durability::cli::DurabilityArgs),
    /// How fast the satellite keeps objects: repair throughput (MB/s of segment data
    /// brought back to full redundancy) and audits per second, on a local network,
    /// with CPU seconds beside them; medians of several runs.
    BenchKeeping(node_sim::sim::bench_keeping::KeepingArgs),
}

#[derive(Subcommand)]
enum TrashAction {
    /// Pieces and bytes in trash, per satellite.
    List(TrashTarget),
    /// Move trashed pieces back into service.
    Restore(TrashTarget),
    /// Remove trashed pieces for good, freeing their space.
    Empty {
        #[command(flatten)]
        target: TrashTarget,
        /// Only what has been in trash at least this long, e.g. 3days (default: all).
        #[arg(long, value_parser = humantime::parse_duration)]
        older_than: Option<std::time::Duration>,
    },
}

#[derive(clap::Args)]
struct TrashTarget {
    /// The data directory of the (stopped) node.
    #[arg(long)]
    dir: PathBuf,
    /// Only this satellite's trash (default: every satellite's).
    #[arg(long)]
    satellite: Option<uplink_core::protocol::NodeId>,
}

/// `node-sim trash ...` on the disk store of a stopped node.
async fn run_trash(action: TrashAction) -> Result<()> {
    use node_sim::node::error::fmt_unix;
    use node_sim::node::trash_admin;
    let target = match &action {
        TrashAction::List(t) | TrashAction::Restore(t) => t,
        TrashAction::Empty { target, .. } => target,
    };
    let store = trash_admin::open_node_store(&target.dir)
        .with_context(|| format!("opening the pieces of {}", target.dir.display()))?;
    let only = target.satellite;
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    let (verb, results) = match action {
        TrashAction::List(_) => {
            let listed = trash_admin::list(&store, only).await?;
            let (mut pieces, mut bytes) = (0, 0);
            for t in &listed {
                let when = match (t.oldest, t.newest) {
                    (Some(o), Some(n)) => format!(", trashed {} .. {}", fmt_unix(o), fmt_unix(n)),
                    _ => String::new(),
                };
                println!(
                    "satellite {}: {} pieces, {} bytes ({:.1} MiB){when}",
                    t.satellite,
                    t.pieces,
                    t.bytes,
                    mib(t.bytes)
                );
                pieces += t.pieces;
                bytes += t.bytes;
            }
            println!(
                "total: {pieces} pieces, {bytes} bytes ({:.1} MiB) in trash",
                mib(bytes)
            );
            return Ok(());
        }
        TrashAction::Restore(_) => ("restored", trash_admin::restore(&store, only).await?),
        TrashAction::Empty { older_than, .. } => {
            let before = match older_than {
                Some(d) => uplink_core::protocol::now_unix()
                    .saturating_sub(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
                None => i64::MAX,
            };
            ("removed", trash_admin::empty(&store, only, before).await?)
        }
    };
    let (mut pieces, mut bytes) = (0, 0);
    for (satellite, t) in &results {
        println!(
            "satellite {satellite}: {verb} {} pieces, {} bytes ({:.1} MiB)",
            t.pieces,
            t.bytes,
            mib(t.bytes)
        );
        pieces += t.pieces;
        bytes += t.bytes;
    }
    println!(
        "total: {verb} {pieces} pieces, {bytes} bytes ({:.1} MiB)",
        mib(bytes)
    );
    Ok(())
}

#[derive(clap::Args)]
struct LoadArgs {
    /// Access grant: a name saved by `uplink access` or a serialized grant (default:
    /// $UPLINK_ACCESS, then the uplink's default saved access).
    #[arg(long)]
    access: Option<String>,
    /// Where the uplink keeps saved access grants.
    #[arg(long, env = "UPLINK_CONFIG_DIR")]
    config_dir: Option<PathBuf>,
    /// Concurrent clients, each with its own connections.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// How long clients keep starting operations, e.g. 60s or 5m.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    duration: std::time::Duration,
    /// Weights of put, get, range, list and delete; without `range`, a quarter of
    /// get's weight goes to range reads.
    #[arg(long, default_value = "put=40,get=40,list=15,delete=5")]
    mix: Mix,
    /// Object sizes, MIN..MAX (drawn log-uniformly) or one size.
    #[arg(long, default_value = "1KiB..8MiB")]
    sizes: SizeRange,
    /// Bucket to write into (created if missing).
    #[arg(long, default_value = "load")]
    bucket: String,
    /// Seed of every client's operations and every object's contents (default: random,
    /// printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Delete what the run wrote at the end (and the bucket, if the run created it).
    #[arg(long)]
    cleanup: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum NetworkAction {
    /// Start a satellite and N nodes, and run until interrupted.
    ///
    /// Node i listens on 127.0.i.1. Each node is reached through a link (a TCP forwarder
    /// on its advertised address, and another for its check-ins) and runs on a wrapped
    /// piece store, so faults can be injected per node while the network runs: offline,
    /// slow (latency and bandwidth per direction), refusing uploads, disk full,
    /// corrupting or losing a share of its pieces; and churn, nodes leaving for good and
    /// new ones joining over time.
    ///
    /// --faults FILE applies a plan (TOML, or JSON if FILE ends in .json) at start and
    /// runs its churn schedule:
    ///
    ///   [nodes.3]
    ///   offline = true
    ///   [nodes.5]
    ///   slow = { latency = "150ms", bandwidth = "256KiB" }
    ///   [nodes.6]
    ///   corrupt = { share = 0.1, seed = 7, on = "read" }
    ///   [churn]
    ///   leave_per_hour = 2
    ///   join_per_hour = 2
    ///   seed = 42
    ///
    /// --control ADDR serves a control API there (loopback only): GET /faults,
    /// GET|PUT|POST|DELETE /faults/<i> with a node's faults as JSON
    /// (e.g. {"offline": true}), GET /counts. Every request needs
    /// `Authorization: Bearer <token>`; the token is written to DIR/control.token
    /// (mode 0600) and its path printed at start.
    #[command(verbatim_doc_comment)]
    Up {
        #[arg(long, default_value_t = 10)]
        nodes: usize,
        #[arg(long, default_value = "local-network")]
        dir: PathBuf,
        /// Satellite address.
        #[arg(long, default_value = "127.0.0.1:7777")]
        satellite_addr: String,
        /// Port of every node (each node has its own IP, 127.0.i.1).
        #[arg(long, default_value_t = 7778)]
        node_port: u16,
        /// Erasure scheme k/repair/optimal/total.
        #[arg(long, default_value = "4/6/8/10")]
        redundancy: String,
        /// The satellite's database: SQLite under DIR unless a `postgres://` URL is given.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// Redis for the satellite's shared caches.
        #[arg(long, env = "REDIS_URL", hide_env_values = true)]
        redis_url: Option<String>,
        /// Fault plan to apply at start: faults per node index and a churn schedule
        /// (TOML, or JSON if the name ends in .json).
        #[arg(long, value_name = "FILE")]
        faults: Option<PathBuf>,
        /// Serve the fault control API on this loopback address, e.g. 127.0.0.1:7779.
        #[arg(long, value_name = "ADDR")]
        control: Option<SocketAddr>,
    },
}

/// Where the satellite of `network up` keeps its state.
struct Stores {
    database_url: Option<String>,
    redis_url: Option<String>,
}

/// How `network up` injects faults.
struct FaultArgs {
    plan: Option<PathBuf>,
    control: Option<SocketAddr>,
}

const GRANT_FILE: &str = "access.grant";
const API_KEY_FILE: &str = "api-key";
const CONTROL_TOKEN_FILE: &str = "control.token";

/// Where and how big the network of `network up` is.
struct Layout {
    nodes: usize,
    dir: PathBuf,
    satellite_addr: String,
    node_port: u16,
    redundancy: String,
}

async fn network_up(layout: Layout, stores: Stores, faults: FaultArgs, mode: Mode) -> Result<()> {
    let Layout {
        nodes,
        dir,
        satellite_addr,
        node_port,
        redundancy,
    } = layout;
    // A bad plan stops everything before anything starts.
    let plan = match &faults.plan {
        Some(path) => FaultPlan::load(path)?,
        None => FaultPlan::default(),
    };
    let mut config = NetworkConfig::new(&dir, nodes);
    config.faults = plan;
    config.satellite.plain_http = mode == Mode::PlainHttp;
    config.satellite_listen = satellite_addr;
    config.node_port = node_port;
    config.satellite.redundancy = redundancy;
    config.satellite.database_url = stores.database_url;
    config.satellite.redis_url = stores.redis_url;
    config.sync_writes = true;
    let mut network = Network::start(config).await?;
    let grant_path = dir.join(GRANT_FILE);
    let grant = match std::fs::read_to_string(&grant_path) {
        Ok(text) => AccessGrant::parse(&text)
            .with_context(|| format!("{} is not a valid grant", grant_path.display()))?,
        Err(_) => {
            let grant = network.create_access("local").await?;
            write_private_file(&grant_path, grant.serialize().as_bytes())
                .with_context(|| format!("writing {}", grant_path.display()))?;
            // The bare API key too, for `uplink access create` with a passphrase.
            let key_path = dir.join(API_KEY_FILE);
            write_private_file(&key_path, grant.api_key.serialize().as_bytes())
                .with_context(|| format!("writing {}", key_path.display()))?;
            grant
        }
    };
    let last_ip = format!("127.0.{nodes}.1");
    println!("Local network is up.");
    println!("  satellite  {}", network.satellite_url());
    println!(
        "  nodes      {nodes} (127.0.1.1 ... {last_ip}), data under {}",
        dir.display()
    );
    println!(
        "  metrics    http://{}/metrics",
        network.satellite_url().address
    );
    if let Some(s3) = network.satellite.edge_s3_url() {
        println!("  S3         {s3} (hosted gateway; `uplink access register` for keys)");
    }
    if let Some(links) = network.satellite.edge_links_url() {
        println!("  links      {links} (`uplink share --url sj://bucket/key`)");
    }
    let control = match faults.control {
        Some(listen) => Some(start_control(&network, listen, &dir)?),
        None => None,
    };
    for (index, spec) in &network.config.faults.nodes {
        println!(
            "  faults     node {index}: {}",
            serde_json::to_string(spec)?
        );
    }
    if let Some(churn) = &network.config.faults.churn {
        println!("  churn      {}", serde_json::to_string(churn)?);
    }
    println!();
    println!(
        "An access grant for project \"local\" is in {}.",
        grant_path.display()
    );
    println!("Use it with the uplink CLI:");
    println!("  export UPLINK_ACCESS=$(cat {})", grant_path.display());
    println!("  cargo run -q --release --bin uplink -- mb sj://demo");
    println!("  cargo run -q --release --bin uplink -- cp ./some-file sj://demo/some-file");
    println!("  cargo run -q --release --bin uplink -- ls sj://demo");
    println!("  cargo run -q --release --bin uplink -- cp sj://demo/some-file ./copy");
    println!();
    println!();
    println!("Or make your own grant with a passphrase from the project's API key:");
    println!(
        "  cargo run -q --release --bin uplink -- access create --satellite {} --api-key $(cat {}) --passphrase <words>",
        grant.satellite,
        dir.join(API_KEY_FILE).display()
    );
    println!();
    println!("Press Ctrl-C to stop; run the same command again to restart with all data.");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        satellite::signals::shutdown().await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    network
        .run_churn(stopped(stop_rx.clone()), |event, outcome| match outcome {
            Ok(outcome) => println!(
                "churn at {}: {outcome}",
                humantime::format_duration(event.at)
            ),
            Err(e) => eprintln!(
                "churn at {}: {:?} failed: {e}",
                humantime::format_duration(event.at),
                event.action
            ),
        })
        .await;
    stopped(stop_rx).await;
    eprintln!("stopping ...");
    if let Some(control) = control {
        control.stop().await;
    }
    network.stop().await;
    Ok(())
}

/// Serves the fault control API on `listen`, with a fresh token in `dir`.
fn start_control(
    network: &Network,
    listen: SocketAddr,
    dir: &std::path::Path,
) -> Result<ControlServer> {
    let token = ControlToken::random();
    let token_path = dir.join(CONTROL_TOKEN_FILE);
    token.write_to(&token_path)?;
    let server = ControlServer::start(listen, network.fault_registry(), token)?;
    println!(
        "  control    http://{}/faults (token in {})",
        server.address(),
        token_path.display()
    );
    println!(
        "             curl -H \"Authorization: Bearer $(cat {})\" -X PUT -d '{{\"offline\": true}}' http://{}/faults/3",
        token_path.display(),
        server.address()
    );
    Ok(server)
}

async fn resolve_satellite(s: &str, mode: Mode) -> Result<NodeUrl> {
    if s.contains('@') {
        return s
            .parse()
            .context("--satellite must look like <id>@<host>:<port>");
    }
    // Trust on first use: ask the satellite for its id, and say so.
    let url = uplink_core::client::discover_satellite(&Transport::shared(mode), s).await?;
    eprintln!("trusting satellite {url} (pass --satellite {url} to pin it)");
    Ok(url)
}

async fn run_nodes(
    satellite: String,
    count: usize,
    first: usize,
    dir: PathBuf,
    port: u16,
    capacity_gib: u64,
    mode: Mode,
) -> Result<()> {
    if count == 0 {
        bail!("--count must be at least 1");
    }
    let satellite = resolve_satellite(&satellite, mode).await?;
    let mut net = NetworkConfig::new(&dir, count);
    net.satellite.plain_http = mode == Mode::PlainHttp;
    net.node_port = port;
    net.node_capacity = capacity_gib << 30;
    net.storage = StorageBackend::Disk;
    net.sync_writes = true;
    let mut running = Vec::new();
    for index in first..first + count {
        let config = node_config(&net, index, &satellite)?;
        let node = StorageNode::start(config)
            .await
            .with_context(|| format!("starting node {index}"))?;
        println!("node {index}: {} at {}", node.id(), node.address());
        running.push(node);
    }
    println!("{count} nodes running against {satellite}; press Ctrl-C to stop.");
    satellite::signals::shutdown().await;
    for node in running {
        node.stop().await;
    }
    Ok(())
}

async fn run_load(args: LoadArgs, mode: Mode) -> Result<()> {
    let config_dir = load::config_dir(args.config_dir.as_deref());
    let access = load::resolve_access(args.access.as_deref(), config_dir.as_deref())?;
    let seed = args.seed.unwrap_or_else(load::random_seed);
    let mut config = LoadConfig::new(access);
    config.bucket = args.bucket;
    config.clients = args.clients;
    config.duration = args.duration;
    config.mix = args.mix;
    config.sizes = args.sizes;
    config.seed = seed;
    config.cleanup = args.cleanup;
    config.client.transport = mode;
    if std::io::stderr().is_terminal() {
        config.progress_every = Some(std::time::Duration::from_secs(5));
    }
    eprintln!(
        "load: {} clients for {} against {}, seed {seed}",
        config.clients,
        humantime::format_duration(config.duration),
        config.access.satellite
    );
    let report = load::run(config).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    if !report.is_clean() {
        eprintln!(
            "load: {} errors and {} mismatches",
            report.error_count, report.mismatches
        );
        std::process::exit(1);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let mode = Mode::from_plain_http(cli.plain_http);
    match cli.command {
        Command::Network {
            action:
                NetworkAction::Up {
                    nodes,
                    dir,
                    satellite_addr,
                    node_port,
                    redundancy,
                    database_url,
                    redis_url,
                    faults,
                    control,
                },
        } => {
            let stores = Stores {
                database_url,
                redis_url,
            };
            let faults = FaultArgs {
                plan: faults,
                control,
            };
            let layout = Layout {
                nodes,
                dir,
                satellite_addr,
                node_port,
                redundancy,
            };
            network_up(layout, stores, faults, mode).await
        }
        Command::Nodes {
            satellite,
            count,
            first,
            dir,
            port,
            capacity_gib,
        } => run_nodes(satellite, count, first, dir, port, capacity_gib, mode).await,
        Command::Bench {
            size,
            nodes,
            redundancy,
            dir,
            uplink,
            segment_size,
            sync,
        } => {
            let size = parse_size(&size).map_err(anyhow::Error::msg)?;
            let tmp;
            let dir = match dir {
                Some(d) => d,
                None => {
                    tmp = tempfile::tempdir_in(std::env::current_dir()?)?;
                    tmp.path().to_path_buf()
                }
            };
            let uplink = match uplink {
                Some(u) => u,
                None => std::env::current_exe()?
                    .parent()
                    .context("no directory for this binary")?
                    .join("uplink"),
            };
            let report = run_bench(BenchConfig {
                size,
                nodes,
                dir,
                uplink,
                redundancy: redundancy.clone(),
                segment_size: segment_size
                    .map(|s| parse_size(&s).map_err(anyhow::Error::msg))
                    .transpose()?,
                sync_writes: sync,
                transport: mode,
            })
            .await?;
            let mib = |b: u64| b as f64 / (1 << 20) as f64;
            println!(
                "object {:.0} MiB, RS {redundancy}, {nodes} nodes (all on this machine)",
                mib(size)
            );
            println!(
                "upload:   {:8.1} MB/s  ({:.2}s)  uplink peak memory {:.0} MiB",
                report.upload.mb_per_sec(),
                report.upload.seconds,
                mib(report.upload.peak_rss_bytes)
            );
            println!(
                "download: {:8.1} MB/s  ({:.2}s)  uplink peak memory {:.0} MiB",
                report.download.mb_per_sec(),
                report.download.seconds,
                mib(report.download.peak_rss_bytes)
            );
            Ok(())
        }
        Command::Load(args) => run_load(args, mode).await,
        Command::Trash { action } => run_trash(action).await,
        Command::Exit {
            dir,
            satellite,
            status,
            wait,
        } => run_exit(dir, satellite, status, wait, mode).await,
        Command::Durability(args) => {
            print!("{}", node_sim::sim::durability::cli::execute(&args)?);
            Ok(())
        }
        Command::BenchKeeping(args) => {
            print!(
                "{}",
                node_sim::sim::bench_keeping::execute(&args, mode).await?
            );
            Ok(())
        }
    }
}

async fn run_exit(
    dir: PathBuf,
    satellite: String,
    status: bool,
    wait: bool,
    mode: Mode,
) -> Result<()> {
    use node_sim::node::exit::request_exit;
    let path = dir.join(node_sim::node::IDENTITY_FILE);
    if !path.exists() {
        bail!(
            "{} holds no node identity ({} is missing)",
            dir.display(),
            path.display()
        );
    }
    let identity = uplink_core::protocol::Identity::load_or_create(&path, 0)
        .with_context(|| format!("reading {}", path.display()))?;
    let satellite: NodeUrl = satellite
        .parse()
        .context("--satellite must look like <id>@<host>:<port>")?;
    let transport = Transport::shared(mode);
    let mut start = !status;
    loop {
        let answer = request_exit(&identity, &satellite, &transport, start).await?;
        start = false;
        println!(
            "node {}: {:?}{} - {}",
            identity.node_id(),
            answer.state,
            answer
                .pieces_remaining
                .map(|n| format!(", {n} pieces left"))
                .unwrap_or_default(),
            answer.message
        );
        if answer.may_shut_down || !wait {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    }
}
