//! The background worker runtime shared by the satellite and the storage nodes.
//!
//! A worker does its job in small steps and says after each one how it stands: busy
//! (call again at once), throttled (call again after a pause it chooses, to keep a rate),
//! idle (nothing to do: sleep until woken or until its idle period passes), or done.
//! The runtime keeps a status per worker (state, steps, errors, last result), backs off
//! exponentially while a worker keeps failing, wakes idle workers on demand instead of
//! polling them on a fixed tick, hands each step a [`Cancel`] so that long steps can
//! stop midway, and at shutdown gives every worker a deadline to finish its step before
//! the task is aborted.
//!
//! Exclusive jobs across processes (leases in a shared database) are the satellite's
//! business: it wraps a worker in one that holds the lease (see `satellite::workers`).

mod runner;
mod status;

pub use runner::{Cancel, Runner, WorkerHandle};
pub use status::{StateName, WorkerStatus};

use std::time::Duration;

/// How a worker stands after one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerState {
    /// More to do now.
    Busy,
    /// More to do, but not before this pause (rate limits).
    Throttled(Duration),
    /// Nothing to do until woken or until the worker's idle period passes.
    Idle,
    /// Finished for good; the runtime stops calling it.
    Done,
}

/// A step failed. The runtime records it and backs off before the next step.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct WorkerError(pub String);

impl WorkerError {
    pub fn new(e: impl std::fmt::Display) -> Self {
        Self(e.to_string())
    }
}

/// One background job.
#[async_trait::async_trait]
pub trait Worker: Send + 'static {
    fn name(&self) -> String;

    /// How long an idle worker sleeps before it looks for work by itself.
    fn idle_period(&self) -> Duration;

    /// Does one step. `cancel` is set at shutdown; a long step should check it between
    /// items and return early. The `String` is a short summary for the status page.
    async fn step(&mut self, cancel: &Cancel)
    -> Result<(WorkerState, Option<String>), WorkerError>;
}

/// Backoff after `failures` consecutive failed steps: 1 s doubling to `max`.
pub fn backoff(failures: u32, max: Duration) -> Duration {
    let secs = 1u64
        .checked_shl(failures.saturating_sub(1).min(20))
        .unwrap_or(u64::MAX);
    Duration::from_secs(secs).min(max)
}

#[cfg(test)]
mod tests;
