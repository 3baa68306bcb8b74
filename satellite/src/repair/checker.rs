//! The repair checker: an observer of the segment loop that counts each remote
//! segment's healthy pieces by the rules of [`super::health`] and queues those at or
//! below the repair threshold. Segments below `k` are reported as lost, loudly: in the
//! log (each one), in `/metrics` and in the checker's report.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::health::{self, PieceCondition, SegmentHealth, Verdict};
use super::queue;
use crate::db::Db;
use crate::error::Result;
use crate::metabase::{MetabaseError, RemoteSegment, Segment, SegmentKey};
use crate::metrics::Metrics;
use crate::segment_loop::{Observer, Pass, PassStats};

/// Name of the checker's report in `service_reports`.
pub const REPORT: &str = "repair-checker";

/// Lost segments named in the report (all are logged).
const LOST_SAMPLES: usize = 20;

/// What the last checker pass found.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CheckerReport {
    pub pass_started_at: i64,
    pub complete: bool,
    pub segments: u64,
    pub remote_segments: u64,
    pub unreadable_segments: u64,
    /// Remote segments by healthy piece count.
    pub by_healthy: BTreeMap<u16, u64>,
    pub queued: u64,
    pub lost: u64,
    pub lost_samples: Vec<String>,
    pub duration_ms: u64,
    pub segments_per_second: f64,
}

pub struct Checker {
    db: Db,
    metrics: Metrics,
    report: CheckerReport,
    batch: Vec<(SegmentKey, u16)>,
}

impl Checker {
    pub fn new(db: Db, metrics: Metrics) -> Self {
        Self {
            db,
            metrics,
            report: CheckerReport::default(),
            batch: Vec::new(),
        }
    }

    async fn flush(&mut self) -> Result<()> {
        if !self.batch.is_empty() {
            let batch = std::mem::take(&mut self.batch);
            crate::db::write_txn!(self.db, |txn| { queue::push(&txn, &batch).await })?;
        }
        Ok(())
    }
}

/// How long completed repairs are remembered for "repaired per hour".
const REPAIR_LOG_RETENTION_SECS: i64 = 7 * 24 * 3600;

/// The checker's count for one segment as of `pass`.
pub fn assess(pass: &Pass, remote: &RemoteSegment) -> SegmentHealth {
    let conditions: Vec<PieceCondition> = remote
        .pieces
        .iter()
        .map(|p| match pass.nodes.get(&p.node) {
            Some(node) => PieceCondition {
                online: pass.online(node),
                disqualified: node.disqualified,
                suspended: node.suspended,
                exiting: node.exiting,
                network: node.last_net.as_str(),
            },
            // A node the registry does not know cannot be asked for anything.
            None => PieceCondition {
                online: false,
                disqualified: true,
                suspended: false,
                exiting: false,
                network: "",
            },
        })
        .collect();
    health::assess(&remote.scheme, conditions)
}

#[async_trait::async_trait]
impl Observer for Checker {
    fn name(&self) -> &'static str {
        "repair-checker"
    }

    async fn start(&mut self, pass: &Pass) -> Result<()> {
        self.report = CheckerReport {
            pass_started_at: pass.started_at,
            ..Default::default()
        };
        self.batch.clear();
        Ok(())
    }

    async fn segment(&mut self, pass: &Pass, segment: &Segment) -> Result<()> {
        self.report.segments += 1;
        let Some(remote) = segment.remote() else {
            return Ok(());
        };
        self.report.remote_segments += 1;
        let health = assess(pass, remote);
        *self.report.by_healthy.entry(health.healthy).or_default() += 1;
        let exiting = remote
            .pieces
            .iter()
            .any(|p| pass.nodes.get(&p.node).is_some_and(|n| n.exiting));
        // Pieces on exiting nodes must move even where redundancy is fine; lost
        // segments stay queued in case offline nodes come back.
        let queue = match health.verdict {
            Verdict::Healthy => exiting,
            Verdict::Repair => true,
            Verdict::Lost => {
                self.report.lost += 1;
                tracing::error!(
                    segment = %segment.key,
                    healthy = health.healthy,
                    retrievable = health.retrievable,
                    k = remote.scheme.k,
                    "segment LOST: fewer healthy pieces than needed to decode it"
                );
                if self.report.lost_samples.len() < LOST_SAMPLES {
                    self.report.lost_samples.push(segment.key.to_string());
                }
                true
            }
        };
        if queue {
            if health.verdict != Verdict::Lost {
                self.report.queued += 1;
            }
            self.batch.push((segment.key.clone(), health.healthy));
            if self.batch.len() >= 500 {
                self.flush().await?;
            }
        }
        Ok(())
    }

    fn unreadable(&mut self, error: &MetabaseError) {
        self.report.unreadable_segments += 1;
        tracing::error!(error = %error, "repair checker cannot read a segment");
    }

    async fn finish(&mut self, _pass: &Pass, stats: &PassStats) -> Result<()> {
        self.flush().await?;
        self.report.complete = stats.complete;
        self.report.duration_ms = stats.duration_ms;
        self.report.segments_per_second = stats.segments_per_second;
        if stats.complete {
            let started = self.report.pass_started_at;
            let forget_before = started - REPAIR_LOG_RETENTION_SECS;
            crate::db::write_txn!(self.db, |txn| {
                queue::drop_stale(&txn, started).await?;
                queue::prune_log(&txn, forget_before).await
            })?;
        }
        self.metrics.segments_by_health.reset();
        for (healthy, count) in &self.report.by_healthy {
            self.metrics
                .segments_by_health
                .with_label_values(&[&healthy.to_string()])
                .set(*count as i64);
        }
        self.metrics.lost_segments.set(self.report.lost as i64);
        self.metrics
            .repair_queue
            .set(queue::length(&self.db).await? as i64);
        crate::reports::put(&self.db, REPORT, &self.report).await
    }
}
