//! The segment loop: one paged, resumable pass over every segment that feeds several
//! observers (the repair checker, the audit sampler, the garbage-collection filters,
//! graceful-exit progress), so that the database is read once per pass instead of once
//! per service.
//!
//! The loop is a worker of the shared runtime: each step reads one page (keyset paging
//! on the segment key, so a pass survives concurrent inserts and deletes and can stop
//! between pages), hands every segment to every observer, and is throttled to a
//! configured rate. A pass starts when the previous one is older than the interval, or
//! at once when woken. Rows that cannot be decoded are handed to observers as errors:
//! the garbage-collection observer then sends no filter for that pass.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use uplink_core::background::{Cancel, Worker, WorkerError, WorkerState};
use uplink_core::protocol::now_unix;

use crate::db::Db;
use crate::error::Result;
use crate::metabase::{MetabaseError, Segment, SegmentKey, segments};
use crate::metrics::Metrics;
use crate::overlay::{NodeInfo, Overlay};

/// Settings of the segment loop.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SegmentLoopConfig {
    /// A new pass starts this long after the previous one started (or when woken).
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Segments read per page.
    pub page_size: u64,
    /// Most segments per second (0: as fast as the database answers).
    pub max_segments_per_second: u64,
}

impl Default for SegmentLoopConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            page_size: 2500,
            max_segments_per_second: 0,
        }
    }
}

/// What observers know about the pass in progress.
#[derive(Clone)]
pub struct Pass {
    /// Unix seconds at which the pass began: segments committed later may be missed.
    pub started_at: i64,
    /// The node registry as of the start of the pass.
    pub nodes: Arc<std::collections::HashMap<uplink_core::protocol::NodeId, NodeInfo>>,
    pub overlay: Arc<Overlay>,
}

impl Pass {
    /// Whether the node counts as online at the start of the pass.
    pub fn online(&self, node: &NodeInfo) -> bool {
        self.overlay.is_online(node, self.started_at)
    }
}

/// Totals of one finished pass.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PassStats {
    pub segments: u64,
    pub remote: u64,
    pub unreadable: u64,
    pub duration_ms: u64,
    pub segments_per_second: f64,
    /// Whether every segment was seen (no page failed, not cancelled).
    pub complete: bool,
}

/// One consumer of the pass.
#[async_trait::async_trait]
pub trait Observer: Send + 'static {
    fn name(&self) -> &'static str;
    /// A pass begins.
    async fn start(&mut self, pass: &Pass) -> Result<()>;
    /// One segment of the pass.
    async fn segment(&mut self, pass: &Pass, segment: &Segment) -> Result<()>;
    /// A row that could not be decoded.
    fn unreadable(&mut self, error: &MetabaseError);
    /// The pass ended; `stats.complete` says whether it saw every segment.
    async fn finish(&mut self, pass: &Pass, stats: &PassStats) -> Result<()>;
}

struct Running {
    pass: Pass,
    cursor: Option<SegmentKey>,
    began: Instant,
    stats: PassStats,
}

/// The loop worker.
pub struct SegmentLoop {
    db: Db,
    overlay: Arc<Overlay>,
    config: SegmentLoopConfig,
    observers: Vec<Box<dyn Observer>>,
    metrics: Metrics,
    running: Option<Running>,
    last_start: Option<Instant>,
}

impl SegmentLoop {
    pub fn new(
        db: Db,
        overlay: Arc<Overlay>,
        config: SegmentLoopConfig,
        observers: Vec<Box<dyn Observer>>,
        metrics: Metrics,
    ) -> Self {
        Self {
            db,
            overlay,
            config,
            observers,
            metrics,
            running: None,
            last_start: None,
        }
    }

    async fn begin(&mut self) -> Result<()> {
        // The registry as the nodes last reported, not the selection cache's view.
        self.overlay.refresh().await?;
        let pass = Pass {
            started_at: now_unix(),
            nodes: self.overlay.snapshot(),
            overlay: self.overlay.clone(),
        };
        for o in &mut self.observers {
            o.start(&pass).await?;
        }
        self.running = Some(Running {
            pass,
            cursor: None,
            began: Instant::now(),
            stats: PassStats::default(),
        });
        self.last_start = Some(Instant::now());
        Ok(())
    }

    /// Reads and hands out one page; `true` when the pass is over.
    async fn page(&mut self) -> Result<bool> {
        let run = self.running.as_mut().expect("a pass is running");
        let page = segments::page(&self.db, run.cursor.as_ref(), self.config.page_size).await?;
        let done = (page.len() as u64) < self.config.page_size;
        self.metrics.loop_segments.inc_by(page.len() as u64);
        for item in page {
            run.stats.segments += 1;
            match item {
                Ok(segment) => {
                    if segment.remote().is_some() {
                        run.stats.remote += 1;
                    }
                    for o in &mut self.observers {
                        o.segment(&run.pass, &segment).await?;
                    }
                    run.cursor = Some(segment.key.clone());
                }
                Err(e) => {
                    run.stats.unreadable += 1;
                    if let MetabaseError::Corrupt { key, .. } = &e {
                        run.cursor = Some(key.clone());
                    }
                    for o in &mut self.observers {
                        o.unreadable(&e);
                    }
                }
            }
        }
        Ok(done)
    }

    async fn end(&mut self, complete: bool) -> Result<PassStats> {
        let mut run = self.running.take().expect("a pass is running");
        let elapsed = run.began.elapsed();
        run.stats.complete = complete;
        run.stats.duration_ms = elapsed.as_millis() as u64;
        run.stats.segments_per_second = run.stats.segments as f64 / elapsed.as_secs_f64().max(1e-6);
        for o in &mut self.observers {
            if let Err(e) = o.finish(&run.pass, &run.stats).await {
                tracing::warn!(observer = o.name(), error = %e, "segment loop observer failed at the end of a pass");
            }
        }
        self.metrics.loop_pass_seconds.set(elapsed.as_secs_f64());
        Ok(run.stats)
    }
}

#[async_trait::async_trait]
impl Worker for SegmentLoop {
    fn name(&self) -> String {
        "segment-loop".into()
    }

    fn idle_period(&self) -> Duration {
        self.config.interval
    }

    async fn step(
        &mut self,
        cancel: &Cancel,
    ) -> Result<(WorkerState, Option<String>), WorkerError> {
        if self.running.is_none() {
            self.begin().await.map_err(WorkerError::new)?;
        }
        let started = Instant::now();
        let before = self.running.as_ref().map_or(0, |r| r.stats.segments);
        let done = match self.page().await {
            Ok(done) => done,
            Err(e) => {
                // Observers must not act on a pass with a hole in it.
                let _ = self.end(false).await;
                return Err(WorkerError::new(e));
            }
        };
        if done || cancel.is_cancelled() {
            let stats = self.end(done).await.map_err(WorkerError::new)?;
            return Ok((
                WorkerState::Idle,
                Some(format!(
                    "pass of {} segments ({} remote, {} unreadable) in {} ms, {:.0} segments/s",
                    stats.segments,
                    stats.remote,
                    stats.unreadable,
                    stats.duration_ms,
                    stats.segments_per_second
                )),
            ));
        }
        let read = self.running.as_ref().map_or(0, |r| r.stats.segments) - before;
        if self.config.max_segments_per_second > 0 {
            let due =
                Duration::from_secs_f64(read as f64 / self.config.max_segments_per_second as f64);
            if let Some(pause) = due.checked_sub(started.elapsed()) {
                return Ok((WorkerState::Throttled(pause), None));
            }
        }
        Ok((WorkerState::Busy, None))
    }
}
