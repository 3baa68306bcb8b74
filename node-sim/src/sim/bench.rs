//! The end-to-end benchmark: a local network in this process, the real `uplink` binary
//! as a separate process (so that its peak memory is its own), a generated object
//! uploaded and downloaded, and the result compared byte for byte.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use tokio::io::AsyncWriteExt;

use super::network::{Network, NetworkConfig, SimError};

#[derive(Clone, Debug)]
pub struct BenchConfig {
    pub size: u64,
    pub nodes: usize,
    pub dir: PathBuf,
    pub uplink: PathBuf,
    pub redundancy: String,
    pub segment_size: Option<u64>,
    pub sync_writes: bool,
    /// TLS (the default, what users run) or plain HTTP, for comparing the two.
    pub transport: uplink_core::transport::Mode,
}

#[derive(Clone, Debug)]
pub struct Measurement {
    pub bytes: u64,
    pub seconds: f64,
    pub peak_rss_bytes: u64,
}

impl Measurement {
    pub fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / self.seconds / 1e6
    }
}

#[derive(Clone, Debug)]
pub struct BenchReport {
    pub upload: Measurement,
    pub download: Measurement,
    pub range_reads: Option<(usize, f64)>,
}

/// Fills `buf` with fast pseudo-random bytes (xorshift64*) from `state`, which must
/// not be zero; `buf`'s length is a multiple of 8.
pub(crate) fn pseudo_random(state: &mut u64, buf: &mut [u8]) {
    for chunk in buf.chunks_exact_mut(8) {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        chunk.copy_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
}

/// Writes `size` bytes of fast pseudo-random data (incompressible, reproducible).
async fn generate(path: &Path, size: u64) -> std::io::Result<[u8; 32]> {
    let file = tokio::fs::File::create(path).await?;
    let mut out = tokio::io::BufWriter::with_capacity(4 << 20, file);
    let mut hasher = blake3::Hasher::new();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        pseudo_random(&mut state, &mut buf);
        let n = left.min(buf.len() as u64) as usize;
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).await?;
        left -= n as u64;
    }
    out.flush().await?;
    Ok(*hasher.finalize().as_bytes())
}

fn hash_file(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(std::fs::File::open(path)?)?;
    Ok(*hasher.finalize().as_bytes())
}

/// Writes every dirty page to disk (the `sync` command), best effort.
async fn flush_page_cache() {
    let _ = tokio::process::Command::new("sync").status().await;
}

/// Runs `uplink` with `args` and the grant in its environment; returns the stats line.
async fn run_uplink(
    config: &BenchConfig,
    grant: &str,
    args: &[&str],
) -> Result<Measurement, SimError> {
    let started = Instant::now();
    let output = tokio::process::Command::new(&config.uplink)
        .args(args)
        .env("UPLINK_ACCESS", grant)
        .env("UPLINK_CONFIG_DIR", config.dir.join("uplink-config"))
        .env(
            "UPLINK_PLAIN_HTTP",
            (config.transport == uplink_core::transport::Mode::PlainHttp).to_string(),
        )
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| SimError::Setup(format!("running {}: {e}", config.uplink.display())))?;
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(SimError::Setup(format!(
            "uplink {} failed: {}",
            args.join(" "),
            stderr.trim()
        )));
    }
    let field = |name: &str| {
        stderr
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse::<f64>().ok())
    };
    Ok(Measurement {
        bytes: field("bytes").unwrap_or(0.0) as u64,
        seconds,
        peak_rss_bytes: field("peak_rss_bytes").unwrap_or(0.0) as u64,
    })
}

pub async fn run(config: BenchConfig) -> Result<BenchReport, SimError> {
    if !config.uplink.is_file() {
        return Err(SimError::Setup(format!(
            "no uplink binary at {}; build it with `cargo build --release --bins`",
            config.uplink.display()
        )));
    }
    let mut net_config = NetworkConfig::new(config.dir.join("network"), config.nodes);
    // The bare data path: no fault links in between.
    net_config.links = false;
    net_config.satellite.redundancy = config.redundancy.clone();
    net_config.sync_writes = config.sync_writes;
    net_config.satellite.plain_http = config.transport == uplink_core::transport::Mode::PlainHttp;
    eprintln!("starting a satellite and {} nodes ...", config.nodes);
    let network = Network::start(net_config).await?;
    let grant = network.create_access("bench").await?;
    let client = uplink_core::client::ClientConfig {
        transport: config.transport,
        ..Default::default()
    };
    let project = uplink_core::client::Project::open(grant.clone(), client)
        .map_err(|e| SimError::Setup(e.to_string()))?;
    project
        .create_bucket("bench")
        .await
        .map_err(|e| SimError::Setup(e.to_string()))?;
    let grant = grant.serialize();

    let input = config.dir.join("input.bin");
    let output = config.dir.join("output.bin");
    eprintln!("generating {} bytes ...", config.size);
    let expected = generate(&input, config.size)
        .await
        .map_err(|e| SimError::Setup(format!("writing {}: {e}", input.display())))?;

    let segment_arg = config.segment_size.map(|s| s.to_string());
    let mut up_args = vec!["cp", "--quiet", "--stats"];
    if let Some(s) = &segment_arg {
        up_args.extend(["--segment-size", s.as_str()]);
    }
    let input_s = input.to_string_lossy().to_string();
    let output_s = output.to_string_lossy().to_string();
    up_args.extend([input_s.as_str(), "sj://bench/object"]);
    eprintln!("uploading ...");
    let upload = run_uplink(&config, &grant, &up_args).await?;
    // Let the nodes' writes reach the disk first, so that the download is not measured
    // against the upload's write-back.
    flush_page_cache().await;
    eprintln!("downloading ...");
    let download = run_uplink(
        &config,
        &grant,
        &["cp", "--quiet", "--stats", "sj://bench/object", &output_s],
    )
    .await?;
    let got = hash_file(&output).map_err(|e| SimError::Setup(e.to_string()))?;
    if got != expected {
        return Err(SimError::Setup(
            "the downloaded object differs from the uploaded one".into(),
        ));
    }
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&output);
    network.stop().await;
    Ok(BenchReport {
        upload,
        download,
        range_reads: None,
    })
}
