//! One node's faults as a shared handle ([`NodeFaults`]), read by the node's piece
//! store, disk and network links on every operation, so that a change (from a test, a
//! plan or the control endpoint) takes effect at once, in transfers already running
//! too; and the set of handles of a whole network ([`FaultRegistry`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;
use serde::Serialize;
use tokio::sync::watch;

use super::FaultError;
use super::spec::{FaultSpec, Shape};

/// Which way bytes travel, as the node sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Towards the node.
    Ingress,
    /// From the node.
    Egress,
}

/// What the faults of one node did so far.
#[derive(Debug, Default)]
struct Counters {
    connections_dropped: AtomicU64,
    uploads_refused: AtomicU64,
    writes_failed: AtomicU64,
    bytes_corrupted: AtomicU64,
    pieces_lost: AtomicU64,
}

/// A snapshot of what the faults of one node did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FaultCounts {
    /// Connections cut because the node went offline.
    pub connections_dropped: u64,
    /// Uploads refused at their start.
    pub uploads_refused: u64,
    /// Piece writes failed because the disk was full.
    pub writes_failed: u64,
    /// Bytes flipped, on reads and writes.
    pub bytes_corrupted: u64,
    /// Pieces that vanished.
    pub pieces_lost: u64,
}

/// The faults of one node, changeable at any time.
#[derive(Debug)]
pub struct NodeFaults {
    index: usize,
    spec: RwLock<FaultSpec>,
    version: watch::Sender<u64>,
    counters: Counters,
}

impl NodeFaults {
    /// No faults, for node `index` (1-based, as in its address).
    pub fn new(index: usize) -> Arc<Self> {
        Arc::new(Self {
            index,
            spec: RwLock::new(FaultSpec::default()),
            version: watch::Sender::new(0),
            counters: Counters::default(),
        })
    }

    pub fn index(&self) -> usize {
        self.index
    }

    /// The faults in force now.
    pub fn get(&self) -> FaultSpec {
        self.spec.read().clone()
    }

    /// Replaces the faults; refused (and nothing changed) if a value is out of range.
    pub fn set(&self, spec: FaultSpec) -> Result<(), FaultError> {
        spec.validate()?;
        *self.spec.write() = spec;
        self.version.send_modify(|v| *v += 1);
        Ok(())
    }

    /// Changes some faults, keeping the others.
    pub fn update(&self, change: impl FnOnce(&mut FaultSpec)) -> Result<(), FaultError> {
        let mut spec = self.get();
        change(&mut spec);
        self.set(spec)
    }

    /// Turns every fault off.
    pub fn clear(&self) {
        *self.spec.write() = FaultSpec::default();
        self.version.send_modify(|v| *v += 1);
    }

    pub fn set_offline(&self, on: bool) {
        self.modify(|s| s.offline = on);
    }

    pub fn set_refuse_uploads(&self, on: bool) {
        self.modify(|s| s.refuse_uploads = on);
    }

    pub fn set_disk_full(&self, on: bool) {
        self.modify(|s| s.disk_full = on);
    }

    /// Changes that cannot be out of range.
    fn modify(&self, change: impl FnOnce(&mut FaultSpec)) {
        change(&mut self.spec.write());
        self.version.send_modify(|v| *v += 1);
    }

    pub fn is_offline(&self) -> bool {
        self.spec.read().offline
    }

    /// The shape of one direction of the node's link now (`None`: not slow).
    pub fn shape(&self, direction: Direction) -> Option<Shape> {
        let slow = self.spec.read().slow?;
        let shape = match direction {
            Direction::Ingress => slow.ingress,
            Direction::Egress => slow.egress,
        };
        shape.is_shaped().then_some(shape)
    }

    /// Wakes on every change of the faults.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// What the faults did so far.
    pub fn counts(&self) -> FaultCounts {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        FaultCounts {
            connections_dropped: get(&c.connections_dropped),
            uploads_refused: get(&c.uploads_refused),
            writes_failed: get(&c.writes_failed),
            bytes_corrupted: get(&c.bytes_corrupted),
            pieces_lost: get(&c.pieces_lost),
        }
    }

    pub(crate) fn count_dropped(&self) {
        self.counters
            .connections_dropped
            .fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn count_refused_upload(&self) {
        self.counters
            .uploads_refused
            .fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn count_failed_write(&self) {
        self.counters.writes_failed.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn count_corrupted(&self, bytes: u64) {
        self.counters
            .bytes_corrupted
            .fetch_add(bytes, Ordering::Relaxed);
    }
    pub(crate) fn count_lost(&self) {
        self.counters.pieces_lost.fetch_add(1, Ordering::Relaxed);
    }
}

/// The fault handles of every node of a network, by node index. Shared with the
/// control endpoint, so nodes that join later are reachable there too.
#[derive(Debug, Default)]
pub struct FaultRegistry {
    nodes: RwLock<BTreeMap<usize, Arc<NodeFaults>>>,
}

impl FaultRegistry {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    pub fn insert(&self, faults: Arc<NodeFaults>) {
        self.nodes.write().insert(faults.index(), faults);
    }

    pub fn remove(&self, index: usize) -> Option<Arc<NodeFaults>> {
        self.nodes.write().remove(&index)
    }

    pub fn get(&self, index: usize) -> Option<Arc<NodeFaults>> {
        self.nodes.read().get(&index).cloned()
    }

    /// Every node's handle, by index.
    pub fn all(&self) -> Vec<Arc<NodeFaults>> {
        self.nodes.read().values().cloned().collect()
    }

    /// Every node's faults now, by index.
    pub fn snapshot(&self) -> BTreeMap<usize, FaultSpec> {
        self.nodes
            .read()
            .iter()
            .map(|(i, f)| (*i, f.get()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::faults::spec::Slow;
    use std::time::Duration;

    #[test]
    fn changes_are_seen_and_bad_ones_change_nothing() {
        let f = NodeFaults::new(4);
        let mut rx = f.subscribe();
        f.set_offline(true);
        assert!(rx.has_changed().unwrap());
        rx.mark_unchanged();
        assert!(f.is_offline());
        let bad = FaultSpec {
            slow: Some(Slow::symmetric(Duration::ZERO, Some(0))),
            ..Default::default()
        };
        assert!(f.set(bad).is_err());
        assert!(!rx.has_changed().unwrap(), "a refused change wakes nobody");
        assert!(f.is_offline() && f.get().slow.is_none());
        f.update(|s| s.slow = Some(Slow::symmetric(Duration::from_millis(5), None)))
            .unwrap();
        assert_eq!(
            f.shape(Direction::Egress).unwrap().latency,
            Duration::from_millis(5)
        );
        assert!(f.get().offline, "update keeps the rest");
        f.clear();
        assert!(f.get().is_clear() && f.shape(Direction::Ingress).is_none());
    }
}
