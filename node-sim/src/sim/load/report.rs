//! The run's result, for people (a table) and for scripts (JSON with the same fields).

use std::fmt::{self, Write as _};

use serde::Serialize;
use uplink_core::units::format_size;

use super::spec::OpKind;
use super::stats::{ErrorGroup, Tally};

/// One operation's figures. Latencies are of the operations that succeeded.
#[derive(Clone, Debug, Serialize)]
pub struct OpReport {
    pub op: OpKind,
    /// Operations that succeeded.
    pub ops: u64,
    pub errors: u64,
    pub ops_per_sec: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct LoadReport {
    /// Pass as `--seed` to run the same sequence of operations and contents again.
    pub seed: u64,
    pub satellite: String,
    pub bucket: String,
    /// Every key this run wrote starts with this.
    pub prefix: String,
    pub clients: usize,
    pub mix: String,
    pub sizes: String,
    /// From the first operation to the end of the last.
    pub seconds: f64,
    /// In the order put, get, range, list, delete.
    pub ops: Vec<OpReport>,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub up_bytes_per_sec: f64,
    pub down_bytes_per_sec: f64,
    pub error_count: u64,
    /// Most frequent first.
    pub errors: Vec<ErrorGroup>,
    /// Reads that returned other bytes than were written, and committed objects that a
    /// listing or delete did not find.
    pub mismatches: u64,
    pub mismatch_samples: Vec<String>,
    /// Objects deleted at the end with `cleanup`.
    pub cleaned_up: Option<u64>,
}

/// What [`LoadReport::new`] needs besides the counts.
pub(super) struct RunInfo {
    pub seed: u64,
    pub satellite: String,
    pub bucket: String,
    pub prefix: String,
    pub clients: usize,
    pub mix: String,
    pub sizes: String,
    pub seconds: f64,
    pub cleaned_up: Option<u64>,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl LoadReport {
    pub(super) fn new(info: RunInfo, tally: Tally) -> Self {
        let secs = info.seconds.max(1e-9);
        let ops = OpKind::ALL
            .into_iter()
            .map(|op| {
                let h = &tally.latency[op.index()];
                OpReport {
                    op,
                    ops: h.count(),
                    errors: tally.failures[op.index()],
                    ops_per_sec: h.count() as f64 / secs,
                    p50_ms: ms(h.quantile(0.50)),
                    p90_ms: ms(h.quantile(0.90)),
                    p99_ms: ms(h.quantile(0.99)),
                    max_ms: ms(h.max()),
                }
            })
            .collect();
        let error_count = tally.error_count();
        let mut errors: Vec<ErrorGroup> = tally.errors.into_values().collect();
        errors.sort_by(|a, b| b.count.cmp(&a.count).then(a.op.cmp(&b.op)));
        Self {
            seed: info.seed,
            satellite: info.satellite,
            bucket: info.bucket,
            prefix: info.prefix,
            clients: info.clients,
            mix: info.mix,
            sizes: info.sizes,
            seconds: info.seconds,
            ops,
            bytes_up: tally.bytes_up,
            bytes_down: tally.bytes_down,
            up_bytes_per_sec: tally.bytes_up as f64 / secs,
            down_bytes_per_sec: tally.bytes_down as f64 / secs,
            error_count,
            errors,
            mismatches: tally.mismatches,
            mismatch_samples: tally.mismatch_samples,
            cleaned_up: info.cleaned_up,
        }
    }

    /// No errors and no mismatches.
    pub fn is_clean(&self) -> bool {
        self.error_count == 0 && self.mismatches == 0
    }

    pub fn op(&self, op: OpKind) -> &OpReport {
        &self.ops[op.index()]
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} clients for {:.1} s against {}, objects under sj://{}/{}",
            self.clients, self.seconds, self.satellite, self.bucket, self.prefix
        )?;
        writeln!(f, "mix {}, sizes {}", self.mix, self.sizes)?;
        writeln!(f, "seed {} (repeat with --seed {})", self.seed, self.seed)?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<8}{:>9}{:>10}{:>10}{:>10}{:>10}{:>10}{:>8}",
            "op", "ops", "ops/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
        )?;
        for o in &self.ops {
            writeln!(
                f,
                "{:<8}{:>9}{:>10.1}{:>10.1}{:>10.1}{:>10.1}{:>10.1}{:>8}",
                o.op.name(),
                o.ops,
                o.ops_per_sec,
                o.p50_ms,
                o.p90_ms,
                o.p99_ms,
                o.max_ms,
                o.errors
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "up   {:>10.1} MB/s  ({})",
            self.up_bytes_per_sec / 1e6,
            format_size(self.bytes_up)
        )?;
        writeln!(
            f,
            "down {:>10.1} MB/s  ({}, every byte checked)",
            self.down_bytes_per_sec / 1e6,
            format_size(self.bytes_down)
        )?;
        if let Some(n) = self.cleaned_up {
            writeln!(f, "cleanup: {n} objects deleted")?;
        }
        writeln!(f)?;
        writeln!(f, "errors: {}", self.error_count)?;
        for g in &self.errors {
            writeln!(f, "  {:>6} x {} {}: {}", g.count, g.op, g.kind, g.sample)?;
        }
        write!(f, "mismatches: {}", self.mismatches)?;
        let mut samples = String::new();
        for s in &self.mismatch_samples {
            let _ = write!(samples, "\n  {s}");
        }
        if self.mismatches as usize > self.mismatch_samples.len() {
            let _ = write!(
                samples,
                "\n  ... and {} more",
                self.mismatches as usize - self.mismatch_samples.len()
            );
        }
        writeln!(f, "{samples}")
    }
}
