//! The satellite's background jobs on the shared worker runtime
//! ([`uplink_core::background`]).
//!
//! Simple periodic jobs implement [`PeriodicJob`] (one run per interval, woken early
//! on demand); jobs that go in steps (the segment loop, repair, audit) implement the
//! runtime's `Worker` directly. Jobs that must not run in two satellite processes at
//! once are wrapped in [`Exclusive`], which holds a lease in the shared database.

mod expiry;
mod lease;
mod piece_deleter;
mod selection_refresh;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use uplink_core::background::{
    Cancel, Runner, Worker, WorkerError, WorkerHandle, WorkerState, WorkerStatus,
};
use uplink_core::protocol::now_unix;

pub use expiry::ExpiryWorker;
pub use lease::{Exclusive, Leases};
pub use piece_deleter::PieceDeleter;
pub use selection_refresh::SelectionRefresh;

use crate::error::SatelliteError;
use crate::metrics::Metrics;

/// A job that runs once per interval.
#[async_trait::async_trait]
pub trait PeriodicJob: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn interval(&self) -> Duration;
    /// One run; returns a short human summary of what it did.
    async fn run_once(&self) -> Result<String, SatelliteError>;
}

/// Runs a [`PeriodicJob`] as a runtime worker: one run per step, then idle.
struct Periodic(Arc<dyn PeriodicJob>);

#[async_trait::async_trait]
impl Worker for Periodic {
    fn name(&self) -> String {
        self.0.name().to_string()
    }
    fn idle_period(&self) -> Duration {
        self.0.interval()
    }
    async fn step(&mut self, _: &Cancel) -> Result<(WorkerState, Option<String>), WorkerError> {
        let summary = self.0.run_once().await.map_err(WorkerError::new)?;
        Ok((WorkerState::Idle, Some(summary)))
    }
}

/// Every worker of this process, for the health endpoint and admin commands.
#[derive(Clone, Default)]
pub struct StatusHandle(Arc<Mutex<Vec<WorkerHandle>>>);

impl StatusHandle {
    pub fn snapshot(&self) -> BTreeMap<String, WorkerStatus> {
        self.0
            .lock()
            .iter()
            .map(|h| (h.name().to_string(), h.status()))
            .collect()
    }

    fn push(&self, handle: WorkerHandle) {
        self.0.lock().push(handle);
    }

    fn find(&self, name: &str) -> Option<WorkerHandle> {
        self.0.lock().iter().find(|h| h.name() == name).cloned()
    }
}

/// Runs this process's workers until shutdown.
pub struct WorkerGroup {
    runner: Runner,
    handles: StatusHandle,
}

impl std::fmt::Debug for WorkerGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerGroup")
            .field("status", &self.handles.snapshot())
            .finish()
    }
}

/// How long workers get to finish their current step at shutdown.
const EXIT_DEADLINE: Duration = Duration::from_secs(10);

impl WorkerGroup {
    pub fn new(metrics: Metrics) -> Self {
        let observer = Arc::new(move |status: &WorkerStatus, took: Duration, ok: bool| {
            let name = status.name.as_str();
            metrics
                .worker_last_duration
                .with_label_values(&[name])
                .observe(took.as_secs_f64());
            metrics
                .worker_runs
                .with_label_values(&[name, if ok { "ok" } else { "error" }])
                .inc();
            if ok {
                metrics
                    .worker_last_success
                    .with_label_values(&[name])
                    .set(now_unix());
            }
        });
        Self {
            runner: Runner::new().with_observer(observer),
            handles: StatusHandle::default(),
        }
    }

    /// Starts a worker of the runtime.
    pub fn spawn<W: Worker>(&mut self, worker: W) -> WorkerHandle {
        let handle = self.runner.spawn(worker);
        self.handles.push(handle.clone());
        handle
    }

    /// Starts a periodic job (in every process).
    pub fn spawn_periodic(&mut self, job: Arc<dyn PeriodicJob>) -> WorkerHandle {
        self.spawn(Periodic(job))
    }

    /// Starts a periodic job that runs in one satellite process at a time.
    pub fn spawn_exclusive(&mut self, job: Arc<dyn PeriodicJob>, leases: &Leases) -> WorkerHandle {
        let lease = leases.for_job(job.name(), job.interval() * 3 + Duration::from_secs(30));
        self.spawn(Exclusive::new(Periodic(job), lease))
    }

    /// Runs a worker's job now and waits for the pass to end (admin commands, tests).
    pub async fn trigger(&self, name: &str) -> Option<WorkerStatus> {
        self.handles.find(name)?.run_now().await
    }

    pub fn handle(&self, name: &str) -> Option<WorkerHandle> {
        self.handles.find(name)
    }

    pub fn status(&self) -> BTreeMap<String, WorkerStatus> {
        self.handles.snapshot()
    }

    pub fn status_handle(&self) -> StatusHandle {
        self.handles.clone()
    }

    /// Signals every worker and waits (within a deadline) for their current steps.
    pub async fn shutdown(self) {
        self.runner.shutdown(EXIT_DEADLINE).await;
    }
}
