//! The audit sampler: an observer of the segment loop that picks segments at random,
//! weighted by their size (so every stored byte is equally likely to be checked), with
//! one pass of weighted reservoir sampling (key `u^(1/w)`, keep the largest keys).
//! The key is kept as its logarithm `ln(u) / w`: the same order without the keys of
//! heavy segments crowding just below 1.0, where a double has little resolution left.

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

/// A weighted reservoir of `size` segment keys, one offer at a time.
struct Reservoir {
    size: usize,
    heap: BinaryHeap<Keyed>,
}

impl Reservoir {
    /// Offers a segment of `weight` with the uniform draw `u` in (0, 1).
    fn offer(&mut self, weight: f64, u: f64, key: &SegmentKey) {
        if self.size == 0 {
            return;
        }
        let k = u.ln() / weight;
        if self.heap.len() < self.size {
            self.heap.push(Keyed(k, key.clone()));
        } else if self.heap.peek().is_some_and(|min| k > min.0) {
            self.heap.pop();
            self.heap.push(Keyed(k, key.clone()));
        }
    }

    fn take(&mut self) -> Vec<SegmentKey> {
        std::mem::take(&mut self.heap)
            .into_iter()
            .map(|k| k.1)
            .collect()
    }
}

pub struct Sampler {
    reservoir: Reservoir,
    queue: AuditQueue,
    wake: Option<uplink_core::background::WorkerHandle>,
}

impl Sampler {
    pub fn new(size: usize, queue: AuditQueue) -> Self {
        Self {
            reservoir: Reservoir {
                size,
                heap: BinaryHeap::new(),
            },
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
        self.reservoir.heap.clear();
        Ok(())
    }

    async fn segment(&mut self, _pass: &Pass, segment: &Segment) -> Result<()> {
        let Some(remote) = segment.remote() else {
            return Ok(());
        };
        if remote.pieces.is_empty() {
            return Ok(());
        }
        let weight = (remote.piece_size.max(1) * remote.pieces.len() as u64) as f64;
        let u: f64 = rand::thread_rng().gen_range(f64::MIN_POSITIVE..1.0);
        self.reservoir.offer(weight, u, &segment.key);
        Ok(())
    }

    fn unreadable(&mut self, _error: &MetabaseError) {}

    async fn finish(&mut self, _pass: &Pass, _stats: &PassStats) -> Result<()> {
        let picked = self.reservoir.take();
        *self.queue.lock() = picked.into();
        if let Some(w) = &self.wake {
            w.wake();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use uplink_core::protocol::SegmentPosition;

    /// Of a light segment and one nine times heavier, a sample of one picks the heavy
    /// one nine times in ten, whatever the scale of the weights.
    fn heavy_share(scale: f64) -> f64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let (light, heavy) = (
            SegmentKey {
                object_id: "light".into(),
                position: SegmentPosition::single(0),
            },
            SegmentKey {
                object_id: "heavy".into(),
                position: SegmentPosition::single(0),
            },
        );
        let trials = 4000;
        let mut picked_heavy = 0;
        for _ in 0..trials {
            let mut r = Reservoir {
                size: 1,
                heap: BinaryHeap::new(),
            };
            r.offer(scale, rng.gen_range(f64::MIN_POSITIVE..1.0), &light);
            r.offer(9.0 * scale, rng.gen_range(f64::MIN_POSITIVE..1.0), &heavy);
            if r.take() == vec![heavy.clone()] {
                picked_heavy += 1;
            }
        }
        picked_heavy as f64 / trials as f64
    }

    #[test]
    fn samples_are_weighted_by_bytes_at_every_scale() {
        // 64 KiB pieces, and pieces of a 110-piece scheme at petabyte scale, where the
        // key u^(1/w) itself would round to 1.0.
        for scale in [65536.0, 1e17] {
            let share = heavy_share(scale);
            assert!((0.87..0.93).contains(&share), "scale {scale}: {share}");
        }
    }

    #[test]
    fn a_reservoir_keeps_its_size_and_an_empty_one_nothing() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut r = Reservoir {
            size: 10,
            heap: BinaryHeap::new(),
        };
        for i in 0..1000 {
            let key = SegmentKey {
                object_id: format!("{i}"),
                position: SegmentPosition::single(0),
            };
            r.offer(1.0 + i as f64, rng.gen_range(f64::MIN_POSITIVE..1.0), &key);
        }
        let picked = r.take();
        assert_eq!(picked.len(), 10);
        let distinct: std::collections::HashSet<_> = picked.iter().collect();
        assert_eq!(distinct.len(), 10);
        let mut none = Reservoir {
            size: 0,
            heap: BinaryHeap::new(),
        };
        none.offer(1.0, 0.5, &picked[0]);
        assert!(none.take().is_empty());
    }
}
