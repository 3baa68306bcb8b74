use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::*;

/// Counts up to `work` items one step at a time, then idles; fails on demand.
struct Counter {
    done: Arc<AtomicU32>,
    work: Arc<AtomicU32>,
    fail: Arc<AtomicU32>,
}

#[async_trait::async_trait]
impl Worker for Counter {
    fn name(&self) -> String {
        "counter".into()
    }
    fn idle_period(&self) -> Duration {
        Duration::from_secs(3600)
    }
    async fn step(&mut self, _: &Cancel) -> Result<(WorkerState, Option<String>), WorkerError> {
        if self.fail.load(Ordering::SeqCst) > 0 {
            self.fail.fetch_sub(1, Ordering::SeqCst);
            return Err(WorkerError::new("asked to fail"));
        }
        if self.done.load(Ordering::SeqCst) < self.work.load(Ordering::SeqCst) {
            self.done.fetch_add(1, Ordering::SeqCst);
            return Ok((WorkerState::Busy, None));
        }
        Ok((
            WorkerState::Idle,
            Some(format!("{} done", self.done.load(Ordering::SeqCst))),
        ))
    }
}

fn counter() -> (Counter, Arc<AtomicU32>, Arc<AtomicU32>, Arc<AtomicU32>) {
    let (done, work, fail) = (Arc::default(), Arc::default(), Arc::default());
    let c = Counter {
        done: Arc::clone(&done),
        work: Arc::clone(&work),
        fail: Arc::clone(&fail),
    };
    (c, done, work, fail)
}

#[tokio::test]
async fn idle_workers_are_woken_not_polled() {
    let mut runner = Runner::new();
    let (c, done, work, _) = counter();
    let handle = runner.spawn(c);
    let first = handle.run_now().await.unwrap();
    assert_eq!(first.state, StateName::Idle);
    let steps = first.steps;
    // Work appears; the idle period is an hour, so only a wake-up can make it happen.
    work.store(5, Ordering::SeqCst);
    let status = handle.run_now().await.unwrap();
    assert_eq!(done.load(Ordering::SeqCst), 5);
    assert_eq!(status.last_result.as_deref(), Some("5 done"));
    assert_eq!(status.steps, steps + 6, "five busy steps and one idle step");
    assert!(runner.shutdown(Duration::from_secs(5)).await.is_empty());
}

#[tokio::test]
async fn failures_are_recorded_and_backed_off() {
    let mut runner = Runner::new();
    let (c, _, _, fail) = counter();
    fail.store(2, Ordering::SeqCst);
    let handle = runner.spawn(c);
    // The first pass ends with the first failure.
    let mut status = handle.run_now().await.unwrap();
    while status.last_error.is_some() {
        assert_eq!(status.state, StateName::BackingOff);
        assert_eq!(status.last_error.as_deref(), Some("asked to fail"));
        status = handle.run_now().await.unwrap();
    }
    assert_eq!(status.failures, 2);
    assert_eq!(status.consecutive_failures, 0);
    assert_eq!(status.state, StateName::Idle);
    runner.shutdown(Duration::from_secs(5)).await;
    assert_eq!(backoff(1, Duration::from_secs(300)), Duration::from_secs(1));
    assert_eq!(backoff(4, Duration::from_secs(300)), Duration::from_secs(8));
    assert_eq!(
        backoff(40, Duration::from_secs(300)),
        Duration::from_secs(300)
    );
}

/// A step that ignores cancellation is aborted at the deadline; one that honours it
/// stops by itself.
struct Sleeper {
    honours_cancel: bool,
}

#[async_trait::async_trait]
impl Worker for Sleeper {
    fn name(&self) -> String {
        format!("sleeper-{}", self.honours_cancel)
    }
    fn idle_period(&self) -> Duration {
        Duration::from_secs(3600)
    }
    async fn step(
        &mut self,
        cancel: &Cancel,
    ) -> Result<(WorkerState, Option<String>), WorkerError> {
        if self.honours_cancel {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                _ = cancel.cancelled() => {}
            }
        } else {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Ok((WorkerState::Busy, None))
    }
}

#[tokio::test]
async fn shutdown_respects_the_deadline() {
    let mut runner = Runner::new();
    runner.spawn(Sleeper {
        honours_cancel: true,
    });
    runner.spawn(Sleeper {
        honours_cancel: false,
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let aborted = runner.shutdown(Duration::from_millis(300)).await;
    assert_eq!(aborted, vec!["sleeper-false".to_string()]);
}

#[tokio::test]
async fn throttled_workers_pause_and_done_workers_stop() {
    struct Twice(u32);
    #[async_trait::async_trait]
    impl Worker for Twice {
        fn name(&self) -> String {
            "twice".into()
        }
        fn idle_period(&self) -> Duration {
            Duration::from_secs(3600)
        }
        async fn step(&mut self, _: &Cancel) -> Result<(WorkerState, Option<String>), WorkerError> {
            self.0 += 1;
            Ok((
                if self.0 < 2 {
                    WorkerState::Throttled(Duration::from_millis(10))
                } else {
                    WorkerState::Done
                },
                None,
            ))
        }
    }
    let mut runner = Runner::new();
    let handle = runner.spawn(Twice(0));
    let mut passes = handle.passes.clone();
    passes.wait_for(|p| *p >= 1).await.unwrap();
    let status = handle.status();
    assert_eq!(status.state, StateName::Done);
    assert_eq!(status.steps, 2);
    assert!(
        handle.run_now().await.is_none(),
        "a finished worker runs no more"
    );
    runner.shutdown(Duration::from_secs(1)).await;
}
