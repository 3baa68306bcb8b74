//! The satellite's Prometheus metrics, in one registry per satellite instance (tests run
//! several satellites in one process, so nothing is global).

use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

#[derive(Clone, Debug)]
pub struct Metrics {
    pub registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub objects_committed: IntCounter,
    pub segments_committed: IntCounterVec,
    pub bytes_committed: IntCounter,
    pub objects_deleted: IntCounter,
    pub pieces_deleted: IntCounterVec,
    pub nodes: IntGaugeVec,
    pub checkins: IntCounterVec,
    pub worker_runs: IntCounterVec,
    pub worker_last_duration: HistogramVec,
    pub worker_last_success: IntGaugeVec,
    pub pending_piece_deletions: IntGauge,
}

impl Metrics {
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("satellite".into()), None).expect("valid registry prefix");
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by endpoint and status",
            ),
            &["endpoint", "status"],
        )
        .expect("metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency"),
            &["endpoint"],
        )
        .expect("metric");
        let objects_committed =
            IntCounter::new("objects_committed_total", "Objects committed").expect("metric");
        let segments_committed = IntCounterVec::new(
            Opts::new("segments_committed_total", "Segments committed"),
            &["kind"],
        )
        .expect("metric");
        let bytes_committed = IntCounter::new(
            "plain_bytes_committed_total",
            "Plaintext bytes of committed segments",
        )
        .expect("metric");
        let objects_deleted =
            IntCounter::new("objects_deleted_total", "Objects deleted").expect("metric");
        let pieces_deleted = IntCounterVec::new(
            Opts::new("piece_deletions_total", "Piece deletions sent to nodes"),
            &["result"],
        )
        .expect("metric");
        let nodes = IntGaugeVec::new(Opts::new("nodes", "Known nodes by state"), &["state"])
            .expect("metric");
        let checkins = IntCounterVec::new(
            Opts::new("node_checkins_total", "Node check-ins by result"),
            &["result"],
        )
        .expect("metric");
        let worker_runs = IntCounterVec::new(
            Opts::new("worker_runs_total", "Background worker runs"),
            &["worker", "result"],
        )
        .expect("metric");
        let worker_last_duration = HistogramVec::new(
            HistogramOpts::new("worker_run_duration_seconds", "Background worker run time"),
            &["worker"],
        )
        .expect("metric");
        let worker_last_success = IntGaugeVec::new(
            Opts::new(
                "worker_last_success_unix",
                "Unix time of each worker's last successful run",
            ),
            &["worker"],
        )
        .expect("metric");
        let pending_piece_deletions = IntGauge::new(
            "pending_piece_deletions",
            "Piece deletions queued for nodes",
        )
        .expect("metric");
        for c in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(objects_committed.clone()),
            Box::new(segments_committed.clone()),
            Box::new(bytes_committed.clone()),
            Box::new(objects_deleted.clone()),
            Box::new(pieces_deleted.clone()),
            Box::new(nodes.clone()),
            Box::new(checkins.clone()),
            Box::new(worker_runs.clone()),
            Box::new(worker_last_duration.clone()),
            Box::new(worker_last_success.clone()),
            Box::new(pending_piece_deletions.clone()),
        ] {
            registry.register(c).expect("unique metric names");
        }
        Self {
            registry,
            http_requests,
            http_duration,
            objects_committed,
            segments_committed,
            bytes_committed,
            objects_deleted,
            pieces_deleted,
            nodes,
            checkins,
            worker_runs,
            worker_last_duration,
            worker_last_success,
            pending_piece_deletions,
        }
    }

    /// Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
