//! `node-sim bench-keeping`: how fast the satellite keeps objects, on a local network
//! in this process, through the same workers that run in production.
//!
//! - **Repair**: objects are uploaded to `total` nodes, as many empty nodes join as
//!   then leave (`total - repair` of the first ones stop), so that every segment sits
//!   at the repair threshold with somewhere to go. One checker pass queues them; the
//!   clock runs from waking the repair workers until the queue is empty. Every object
//!   is then read back and compared.
//! - **Audit**: many small remote objects; one pass samples all of them and the clock
//!   runs until every piece has been audited. Every audit must succeed.
//!
//! Each part runs `runs` times on a fresh network and reports each run and the median:
//! wall-clock rates, and CPU seconds of this whole process (satellite and nodes, which
//! share the machine as they would not in production) per GiB repaired or per audit.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use uplink_core::client::{ClientConfig, Project};
use uplink_core::resources::cpu_seconds;
use uplink_core::transport::Mode;

use super::bench::pseudo_random;
use super::network::{Network, NetworkConfig, SimError};

/// The `node-sim bench-keeping` command line.
#[derive(Clone, Debug, clap::Args)]
pub struct KeepingArgs {
    /// Data to repair per run, e.g. 1GiB (in objects of --object-size).
    #[arg(long, default_value = "1GiB")]
    pub size: String,
    /// Size of each object of the repair part.
    #[arg(long, default_value = "64MiB")]
    pub object_size: String,
    /// Erasure scheme k/repair/optimal/total.
    #[arg(long, default_value = "4/6/8/10")]
    pub redundancy: String,
    /// Repair workers (the satellite's `repair.concurrency`).
    #[arg(long, default_value_t = 2)]
    pub repair_workers: usize,
    /// Segments audited per run (one small object each).
    #[arg(long, default_value_t = 1000)]
    pub audit_segments: usize,
    /// Runs of each part; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Only this part: repair or audit.
    #[arg(long)]
    pub only: Option<String>,
    /// Working directory (default: a temporary one in the current directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Size of each audited object: remote (above the inline limit), a few stripes.
const AUDIT_OBJECT_SIZE: usize = 96 << 10;

#[derive(Clone, Debug)]
pub struct RepairRun {
    pub segments: u64,
    pub segment_bytes: u64,
    pub read_bytes: u64,
    pub written_bytes: u64,
    pub seconds: f64,
    pub cpu_seconds: f64,
}

impl RepairRun {
    /// Segment data brought back to full redundancy, MB per second.
    pub fn mb_per_sec(&self) -> f64 {
        self.segment_bytes as f64 / self.seconds / 1e6
    }

    pub fn cpu_per_gib(&self) -> f64 {
        self.cpu_seconds / (self.segment_bytes as f64 / (1u64 << 30) as f64)
    }
}

#[derive(Clone, Debug)]
pub struct AuditRun {
    pub segments: u64,
    pub audits: u64,
    pub seconds: f64,
    pub cpu_seconds: f64,
}

impl AuditRun {
    pub fn per_sec(&self) -> f64 {
        self.audits as f64 / self.seconds
    }

    pub fn cpu_ms_per_audit(&self) -> f64 {
        self.cpu_seconds * 1e3 / self.audits as f64
    }
}

fn setup(e: impl std::fmt::Display) -> SimError {
    SimError::Setup(e.to_string())
}

/// The scheme's repair threshold and total.
fn scheme(args: &KeepingArgs) -> Result<(usize, usize), SimError> {
    let parts: Vec<usize> = args
        .redundancy
        .split('/')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()
        .filter(|p: &Vec<usize>| p.len() == 4 && p[1] < p[3])
        .ok_or_else(|| {
            setup(format!(
                "redundancy {:?} is not k/repair/optimal/total",
                args.redundancy
            ))
        })?;
    Ok((parts[1], parts[3]))
}

/// A network whose workers run only when this benchmark asks.
async fn network(
    dir: PathBuf,
    args: &KeepingArgs,
    mode: Mode,
    audit: bool,
) -> Result<(Network, Project), SimError> {
    let (_, total) = scheme(args)?;
    let mut config = NetworkConfig::new(dir, total);
    config.links = false;
    config.checkin_interval = Duration::from_millis(500);
    let s = &mut config.satellite;
    s.plain_http = mode == Mode::PlainHttp;
    s.redundancy = args.redundancy.clone();
    s.node_online_window = Duration::from_secs(3);
    s.selection_refresh_interval = Duration::from_millis(500);
    s.segment_loop.interval = Duration::from_secs(24 * 3600);
    s.gc.enabled = false;
    s.repair.concurrency = args.repair_workers.max(1);
    // Unthrottled: the figure is what the workers can do.
    s.repair.max_bytes_per_second = 1 << 40;
    s.repair.checker_interval = Duration::from_secs(24 * 3600);
    s.audit.enabled = audit;
    s.audit.segments_per_pass = args.audit_segments;
    let network = Network::start(config).await?;
    let grant = network.create_access("bench").await?;
    let project = Project::open(
        grant,
        ClientConfig {
            transport: mode,
            ..Default::default()
        },
    )
    .map_err(setup)?;
    project.create_bucket("keep").await.map_err(setup)?;
    Ok((network, project))
}

/// Uploads `count` objects of `size` bytes; returns their keys and hashes.
async fn upload(
    project: &Project,
    count: usize,
    size: usize,
    seed: u64,
) -> Result<Vec<(String, blake3::Hash)>, SimError> {
    let mut state = seed | 1;
    let mut data = vec![0u8; size];
    let mut objects = Vec::with_capacity(count);
    for i in 0..count {
        pseudo_random(&mut state, &mut data);
        let key = format!("o{i:06}");
        project
            .upload("keep", &key, &data[..], Default::default())
            .await
            .map_err(setup)?;
        objects.push((key, blake3::hash(&data)));
    }
    Ok(objects)
}

async fn verify(project: &Project, objects: &[(String, blake3::Hash)]) -> Result<(), SimError> {
    for (key, hash) in objects {
        let mut out = Vec::new();
        project
            .download("keep", key, None, &mut out, None)
            .await
            .map_err(|e| setup(format!("reading {key} back: {e}")))?;
        if blake3::hash(&out) != *hash {
            return Err(setup(format!("{key} differs from what was uploaded")));
        }
    }
    Ok(())
}

pub async fn repair_run(
    args: &KeepingArgs,
    dir: PathBuf,
    mode: Mode,
    seed: u64,
) -> Result<RepairRun, SimError> {
    let size = uplink_core::units::parse_size(&args.size).map_err(setup)? as usize;
    let object_size = uplink_core::units::parse_size(&args.object_size).map_err(setup)? as usize;
    let (mut net, project) = network(dir, args, mode, false).await?;
    let count = size.div_ceil(object_size.max(1)).max(1);
    eprintln!("repair: uploading {count} objects of {object_size} bytes ...");
    let objects = upload(&project, count, object_size, seed).await?;
    let (repair, total) = scheme(args)?;
    let leaving = total - repair;
    for _ in 0..leaving {
        net.add_node().await?;
    }
    for index in 1..=leaving {
        net.stop_node(index).await;
    }
    // The satellite notices the departures once their check-ins are older than the
    // online window.
    let deadline = Instant::now() + Duration::from_secs(60);
    while net.satellite.overlay.counts().1 > total {
        if Instant::now() > deadline {
            return Err(setup("stopped nodes still count as online after a minute"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sat = &net.satellite;
    sat.overlay.refresh().await.map_err(setup)?;
    sat.workers().trigger("segment-loop").await;
    let queued = satellite::repair::queue::length(&sat.db)
        .await
        .map_err(setup)?;
    let segments = satellite::metabase::segments::all(&sat.db)
        .await
        .map_err(setup)?;
    if queued != segments.len() as u64 {
        return Err(setup(format!(
            "{queued} of {} segments queued for repair",
            segments.len()
        )));
    }
    let segment_bytes: u64 = segments.iter().map(|s| s.plain_size).sum();
    eprintln!("repair: {queued} segments queued, repairing ...");

    let cpu = cpu_seconds().unwrap_or(0.0);
    let started = Instant::now();
    for i in 0..args.repair_workers.max(1) {
        if let Some(w) = sat.workers().handle(&format!("repair-{i}")) {
            w.wake();
        }
    }
    let deadline = started + Duration::from_secs(1800);
    while satellite::repair::queue::length(&sat.db)
        .await
        .map_err(setup)?
        > 0
    {
        if Instant::now() > deadline {
            return Err(setup("repair did not empty the queue in 30 minutes"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = cpu_seconds().unwrap_or(0.0) - cpu;
    let bytes = |direction: &str| {
        sat.metrics
            .repair_bytes
            .with_label_values(&[direction])
            .get()
    };
    let failed = sat.metrics.repairs.with_label_values(&["failed"]).get();
    if failed > 0 {
        return Err(setup(format!("{failed} repairs failed")));
    }
    let run = RepairRun {
        segments: queued,
        segment_bytes,
        read_bytes: bytes("download"),
        written_bytes: bytes("upload"),
        seconds,
        cpu_seconds,
    };
    verify(&project, &objects).await?;
    net.stop().await;
    Ok(run)
}

pub async fn audit_run(
    args: &KeepingArgs,
    dir: PathBuf,
    mode: Mode,
    seed: u64,
) -> Result<AuditRun, SimError> {
    let (net, project) = network(dir, args, mode, true).await?;
    eprintln!("audit: uploading {} objects ...", args.audit_segments);
    upload(&project, args.audit_segments, AUDIT_OBJECT_SIZE, seed).await?;
    let sat = &net.satellite;
    let segments = satellite::metabase::segments::all(&sat.db)
        .await
        .map_err(setup)?;
    let pieces: u64 = segments
        .iter()
        .filter_map(|s| s.remote())
        .map(|r| r.pieces.len() as u64)
        .sum();
    let audits = || {
        ["success", "failure", "offline", "unknown"]
            .iter()
            .map(|o| sat.metrics.audits.with_label_values(&[o]).get())
            .sum::<u64>()
    };
    let before = audits();
    eprintln!(
        "audit: {} segments, {pieces} pieces, auditing ...",
        segments.len()
    );
    let cpu = cpu_seconds().unwrap_or(0.0);
    let started = Instant::now();
    // The pass samples every segment and wakes the audit worker.
    sat.workers().trigger("segment-loop").await;
    let deadline = started + Duration::from_secs(1800);
    while audits() - before < pieces {
        if Instant::now() > deadline {
            return Err(setup(format!(
                "{} of {pieces} pieces audited in 30 minutes",
                audits() - before
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = cpu_seconds().unwrap_or(0.0) - cpu;
    let succeeded = sat.metrics.audits.with_label_values(&["success"]).get();
    if succeeded < pieces {
        return Err(setup(format!(
            "only {succeeded} of {pieces} audits succeeded"
        )));
    }
    net.stop().await;
    Ok(AuditRun {
        segments: segments.len() as u64,
        audits: pieces,
        seconds,
        cpu_seconds,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The runs of one part: each run's line (printed as it comes) and its two figures.
#[derive(Default)]
struct Runs {
    lines: String,
    rates: Vec<f64>,
    cpu: Vec<f64>,
}

impl Runs {
    fn add(&mut self, line: String, rate: f64, cpu: f64) {
        eprint!("{line}");
        self.lines.push_str(&line);
        self.rates.push(rate);
        self.cpu.push(cpu);
    }

    /// The lines, then the medians of both figures.
    fn finish(self, summary: impl FnOnce(usize, f64, f64) -> String) -> String {
        let runs = self.rates.len();
        let line = summary(runs, median(self.rates), median(self.cpu));
        self.lines + &line
    }
}

/// Runs the command and returns its report.
pub async fn execute(args: &KeepingArgs, mode: Mode) -> Result<String, SimError> {
    let only = args.only.as_deref();
    if let Some(o) = only
        && o != "repair"
        && o != "audit"
    {
        return Err(setup(format!("--only takes repair or audit, not {o:?}")));
    }
    let tmp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir_in(std::env::current_dir().map_err(setup)?).map_err(setup)?;
            tmp.path().to_path_buf()
        }
    };
    let runs = args.runs.max(1);
    let mut out = format!(
        "RS {}, {} repair workers, all on this machine; CPU is this whole process (satellite and nodes)\n",
        args.redundancy, args.repair_workers
    );
    if only != Some("audit") {
        let mut part = Runs::default();
        for run in 1..=runs {
            let r = repair_run(args, dir.join(format!("repair-{run}")), mode, run as u64).await?;
            let line = format!(
                "repair run {run}: {} segments, {:.0} MiB in {:.2} s = {:.1} MB/s of segment data \
                 (pieces read {:.0} MiB, written {:.0} MiB), {:.2} CPU s per GiB repaired\n",
                r.segments,
                r.segment_bytes as f64 / (1u64 << 20) as f64,
                r.seconds,
                r.mb_per_sec(),
                r.read_bytes as f64 / (1u64 << 20) as f64,
                r.written_bytes as f64 / (1u64 << 20) as f64,
                r.cpu_per_gib()
            );
            part.add(line, r.mb_per_sec(), r.cpu_per_gib());
        }
        out.push_str(&part.finish(|runs, rate, cpu| {
            format!("repair median of {runs}: {rate:.1} MB/s, {cpu:.2} CPU s per GiB\n")
        }));
    }
    if only != Some("repair") {
        let mut part = Runs::default();
        for run in 1..=runs {
            let r = audit_run(args, dir.join(format!("audit-{run}")), mode, run as u64).await?;
            let line = format!(
                "audit run {run}: {} piece audits of {} segments in {:.2} s = {:.0} audits/s, \
                 {:.2} CPU ms per audit\n",
                r.audits,
                r.segments,
                r.seconds,
                r.per_sec(),
                r.cpu_ms_per_audit()
            );
            part.add(line, r.per_sec(), r.cpu_ms_per_audit());
        }
        out.push_str(&part.finish(|runs, rate, cpu| {
            format!("audit median of {runs}: {rate:.0} audits/s, {cpu:.2} CPU ms per audit\n")
        }));
    }
    Ok(out)
}
