//! Counting what the clients did: latency histograms per operation, errors grouped by
//! kind with one sample each, mismatches; merged into the run's report at the end.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use uplink_core::client::UplinkError;
use uplink_core::protocol::ErrorCode;

use super::spec::OpKind;

/// Latencies in microseconds, in buckets about 1.6 % wide: constant memory however long
/// the run, and quantiles to better than 2 %.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;

fn bucket_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let shift = 63 - v.leading_zeros() - SUB_BITS;
    let sub = (v >> shift) - SUB;
    (SUB + shift as u64 * SUB + sub) as usize
}

/// The largest value that falls into bucket `i`.
fn bucket_top(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let shift = (i - SUB) / SUB;
    let sub = (i - SUB) % SUB;
    let top = (((SUB + sub + 1) as u128) << shift) - 1;
    top.min(u64::MAX as u128) as u64
}

impl Histogram {
    pub fn record(&mut self, d: Duration) {
        let v = d.as_micros().min(u64::MAX as u128) as u64;
        let i = bucket_of(v);
        if self.counts.len() <= i {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn merge(&mut self, other: &Histogram) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The latency that a fraction `q` of the operations did not exceed, in µs.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_top(i).min(self.max);
            }
        }
        self.max
    }

    pub fn max(&self) -> u64 {
        self.max
    }
}

/// A short, stable name for what went wrong: the wire's error code for the satellite's
/// answers, the client's error variant otherwise.
pub fn error_kind(e: &UplinkError) -> String {
    let kind = match e {
        UplinkError::Satellite { status, code, .. } => {
            return format!("{} (HTTP {status})", code_name(*code));
        }
        UplinkError::BucketNotFound(_) => "bucket_not_found",
        UplinkError::BucketExists(_) => "bucket_exists",
        UplinkError::BucketNotEmpty(_) => "bucket_not_empty",
        UplinkError::ObjectNotFound(_) => "object_not_found",
        UplinkError::PermissionDenied(_) => "permission_denied",
        UplinkError::Unauthenticated(_) => "unauthenticated",
        UplinkError::TooFewNodes(_) => "too_few_nodes",
        UplinkError::SegmentUnavailable(_) => "segment_unavailable",
        UplinkError::LimitExceeded(_) => "limit_exceeded",
        UplinkError::SatelliteUnreachable { .. } => "satellite_unreachable",
        UplinkError::Unavailable { .. } => "unavailable",
        UplinkError::NameModeMismatch { .. } => "name_mode_mismatch",
        UplinkError::UnprovenPlainNames(_) => "unproven_plain_names",
        UplinkError::UploadFailed(_) => "upload_failed",
        UplinkError::DownloadFailed(_) => "download_failed",
        UplinkError::InvalidArgument(_) => "invalid_argument",
        UplinkError::RangeNotSatisfiable { .. } => "range_not_satisfiable",
        UplinkError::Access(_) => "access",
        UplinkError::Crypto(_) => "crypto",
        UplinkError::Erasure(_) => "erasure",
        UplinkError::Protocol(_) => "protocol",
        UplinkError::Io(_) => "io",
    };
    kind.to_string()
}

fn code_name(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{code:?}"))
}

/// Errors of one kind from one operation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ErrorGroup {
    pub op: String,
    pub kind: String,
    pub count: u64,
    /// The first message of this kind.
    pub sample: String,
}

/// Mismatches keep this many descriptions; the count is exact.
pub const MISMATCH_SAMPLES: usize = 10;
const SAMPLE_CHARS: usize = 400;

fn shorten(mut s: String) -> String {
    if s.chars().count() > SAMPLE_CHARS {
        s = s.chars().take(SAMPLE_CHARS).collect::<String>() + "...";
    }
    s
}

/// What one client (or, merged, the whole run) did.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub latency: [Histogram; 5],
    pub failures: [u64; 5],
    pub errors: BTreeMap<(String, String), ErrorGroup>,
    pub mismatches: u64,
    pub mismatch_samples: Vec<String>,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

impl Tally {
    pub fn success(&mut self, op: OpKind, took: Duration) {
        self.latency[op.index()].record(took);
    }

    pub fn failure(&mut self, op: OpKind, e: &UplinkError) {
        self.failures[op.index()] += 1;
        self.error(op.name(), error_kind(e), e.to_string());
    }

    /// An error outside the mix's operations (setting up, cleaning up).
    pub fn error(&mut self, op: &str, kind: String, message: String) {
        self.errors
            .entry((op.to_string(), kind.clone()))
            .or_insert_with(|| ErrorGroup {
                op: op.to_string(),
                kind,
                count: 0,
                sample: shorten(message),
            })
            .count += 1;
    }

    pub fn mismatch(&mut self, description: String) {
        self.mismatches += 1;
        if self.mismatch_samples.len() < MISMATCH_SAMPLES {
            self.mismatch_samples.push(shorten(description));
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().map(|g| g.count).sum()
    }

    pub fn merge(&mut self, other: Tally) {
        for (a, b) in self.latency.iter_mut().zip(&other.latency) {
            a.merge(b);
        }
        for (a, b) in self.failures.iter_mut().zip(other.failures) {
            *a += b;
        }
        for (key, group) in other.errors {
            self.errors
                .entry(key)
                .and_modify(|g| g.count += group.count)
                .or_insert(group);
        }
        self.mismatches += other.mismatches;
        for s in other.mismatch_samples {
            if self.mismatch_samples.len() < MISMATCH_SAMPLES {
                self.mismatch_samples.push(s);
            }
        }
        self.bytes_up += other.bytes_up;
        self.bytes_down += other.bytes_down;
    }
}

/// Running totals for the progress line, updated as operations end.
#[derive(Debug, Default)]
pub struct Live {
    pub done: [AtomicU64; 5],
    pub errors: AtomicU64,
    pub mismatches: AtomicU64,
    pub bytes_up: AtomicU64,
    pub bytes_down: AtomicU64,
}

impl Live {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_narrow() {
        let mut last = None;
        for v in (0..5000u64).chain([1 << 20, (1 << 20) + 1, u64::MAX / 2, u64::MAX]) {
            let i = bucket_of(v);
            assert!(bucket_top(i) >= v, "{v} above its bucket's top");
            if i > 0 {
                assert!(bucket_top(i - 1) < v, "{v} fits the bucket below");
            }
            if let Some(prev) = last {
                assert!(i >= prev);
            }
            last = Some(i);
            assert!(bucket_top(i) - v <= v / SUB, "bucket of {v} is too wide");
        }
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let mut h = Histogram::default();
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let within = |got: u64, want: u64| got >= want && got <= want + want / 50;
        assert!(within(h.quantile(0.5), 50_000), "{}", h.quantile(0.5));
        assert!(within(h.quantile(0.9), 90_000), "{}", h.quantile(0.9));
        assert!(within(h.quantile(0.99), 99_000), "{}", h.quantile(0.99));
        assert_eq!(h.quantile(1.0), 100_000);
        assert_eq!(h.max(), 100_000);
        let mut other = Histogram::default();
        other.record(Duration::from_secs(3));
        h.merge(&other);
        assert_eq!((h.count(), h.max()), (101, 3_000_000));
        assert_eq!(Histogram::default().quantile(0.99), 0);
    }

    #[test]
    fn errors_group_by_operation_and_kind_with_the_first_sample() {
        let mut a = Tally::default();
        let busy = |m: &str| UplinkError::Satellite {
            status: 500,
            code: ErrorCode::Internal,
            message: m.into(),
        };
        a.failure(OpKind::Put, &busy("database is locked"));
        a.failure(OpKind::Put, &busy("something else"));
        a.failure(OpKind::Get, &UplinkError::ObjectNotFound("k".into()));
        let mut b = Tally::default();
        b.failure(OpKind::Put, &busy("third"));
        a.merge(b);
        let put = &a.errors[&("put".to_string(), "internal (HTTP 500)".to_string())];
        assert_eq!(put.count, 3);
        assert!(put.sample.contains("database is locked"), "{}", put.sample);
        assert_eq!(a.failures[OpKind::Put.index()], 3);
        assert_eq!(a.error_count(), 4);
        assert!(
            a.errors
                .contains_key(&("get".to_string(), "object_not_found".to_string()))
        );
    }
}
