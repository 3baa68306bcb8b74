//! Per-node Prometheus metrics. Many nodes run in one process, so every node has its own
//! [`prometheus::Registry`]; nothing is registered globally.
//!
//! Request counts, durations and transferred bytes are all collected at one choke point,
//! the middleware in [`super::server`], labelled by endpoint.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The metrics of one node.
#[derive(Clone, Debug)]
pub struct NodeMetrics {
    registry: Registry,
    /// `node_requests_total{endpoint, status}`
    pub requests: IntCounterVec,
    /// `node_request_duration_seconds{endpoint, status}`, until the last response byte.
    pub request_duration: HistogramVec,
    /// `node_bytes_received_total{endpoint}`: request body bytes.
    pub bytes_received: IntCounterVec,
    /// `node_bytes_sent_total{endpoint}`: response body bytes.
    pub bytes_sent: IntCounterVec,
    /// `node_pieces_stored_total`: pieces committed.
    pub pieces_stored: IntCounter,
    /// `node_pieces_deleted_total`: pieces removed on request.
    pub pieces_deleted: IntCounter,
    /// `node_used_bytes`: bytes occupied by committed and trashed pieces.
    pub used_bytes: IntGauge,
    /// `node_capacity_bytes`: configured capacity.
    pub capacity_bytes: IntGauge,
    /// `node_retain_passes_total`: retain requests applied.
    pub retain_passes: IntCounter,
    /// `node_pieces_trashed_total`: pieces moved to trash by retain passes.
    pub pieces_trashed: IntCounter,
    /// `node_bytes_trashed_total`: bytes of those pieces.
    pub bytes_trashed: IntCounter,
    /// `node_trash_emptied_pieces_total`: trashed pieces removed for good.
    pub trash_emptied_pieces: IntCounter,
    /// `node_trash_emptied_bytes_total`: bytes of those pieces.
    pub trash_emptied_bytes: IntCounter,
}

impl NodeMetrics {
    /// Creates the metrics in a fresh registry whose samples carry `node_id` as a label.
    pub fn new(node_id: &str) -> Self {
        let labels = std::iter::once(("node_id".to_string(), node_id.to_string())).collect();
        let registry =
            Registry::new_custom(None, Some(labels)).expect("static registry options are valid");
        let requests = IntCounterVec::new(
            Opts::new("node_requests_total", "HTTP requests served"),
            &["endpoint", "status"],
        )
        .expect("valid metric");
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "node_request_duration_seconds",
                "Time from request to last response byte",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["endpoint", "status"],
        )
        .expect("valid metric");
        let bytes_received = IntCounterVec::new(
            Opts::new("node_bytes_received_total", "Request body bytes received"),
            &["endpoint"],
        )
        .expect("valid metric");
        let bytes_sent = IntCounterVec::new(
            Opts::new("node_bytes_sent_total", "Response body bytes sent"),
            &["endpoint"],
        )
        .expect("valid metric");
        let pieces_stored =
            IntCounter::new("node_pieces_stored_total", "Pieces committed").expect("valid metric");
        let pieces_deleted =
            IntCounter::new("node_pieces_deleted_total", "Pieces deleted").expect("valid metric");
        let used_bytes = IntGauge::new("node_used_bytes", "Bytes occupied by committed pieces")
            .expect("valid metric");
        let capacity_bytes =
            IntGauge::new("node_capacity_bytes", "Configured capacity").expect("valid metric");
        let counter = |name: &str, help: &str| IntCounter::new(name, help).expect("valid metric");
        let retain_passes = counter("node_retain_passes_total", "Retain requests applied");
        let pieces_trashed = counter(
            "node_pieces_trashed_total",
            "Pieces moved to trash by retain passes",
        );
        let bytes_trashed = counter(
            "node_bytes_trashed_total",
            "Bytes of the pieces moved to trash by retain passes",
        );
        let trash_emptied_pieces = counter(
            "node_trash_emptied_pieces_total",
            "Trashed pieces removed for good",
        );
        let trash_emptied_bytes = counter(
            "node_trash_emptied_bytes_total",
            "Bytes of the trashed pieces removed for good",
        );
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(request_duration.clone()),
            Box::new(bytes_received.clone()),
            Box::new(bytes_sent.clone()),
            Box::new(pieces_stored.clone()),
            Box::new(pieces_deleted.clone()),
            Box::new(used_bytes.clone()),
            Box::new(capacity_bytes.clone()),
            Box::new(retain_passes.clone()),
            Box::new(pieces_trashed.clone()),
            Box::new(bytes_trashed.clone()),
            Box::new(trash_emptied_pieces.clone()),
            Box::new(trash_emptied_bytes.clone()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        Self {
            registry,
            requests,
            request_duration,
            bytes_received,
            bytes_sent,
            pieces_stored,
            pieces_deleted,
            used_bytes,
            capacity_bytes,
            retain_passes,
            pieces_trashed,
            bytes_trashed,
            trash_emptied_pieces,
            trash_emptied_bytes,
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding into memory cannot fail");
        String::from_utf8(out).expect("prometheus text is UTF-8")
    }
}
