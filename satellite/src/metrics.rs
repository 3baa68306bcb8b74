//! The satellite's Prometheus metrics, in one registry per satellite instance (tests run
//! several satellites in one process, so nothing is global).

use prometheus::{
    Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
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
    /// Segments read by the segment loop.
    pub loop_segments: IntCounter,
    pub loop_pass_seconds: Gauge,
    /// Remote segments of the last checker pass by healthy piece count.
    pub segments_by_health: IntGaugeVec,
    pub repair_queue: IntGauge,
    pub lost_segments: IntGauge,
    /// Repairs by result (repaired, dropped, failed).
    pub repairs: IntCounterVec,
    pub repair_bytes: IntCounterVec,
    /// Piece audits by outcome.
    pub audits: IntCounterVec,
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
        let loop_segments = IntCounter::new(
            "segment_loop_segments_total",
            "Segments read by the segment loop",
        )
        .expect("metric");
        let loop_pass_seconds = Gauge::new(
            "segment_loop_pass_seconds",
            "Duration of the last segment-loop pass",
        )
        .expect("metric");
        let segments_by_health = IntGaugeVec::new(
            Opts::new(
                "segments_by_healthy_pieces",
                "Remote segments of the last checker pass by healthy piece count",
            ),
            &["healthy"],
        )
        .expect("metric");
        let repair_queue =
            IntGauge::new("repair_queue_length", "Segments queued for repair").expect("metric");
        let lost_segments = IntGauge::new(
            "lost_segments",
            "Segments with fewer than k healthy pieces in the last checker pass",
        )
        .expect("metric");
        let repairs = IntCounterVec::new(
            Opts::new("repairs_total", "Segment repairs by result"),
            &["result"],
        )
        .expect("metric");
        let repair_bytes = IntCounterVec::new(
            Opts::new("repair_bytes_total", "Piece bytes moved by repair"),
            &["direction"],
        )
        .expect("metric");
        let audits = IntCounterVec::new(
            Opts::new("audits_total", "Piece audits by outcome"),
            &["outcome"],
        )
        .expect("metric");
        for c in [
            Box::new(loop_segments.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(loop_pass_seconds.clone()),
            Box::new(segments_by_health.clone()),
            Box::new(repair_queue.clone()),
            Box::new(lost_segments.clone()),
            Box::new(repairs.clone()),
            Box::new(repair_bytes.clone()),
            Box::new(audits.clone()),
        ] {
            registry.register(c).expect("unique metric names");
        }
        Self {
            loop_segments,
            loop_pass_seconds,
            segments_by_health,
            repair_queue,
            lost_segments,
            repairs,
            repair_bytes,
            audits,
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
