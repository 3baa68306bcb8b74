//! Faults of a test network's nodes, set through the wrappers every node of the
//! simulator runs on (its links, piece store and disk; see
//! [`node_sim::sim::faults`]). Tests say what is wrong with a node and when; none
//! reaches into a node's data directory.
//!
//! ```ignore
//! net.set_faults(3, faults::offline()).await;
//! net.set_faults(4, faults::slow(Duration::from_millis(100), 128 << 10)).await;
//! net.clear_faults(3).await;
//! ```

use std::sync::Arc;
use std::time::Duration;

pub use node_sim::sim::faults::{
    Corrupt, CorruptOn, FaultCounts, FaultSpec, Lose, NodeFaults, Shape, Slow,
};

use crate::TestNetwork;

impl TestNetwork {
    /// The fault handle of node `index` (1-based), read by the node on every operation.
    pub fn faults(&self, index: usize) -> Arc<NodeFaults> {
        self.network
            .faults(index)
            .unwrap_or_else(|| panic!("no node {index} in the test network"))
    }

    /// Replaces the faults of node `index`. They apply at once; this also waits until
    /// the node's links have opened or closed accordingly, so that the next connection
    /// sees the change.
    pub async fn set_faults(&self, index: usize, spec: FaultSpec) {
        self.network
            .set_faults(index, spec)
            .unwrap_or_else(|e| panic!("faults of node {index}: {e}"));
        self.network.links_settled(index).await;
    }

    /// Node `index` is well again (see [`Self::set_faults`]).
    pub async fn clear_faults(&self, index: usize) {
        self.network
            .clear_faults(index)
            .unwrap_or_else(|e| panic!("faults of node {index}: {e}"));
        self.network.links_settled(index).await;
    }
}

/// Refuses connections, drops open ones, stops checking in.
pub fn offline() -> FaultSpec {
    FaultSpec {
        offline: true,
        ..Default::default()
    }
}

/// Answers, but refuses every upload.
pub fn refusing_uploads() -> FaultSpec {
    FaultSpec {
        refuse_uploads: true,
        ..Default::default()
    }
}

/// Reports no free space; writes fail with "no space left on device".
pub fn disk_full() -> FaultSpec {
    FaultSpec {
        disk_full: true,
        ..Default::default()
    }
}

/// `latency` and `bandwidth` (bytes per second) each way.
pub fn slow(latency: Duration, bandwidth: u64) -> FaultSpec {
    FaultSpec {
        slow: Some(Slow::symmetric(latency, Some(bandwidth))),
        ..Default::default()
    }
}

/// Every read of the `share` of pieces chosen by `seed` returns a flipped byte.
pub fn corrupting_reads(share: f64, seed: u64) -> FaultSpec {
    FaultSpec {
        corrupt: Some(Corrupt {
            share,
            seed,
            on: CorruptOn::Read,
        }),
        ..Default::default()
    }
}

/// The `share` of pieces chosen by `seed` vanishes.
pub fn losing(share: f64, seed: u64) -> FaultSpec {
    FaultSpec {
        lose: Some(Lose { share, seed }),
        ..Default::default()
    }
}

/// The node's disk is gone while the node keeps answering: every piece has vanished
/// and nothing new can be written.
pub fn disk_gone() -> FaultSpec {
    FaultSpec {
        lose: Some(Lose {
            share: 1.0,
            seed: 0,
        }),
        disk_full: true,
        ..Default::default()
    }
}
