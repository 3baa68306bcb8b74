//! Garbage collection: per node, a bloom filter of the pieces it should keep, signed
//! by the satellite and sent to the node, which moves every other piece older than the
//! snapshot (minus its grace) to trash and empties trash after its retention.
//!
//! The filter is built by an observer of the segment loop from every segment, pending
//! ones included. The snapshot time is the start of the pass minus the upload window
//! (how long an uplink may hold a begun segment before committing it): a piece stored
//! before that and not in any segment can only belong to an upload that will never
//! commit. A pass that did not see every segment, or met a row it could not decode,
//! sends nothing: a filter missing live pieces would delete them.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use uplink_core::protocol::retain::{RETAIN_CONTENT_TYPE, RetainResponse};
use uplink_core::protocol::{
    BloomFilter, Identity, NodeId, PieceId, RETAIN_PATH, RetainRequest, now_unix,
};
use uplink_core::transport::Transport;

use crate::db::Db;
use crate::error::Result;
use crate::metabase::{MetabaseError, Segment};
use crate::segment_loop::{Observer, Pass, PassStats};

/// Name of the report in `service_reports`.
pub const REPORT: &str = "gc";

/// Settings of garbage collection.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GcConfig {
    pub enabled: bool,
    /// Filters are built on the first segment-loop pass after this much time.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Target false-positive rate of each filter (garbage left for a later run).
    pub false_positive_rate: f64,
}

impl Default for GcConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(6 * 3600),
            false_positive_rate: 0.1,
        }
    }
}

/// What the last run did.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GcReport {
    pub started_at: i64,
    pub created_before: i64,
    pub skipped: Option<String>,
    pub nodes_sent: u64,
    pub nodes_failed: u64,
    pub pieces: u64,
    pub filter_bytes: u64,
    pub errors: Vec<String>,
}

pub struct GcObserver {
    db: Db,
    identity: Identity,
    transport: Transport,
    config: GcConfig,
    /// How long a begun segment may stay uncommitted (order and token expiration).
    upload_window: Duration,
    last_run: Option<i64>,
    active: bool,
    tainted: bool,
    pieces: HashMap<NodeId, Vec<PieceId>>,
}

impl GcObserver {
    pub fn new(
        db: Db,
        identity: Identity,
        transport: Transport,
        config: GcConfig,
        upload_window: Duration,
    ) -> Self {
        Self {
            db,
            identity,
            transport,
            config,
            upload_window,
            last_run: None,
            active: false,
            tainted: false,
            pieces: HashMap::new(),
        }
    }

    async fn send(
        &self,
        node: &crate::overlay::NodeInfo,
        request: RetainRequest,
    ) -> std::result::Result<RetainResponse, String> {
        let url = self
            .transport
            .url(&node.id, &node.address, RETAIN_PATH)
            .map_err(|e| e.to_string())?;
        let resp = self
            .transport
            .http()
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, RETAIN_CONTENT_TYPE)
            .body(request.to_bytes())
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ));
        }
        serde_json::from_slice(&body).map_err(|e| format!("unreadable answer: {e}"))
    }
}

#[async_trait::async_trait]
impl Observer for GcObserver {
    fn name(&self) -> &'static str {
        "gc"
    }

    async fn start(&mut self, pass: &Pass) -> Result<()> {
        let due = self
            .last_run
            .is_none_or(|t| pass.started_at - t >= self.config.interval.as_secs() as i64);
        self.active = self.config.enabled && due;
        self.tainted = false;
        self.pieces.clear();
        Ok(())
    }

    async fn segment(&mut self, _pass: &Pass, segment: &Segment) -> Result<()> {
        if !self.active {
            return Ok(());
        }
        if let Some(remote) = segment.remote() {
            for piece in remote.pieces.iter() {
                self.pieces
                    .entry(piece.node)
                    .or_default()
                    .push(piece.piece_id(&remote.root_piece_id));
            }
        }
        Ok(())
    }

    fn unreadable(&mut self, _error: &MetabaseError) {
        self.tainted = true;
    }

    async fn finish(&mut self, pass: &Pass, stats: &PassStats) -> Result<()> {
        if !self.active {
            return Ok(());
        }
        self.active = false;
        let created_before = pass.started_at - self.upload_window.as_secs() as i64;
        let mut report = GcReport {
            started_at: pass.started_at,
            created_before,
            ..Default::default()
        };
        if !stats.complete || self.tainted {
            report.skipped = Some(if self.tainted {
                "a segment could not be read: no filter is sent, so no live piece is trashed".into()
            } else {
                "the pass did not see every segment".into()
            });
            tracing::warn!(
                reason = report.skipped.as_deref(),
                "garbage collection skipped"
            );
            return crate::reports::put(&self.db, REPORT, &report).await;
        }
        let pieces = std::mem::take(&mut self.pieces);
        let now = now_unix();
        let mut requests = Vec::new();
        for node in pass.nodes.values() {
            if node.disqualified || !pass.online(node) {
                continue;
            }
            let ids = pieces.get(&node.id).map(Vec::as_slice).unwrap_or(&[]);
            let mut filter = BloomFilter::new(ids.len().max(1), self.config.false_positive_rate);
            for id in ids {
                filter.insert(id);
            }
            report.pieces += ids.len() as u64;
            report.filter_bytes += filter.len_bytes() as u64;
            let request = RetainRequest::signed(
                &self.identity,
                node.id,
                created_before,
                now,
                filter,
                ids.len() as u64,
            );
            requests.push((node.clone(), request));
        }
        let this = &*self;
        let results: Vec<_> = futures::stream::iter(requests)
            .map(|(node, request)| async move { (node.id, this.send(&node, request).await) })
            .buffer_unordered(8)
            .collect()
            .await;
        for (node, result) in results {
            match result {
                Ok(_) => report.nodes_sent += 1,
                Err(e) => {
                    report.nodes_failed += 1;
                    if report.errors.len() < 10 {
                        report.errors.push(format!("{node}: {e}"));
                    }
                }
            }
        }
        self.last_run = Some(pass.started_at);
        tracing::info!(
            nodes = report.nodes_sent,
            failed = report.nodes_failed,
            pieces = report.pieces,
            "garbage-collection filters sent"
        );
        crate::reports::put(&self.db, REPORT, &report).await
    }
}
