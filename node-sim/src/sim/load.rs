//! A load generator: many independent clients against a running satellite, each
//! running a seeded random mix of uploads, downloads, range reads, listings and
//! deletes, with every byte read compared with what was written.
//!
//! It exists to show what one careful user on loopback cannot: races in the satellite's
//! database, leaks under churn, and data that comes back wrong only under contention.
//! The seed fixes each client's sequence of operations and every object's contents, so
//! a failing run can be repeated.

mod access;
mod client;
mod content;
mod registry;
mod report;
mod spec;
mod stats;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use uplink_core::access::AccessGrant;
use uplink_core::client::{ClientConfig, Project, UplinkError};

pub use access::{ACCESS_ENV, config_dir, resolve as resolve_access};
pub use content::{ContentReader, Mismatch, Verifier, expected_bytes};
pub use report::{LoadReport, OpReport};
pub use spec::{Mix, OpKind, SizeRange};
pub use stats::{ErrorGroup, error_kind};

use registry::Registry;
use stats::{Live, Tally};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    InvalidArgument(String),
    /// The run could not start: the satellite refused the grant or the bucket.
    #[error("{context}: {error}")]
    Setup { context: String, error: UplinkError },
}

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    pub access: AccessGrant,
    /// Created if missing.
    pub bucket: String,
    pub clients: usize,
    /// Clients start operations until this has passed; the last ones then complete.
    pub duration: Duration,
    pub mix: Mix,
    pub sizes: SizeRange,
    pub seed: u64,
    /// Delete what the run wrote (and the bucket, if the run created it) at the end.
    pub cleanup: bool,
    /// Every client's configuration.
    pub client: ClientConfig,
    /// Print a progress line to stderr this often.
    pub progress_every: Option<Duration>,
}

impl LoadConfig {
    /// The documented defaults, with a random seed.
    pub fn new(access: AccessGrant) -> Self {
        Self {
            access,
            bucket: "load".into(),
            clients: 8,
            duration: Duration::from_secs(60),
            mix: Mix::default(),
            sizes: SizeRange::new(1 << 10, 8 << 20).expect("valid default sizes"),
            seed: rand::thread_rng().next_u64(),
            cleanup: false,
            client: ClientConfig::default(),
            progress_every: None,
        }
    }
}

/// A prefix no earlier run used: the seed repeats contents, not keys.
fn run_prefix() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("load-{secs}-{:08x}/", rand::thread_rng().next_u32())
}

/// Runs the load and reports on it. Failed operations and mismatches are in the
/// report; an error here means the run could not start.
pub async fn run(config: LoadConfig) -> Result<LoadReport, LoadError> {
    if config.clients == 0 || config.clients > u32::MAX as usize {
        return Err(LoadError::InvalidArgument(
            "--clients must be at least 1".into(),
        ));
    }
    if config.duration.is_zero() {
        return Err(LoadError::InvalidArgument(
            "--duration must be longer than 0".into(),
        ));
    }
    let open = |what: &str| {
        Project::open(config.access.clone(), config.client.clone()).map_err(|error| {
            LoadError::Setup {
                context: what.to_string(),
                error,
            }
        })
    };
    let setup = open("opening the project")?;
    let created = match setup.create_bucket(&config.bucket).await {
        Ok(_) => true,
        Err(UplinkError::BucketExists(_)) => false,
        Err(error) => {
            return Err(LoadError::Setup {
                context: format!("creating bucket {:?}", config.bucket),
                error,
            });
        }
    };
    let mut projects = Vec::with_capacity(config.clients);
    for _ in 0..config.clients {
        projects.push(open("opening a client")?);
    }

    let started = Instant::now();
    let shared = Arc::new(client::Shared {
        bucket: config.bucket.clone(),
        prefix: run_prefix(),
        clients: config.clients as u32,
        mix: config.mix.clone(),
        sizes: config.sizes,
        deadline: tokio::time::Instant::now() + config.duration,
        registry: Arc::new(Registry::default()),
        live: Arc::new(Live::default()),
    });
    let progress = config
        .progress_every
        .map(|every| tokio::spawn(report_progress(shared.live.clone(), started, every)));
    let mut seeds = StdRng::seed_from_u64(config.seed);
    let tasks: Vec<_> = projects
        .into_iter()
        .enumerate()
        .map(|(i, project)| {
            let seed = seeds.next_u64();
            tokio::spawn(client::run(i as u32, seed, project, shared.clone()))
        })
        .collect();
    let mut tally = Tally::default();
    for (i, joined) in futures::future::join_all(tasks)
        .await
        .into_iter()
        .enumerate()
    {
        match joined {
            Ok(t) => tally.merge(t),
            Err(e) => tally.error("client", "panic".into(), format!("client {i}: {e}")),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    if let Some(p) = progress {
        p.abort();
    }

    let cleaned_up = if config.cleanup {
        Some(cleanup(&setup, &shared, created, &mut tally).await)
    } else {
        None
    };
    Ok(LoadReport::new(
        report::RunInfo {
            seed: config.seed,
            satellite: config.access.satellite.to_string(),
            bucket: config.bucket.clone(),
            prefix: shared.prefix.clone(),
            clients: config.clients,
            mix: config.mix.to_string(),
            sizes: config.sizes.to_string(),
            seconds,
            cleaned_up,
        },
        tally,
    ))
}

/// Deletes everything under the run's prefix, found by listing (so objects whose
/// upload or delete failed half-way go too), and the bucket if this run made it.
async fn cleanup(
    project: &Project,
    shared: &client::Shared,
    created: bool,
    tally: &mut Tally,
) -> u64 {
    let mut note = |what: &str, e: &UplinkError| {
        tally.error("cleanup", error_kind(e), format!("{what}: {e}"));
    };
    let entries = match project
        .list_objects(&shared.bucket, &shared.prefix, true)
        .await
    {
        Ok(entries) => entries,
        Err(e) => {
            note("listing the run's objects", &e);
            return 0;
        }
    };
    let mut deleted = 0;
    for entry in entries.iter().filter(|e| !e.is_prefix) {
        match project.delete_object(&shared.bucket, &entry.key).await {
            Ok(_) => deleted += 1,
            Err(e) => note(&format!("deleting {}", entry.key), &e),
        }
    }
    if created && let Err(e) = project.delete_bucket(&shared.bucket, false).await {
        note(&format!("deleting bucket {:?}", shared.bucket), &e);
    }
    deleted
}

/// Prints totals and the rates since the last line, every `every`.
async fn report_progress(live: Arc<Live>, started: Instant, every: Duration) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (mut last_ops, mut last_up, mut last_down) = (0u64, 0u64, 0u64);
    let mut last = Instant::now();
    loop {
        tick.tick().await;
        let done: Vec<u64> = live.done.iter().map(Live::get).collect();
        let ops: u64 = done.iter().sum();
        let (up, down) = (Live::get(&live.bytes_up), Live::get(&live.bytes_down));
        let secs = last.elapsed().as_secs_f64().max(1e-3);
        last = Instant::now();
        let counts: Vec<String> = OpKind::ALL
            .into_iter()
            .map(|op| format!("{op} {}", done[op.index()]))
            .collect();
        eprintln!(
            "{:>5.0}s  {}  {:.1} ops/s  up {:.1} MB/s  down {:.1} MB/s  errors {}  mismatches {}",
            started.elapsed().as_secs_f64(),
            counts.join(" "),
            (ops - last_ops) as f64 / secs,
            (up - last_up) as f64 / secs / 1e6,
            (down - last_down) as f64 / secs / 1e6,
            Live::get(&live.errors),
            Live::get(&live.mismatches),
        );
        (last_ops, last_up, last_down) = (ops, up, down);
    }
}

/// A seed for runs that were not given one.
pub fn random_seed() -> u64 {
    rand::thread_rng().r#gen()
}
