//! Choosing nodes for a new segment: online, not full, not disqualified, suspended or
//! exiting, at most one per network, in random order.

use std::collections::HashSet;

use rand::seq::SliceRandom;
use uplink_core::protocol::{NodeId, now_unix};

use super::{NodeInfo, Overlay};
use crate::error::{Result, SatelliteError};

#[derive(Clone, Debug, Default)]
pub struct SelectionRequest {
    /// How many nodes to return if possible (the scheme's `total`).
    pub wanted: usize,
    /// Fewer than this is an error (the scheme's `optimal`).
    pub minimum: usize,
    /// Free space each node must have.
    pub min_free_bytes: u64,
    /// Nodes not to choose (e.g. ones that just failed this uplink).
    pub exclude: HashSet<NodeId>,
}

impl Overlay {
    pub fn select(&self, req: &SelectionRequest) -> Result<Vec<NodeInfo>> {
        let nodes = self.snapshot();
        let now = now_unix();
        let (mut offline, mut full, mut unhealthy) = (0, 0, 0);
        let mut candidates: Vec<&NodeInfo> = Vec::with_capacity(nodes.len());
        for node in nodes.values() {
            if req.exclude.contains(&node.id) {
                continue;
            }
            if node.disqualified || node.suspended || node.exiting {
                unhealthy += 1;
            } else if !self.is_online(node, now) {
                offline += 1;
            } else if node.free_bytes < req.min_free_bytes {
                full += 1;
            } else {
                candidates.push(node);
            }
        }
        candidates.shuffle(&mut rand::thread_rng());
        let mut networks = HashSet::new();
        let mut chosen = Vec::with_capacity(req.wanted);
        for node in candidates {
            if chosen.len() == req.wanted {
                break;
            }
            if networks.insert(node.last_net.as_str()) {
                chosen.push(node.clone());
            }
        }
        if chosen.len() < req.minimum {
            return Err(SatelliteError::TooFewNodes(format!(
                "too few storage nodes: an upload needs {} in distinct networks but only {} are \
                 available ({} known, {} offline, {} without enough free space, {} disqualified \
                 or suspended, {} excluded after failing)",
                req.minimum,
                chosen.len(),
                nodes.len(),
                offline,
                full,
                unhealthy,
                req.exclude.len()
            )));
        }
        Ok(chosen)
    }
}
