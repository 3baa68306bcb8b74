//! The audit sampler: an observer of the segment loop that picks segments at random,
//! weighted by their size (so every stored byte is equally likely to be checked), with
//! one pass of weighted reservoir sampling (key `u^(1/w)`, keep the largest keys).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;
use rand::Rng;

use crate::error::Result;
use crate::metabase::{MetabaseError, Segment, SegmentKey};
use crate::segment_loop::{Observer, Pass, PassStats};

/// Segments waiting for their audit, shared with the audit worker.
pub type AuditQueue = Arc<Mutex<VecDeque<SegmentKey>>>;

struct Keyed(f64, SegmentKey);

impl PartialEq for Keyed {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for Keyed {}
impl PartialOrd for Keyed {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Keyed {
    // Reversed: the heap's top is the smallest key, the first to be replaced.
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0)
    }
}

pub struct Sampler {
    size: usize,
    heap: BinaryHeap<Keyed>,
    queue: AuditQueue,
    wake: Option<uplink_core::background::WorkerHandle>,
}

impl Sampler {
    pub fn new(size: usize, queue: AuditQueue) -> Self {
        Self {
            size,
            heap: BinaryHeap::new(),
            queue,
            wake: None,
        }
    }

    /// Wakes the audit worker when a new sample is ready.
    pub fn waking(mut self, worker: uplink_core::background::WorkerHandle) -> Self {
        self.wake = Some(worker);
        self
    }
}

#[async_trait::async_trait]
impl Observer for Sampler {
    fn name(&self) -> &'static str {
        "audit-sampler"
    }

    async fn start(&mut self, _pass: &Pass) -> Result<()> {
        self.heap.clear();
        Ok(())
    }

    async fn segment(&mut self, _pass: &Pass, segment: &Segment) -> Result<()> {
        let Some(remote) = segment.remote() else {
            return Ok(());
        };
        if self.size == 0 || remote.pieces.is_empty() {
            return Ok(());
        }
        let weight = (remote.piece_size.max(1) * remote.pieces.len() as u64) as f64;
        let u: f64 = rand::thread_rng().gen_range(f64::MIN_POSITIVE..1.0);
        let key = u.powf(1.0 / weight);
        if self.heap.len() < self.size {
            self.heap.push(Keyed(key, segment.key.clone()));
        } else if self.heap.peek().is_some_and(|min| key > min.0) {
            self.heap.pop();
            self.heap.push(Keyed(key, segment.key.clone()));
        }
        Ok(())
    }

    fn unreadable(&mut self, _error: &MetabaseError) {}

    async fn finish(&mut self, _pass: &Pass, _stats: &PassStats) -> Result<()> {
        let picked: Vec<SegmentKey> = std::mem::take(&mut self.heap)
            .into_iter()
            .map(|k| k.1)
            .collect();
        *self.queue.lock() = picked.into();
        if let Some(w) = &self.wake {
            w.wake();
        }
        Ok(())
    }
}
