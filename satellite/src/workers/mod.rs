//! Background jobs behind one small abstraction: each worker does one unit of work per
//! tick; the runner schedules it, records status and metrics, and stops it cleanly.
//!
//! Audit, repair, garbage collection and tallies (later) plug in the same way.

mod expiry;
mod piece_deleter;
mod selection_refresh;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uplink_core::protocol::now_unix;

pub use expiry::ExpiryWorker;
pub use piece_deleter::PieceDeleter;
pub use selection_refresh::SelectionRefresh;

use crate::error::SatelliteError;
use crate::metrics::Metrics;

#[async_trait::async_trait]
pub trait Worker: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn interval(&self) -> Duration;
    /// One unit of work; returns a short human summary of what it did.
    async fn run_once(&self) -> Result<String, SatelliteError>;
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct WorkerStatus {
    pub running: bool,
    pub runs: u64,
    pub failures: u64,
    pub last_run_unix: Option<i64>,
    pub last_duration_ms: Option<u64>,
    pub last_result: Option<String>,
    pub last_error: Option<String>,
}

/// Live status of every worker, shared with the health endpoint.
pub type StatusHandle = Arc<Mutex<BTreeMap<&'static str, WorkerStatus>>>;

/// Runs workers until shutdown.
pub struct WorkerGroup {
    shutdown: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
    workers: Vec<Arc<dyn Worker>>,
    status: StatusHandle,
    metrics: Metrics,
}

impl std::fmt::Debug for WorkerGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerGroup")
            .field("status", &*self.status.lock())
            .finish()
    }
}

impl WorkerGroup {
    pub fn new(metrics: Metrics) -> Self {
        let (shutdown, _) = watch::channel(false);
        Self {
            shutdown,
            handles: Vec::new(),
            workers: Vec::new(),
            status: Arc::default(),
            metrics,
        }
    }

    pub fn spawn(&mut self, worker: Arc<dyn Worker>) {
        let name = worker.name();
        self.status.lock().insert(
            name,
            WorkerStatus {
                running: true,
                ..Default::default()
            },
        );
        let mut stop = self.shutdown.subscribe();
        let status = self.status.clone();
        let metrics = self.metrics.clone();
        let w = worker.clone();
        self.workers.push(worker);
        self.handles.push(tokio::spawn(async move {
            loop {
                let _ = run_and_record(&*w, &status, &metrics).await;
                tokio::select! {
                    _ = tokio::time::sleep(w.interval()) => {}
                    _ = stop.changed() => break,
                }
            }
            if let Some(s) = status.lock().get_mut(name) {
                s.running = false;
            }
        }));
    }

    /// Runs one worker's unit of work now (admin commands, tests).
    pub async fn trigger(&self, name: &str) -> Option<Result<String, String>> {
        let worker = self.workers.iter().find(|w| w.name() == name)?.clone();
        Some(run_and_record(&*worker, &self.status, &self.metrics).await)
    }

    pub fn status(&self) -> BTreeMap<&'static str, WorkerStatus> {
        self.status.lock().clone()
    }

    pub fn status_handle(&self) -> StatusHandle {
        self.status.clone()
    }

    /// Signals every worker and waits for the current units of work to finish.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for handle in self.handles {
            let _ = handle.await;
        }
    }
}

async fn run_and_record(
    worker: &dyn Worker,
    status: &Mutex<BTreeMap<&'static str, WorkerStatus>>,
    metrics: &Metrics,
) -> Result<String, String> {
    let name = worker.name();
    let started = Instant::now();
    let result = worker.run_once().await.map_err(|e| e.to_string());
    let elapsed = started.elapsed();
    metrics
        .worker_last_duration
        .with_label_values(&[name])
        .observe(elapsed.as_secs_f64());
    metrics
        .worker_runs
        .with_label_values(&[name, if result.is_ok() { "ok" } else { "error" }])
        .inc();
    let mut guard = status.lock();
    let s = guard.entry(name).or_default();
    s.runs += 1;
    s.last_run_unix = Some(now_unix());
    s.last_duration_ms = Some(elapsed.as_millis() as u64);
    match &result {
        Ok(summary) => {
            s.last_result = Some(summary.clone());
            s.last_error = None;
            metrics
                .worker_last_success
                .with_label_values(&[name])
                .set(now_unix());
        }
        Err(e) => {
            s.failures += 1;
            s.last_error = Some(e.clone());
            tracing::warn!(worker = name, error = %e, "worker run failed");
        }
    }
    result
}
