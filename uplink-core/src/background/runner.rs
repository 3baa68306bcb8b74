//! Spawning workers, waking them, and stopping them within a deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::status::{StateName, WorkerStatus};
use super::{Worker, WorkerState, backoff};
use crate::protocol::now_unix;

/// Set when the runtime shuts down; steps check it to stop midway.
#[derive(Clone, Debug)]
pub struct Cancel(watch::Receiver<bool>);

impl Cancel {
    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once cancelled.
    pub async fn cancelled(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// A token that is never cancelled, for running a step by hand.
    pub fn never() -> Self {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        Self(rx)
    }
}

/// Called after every step with the worker's status, the step's duration and whether
/// it succeeded: where a service hooks its metrics.
pub type StepObserver = Arc<dyn Fn(&WorkerStatus, Duration, bool) + Send + Sync>;

/// A running worker, as seen from outside.
#[derive(Clone)]
pub struct WorkerHandle {
    name: String,
    wake: Arc<Notify>,
    status: Arc<Mutex<WorkerStatus>>,
    /// Counts passes: a pass ends when the worker goes idle, fails, or finishes.
    pub(super) passes: watch::Receiver<u64>,
}

impl std::fmt::Debug for WorkerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerHandle")
            .field("name", &self.name)
            .finish()
    }
}

impl WorkerHandle {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Wakes the worker if it is idle or backing off (otherwise it takes another pass
    /// right after the current one).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn status(&self) -> WorkerStatus {
        self.status.lock().clone()
    }

    /// Wakes the worker and waits until it has made a whole pass that began after
    /// this call; returns its status then. `None` if the worker has stopped.
    pub async fn run_now(&self) -> Option<WorkerStatus> {
        let mut passes = self.passes.clone();
        let state = self.status.lock().state;
        let seen = *passes.borrow_and_update();
        if matches!(state, StateName::Done | StateName::Stopped) {
            return None;
        }
        // A pass under way began before this call: wait for the one after it.
        let wanted = if state == StateName::Idle || state == StateName::BackingOff {
            seen + 1
        } else {
            seen + 2
        };
        self.wake();
        passes.wait_for(|p| *p >= wanted).await.ok()?;
        Some(self.status())
    }
}

struct Entry {
    handle: WorkerHandle,
    task: JoinHandle<()>,
}

/// Runs workers until shutdown.
pub struct Runner {
    cancel: watch::Sender<bool>,
    entries: Vec<Entry>,
    observer: Option<StepObserver>,
    max_backoff: Duration,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("workers", &self.entries.len())
            .finish()
    }
}

impl Default for Runner {
    fn default() -> Self {
        Self::new()
    }
}

impl Runner {
    pub fn new() -> Self {
        let (cancel, _) = watch::channel(false);
        Self {
            cancel,
            entries: Vec::new(),
            observer: None,
            max_backoff: Duration::from_secs(300),
        }
    }

    /// Calls `observer` after every step of every worker spawned from now on.
    pub fn with_observer(mut self, observer: StepObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Longest pause after repeated failures (default 5 minutes).
    pub fn with_max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    pub fn cancel_token(&self) -> Cancel {
        Cancel(self.cancel.subscribe())
    }

    pub fn spawn<W: Worker>(&mut self, worker: W) -> WorkerHandle {
        let name = worker.name();
        let status = Arc::new(Mutex::new(WorkerStatus::new(name.clone())));
        let wake = Arc::new(Notify::new());
        let (passes_tx, passes) = watch::channel(0u64);
        let handle = WorkerHandle {
            name,
            wake: wake.clone(),
            status: status.clone(),
            passes,
        };
        let task = tokio::spawn(run(
            worker,
            Cancel(self.cancel.subscribe()),
            wake,
            status,
            passes_tx,
            self.observer.clone(),
            self.max_backoff,
        ));
        self.entries.push(Entry {
            handle: handle.clone(),
            task,
        });
        handle
    }

    pub fn handle(&self, name: &str) -> Option<WorkerHandle> {
        self.entries
            .iter()
            .find(|e| e.handle.name == name)
            .map(|e| e.handle.clone())
    }

    pub fn handles(&self) -> Vec<WorkerHandle> {
        self.entries.iter().map(|e| e.handle.clone()).collect()
    }

    pub fn statuses(&self) -> Vec<WorkerStatus> {
        self.entries.iter().map(|e| e.handle.status()).collect()
    }

    /// Stops every worker at once, without waiting: for owners that are dropped
    /// rather than shut down.
    pub fn abort(&mut self) {
        let _ = self.cancel.send(true);
        for entry in self.entries.drain(..) {
            entry.task.abort();
            entry.handle.status.lock().state = StateName::Stopped;
        }
    }

    /// Tells every worker to stop and waits up to `deadline` for their current steps;
    /// workers still running then are aborted. Returns the names of aborted workers.
    pub async fn shutdown(self, deadline: Duration) -> Vec<String> {
        let _ = self.cancel.send(true);
        let until = tokio::time::Instant::now() + deadline;
        let mut aborted = Vec::new();
        for entry in self.entries {
            entry.handle.wake();
            let mut task = entry.task;
            if tokio::time::timeout_at(until, &mut task).await.is_err() {
                task.abort();
                tracing::warn!(worker = %entry.handle.name, "worker did not stop in time; aborted");
                entry.handle.status.lock().state = StateName::Stopped;
                aborted.push(entry.handle.name.clone());
            }
        }
        aborted
    }
}

async fn run<W: Worker>(
    mut worker: W,
    cancel: Cancel,
    wake: Arc<Notify>,
    status: Arc<Mutex<WorkerStatus>>,
    passes: watch::Sender<u64>,
    observer: Option<StepObserver>,
    max_backoff: Duration,
) {
    let idle = worker.idle_period();
    let end_pass = || passes.send_modify(|p| *p += 1);
    loop {
        if cancel.is_cancelled() {
            break;
        }
        status.lock().state = StateName::Busy;
        let started = Instant::now();
        let result = worker.step(&cancel).await;
        let elapsed = started.elapsed();
        let snapshot = {
            let mut s = status.lock();
            s.steps += 1;
            s.last_step_unix = Some(now_unix());
            s.last_step_ms = Some(elapsed.as_millis() as u64);
            match &result {
                Ok((_, summary)) => {
                    s.consecutive_failures = 0;
                    s.last_error = None;
                    if summary.is_some() {
                        s.last_result = summary.clone();
                    }
                }
                Err(e) => {
                    s.failures += 1;
                    s.consecutive_failures += 1;
                    s.last_error = Some(e.0.clone());
                }
            }
            s.state = match &result {
                Ok((WorkerState::Busy, _)) => StateName::Busy,
                Ok((WorkerState::Throttled(_), _)) => StateName::Throttled,
                Ok((WorkerState::Idle, _)) => StateName::Idle,
                Ok((WorkerState::Done, _)) => StateName::Done,
                Err(_) => StateName::BackingOff,
            };
            s.clone()
        };
        if let Some(observe) = &observer {
            observe(&snapshot, elapsed, result.is_ok());
        }
        match result {
            Ok((WorkerState::Busy, _)) => tokio::task::yield_now().await,
            Ok((WorkerState::Throttled(pause), _)) => {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = cancel.cancelled() => break,
                }
            }
            Ok((WorkerState::Idle, _)) => {
                end_pass();
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(idle) => {}
                    _ = cancel.cancelled() => break,
                }
            }
            Ok((WorkerState::Done, _)) => {
                end_pass();
                return;
            }
            Err(e) => {
                let pause = backoff(snapshot.consecutive_failures, max_backoff);
                tracing::warn!(worker = %snapshot.name, error = %e, retry_in = ?pause, "worker step failed");
                end_pass();
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(pause) => {}
                    _ = cancel.cancelled() => break,
                }
            }
        }
    }
    status.lock().state = StateName::Stopped;
    end_pass();
}
