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
    /// Networks not to choose from (repair: those that already hold a piece).
    pub exclude_networks: HashSet<String>,
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
        let (vetted, new): (Vec<&NodeInfo>, Vec<&NodeInfo>) =
            candidates.into_iter().partition(|n| n.vetted);
        let new_share = ((req.wanted as f64) * self.config().new_node_fraction).ceil() as usize;
        let mut networks: HashSet<&str> = req.exclude_networks.iter().map(String::as_str).collect();
        let mut chosen: Vec<NodeInfo> = Vec::with_capacity(req.wanted);
        // Unvetted nodes get their small share first, vetted nodes the rest, and
        // unvetted nodes fill what vetted ones cannot (a young network).
        for (pool, cap) in [(&new, new_share), (&vetted, req.wanted), (&new, req.wanted)] {
            let limit = cap.min(req.wanted);
            let mut taken = 0;
            for node in pool.iter() {
                if chosen.len() == req.wanted || taken == limit {
                    break;
                }
                if chosen.iter().any(|c| c.id == node.id) {
                    continue;
                }
                if networks.insert(node.last_net.as_str()) {
                    chosen.push((*node).clone());
                    taken += 1;
                }
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use sea_orm::{ActiveModelTrait, EntityTrait, Set};
    use uplink_core::protocol::wire::{CheckInRequest, NodeCapacity};
    use uplink_core::protocol::{Identity, NodeId, Signature, now_unix};

    use super::*;
    use crate::db;
    use crate::db::entities::node;
    use crate::overlay::OverlayConfig;

    async fn overlay(dir: &std::path::Path) -> Overlay {
        let url = format!("sqlite://{}?mode=rwc", dir.join("sat.db").display());
        let db = db::connect(&url).await.unwrap();
        let sat = Identity::generate(0);
        Overlay::new(
            db,
            OverlayConfig {
                online_window: Duration::from_secs(60),
                new_node_fraction: 0.05,
                identity_difficulty: 0,
                checkin_ping: false,
                transport: uplink_core::transport::Mode::PlainHttp,
                max_clock_skew: Duration::from_secs(600),
            },
            (sat.node_id(), sat.public_key()),
        )
        .await
        .unwrap()
    }

    async fn join(overlay: &Overlay, address: &str, free: u64) -> NodeId {
        let identity = Identity::generate(0);
        let mut req = CheckInRequest {
            node_id: identity.node_id(),
            public_key: identity.public_key(),
            address: address.to_string(),
            capacity: NodeCapacity {
                free_bytes: free,
                used_bytes: 0,
            },
            version: "test".into(),
            timestamp: now_unix(),
            signature: Signature::default(),
        };
        req.signature = identity.sign(&req);
        overlay.check_in(req).await.unwrap();
        identity.node_id()
    }

    fn request(wanted: usize, minimum: usize) -> SelectionRequest {
        SelectionRequest {
            wanted,
            minimum,
            min_free_bytes: 1000,
            exclude: HashSet::new(),
            exclude_networks: HashSet::new(),
        }
    }

    #[tokio::test]
    async fn one_node_per_network_and_only_healthy_ones() {
        let dir = tempfile::tempdir().unwrap();
        let overlay = overlay(dir.path()).await;
        // Ten networks, three nodes in the first one.
        let mut ids = Vec::new();
        for i in 1..=10 {
            ids.push(join(&overlay, &format!("127.0.{i}.1:1000"), 1 << 30).await);
        }
        join(&overlay, "127.0.1.2:1000", 1 << 30).await;
        join(&overlay, "127.0.1.3:1000", 1 << 30).await;
        for _ in 0..20 {
            let chosen = overlay.select(&request(20, 1)).unwrap();
            assert_eq!(chosen.len(), 10, "one per /24");
            let nets: HashSet<_> = chosen.iter().map(|n| n.last_net.clone()).collect();
            assert_eq!(nets.len(), 10);
        }

        // A full node, an offline node, a disqualified node and an excluded node are
        // never chosen.
        let full = join(&overlay, "127.0.20.1:1000", 10).await;
        let offline = ids[1];
        let disqualified = ids[2];
        let excluded = ids[3];
        for (id, change) in [(offline, "offline"), (disqualified, "dq")] {
            let row = node::Entity::find_by_id(id.0.to_vec())
                .one(&overlay.db)
                .await
                .unwrap()
                .unwrap();
            let mut active: node::ActiveModel = row.into();
            if change == "offline" {
                active.last_contact_success = Set(now_unix() - 3600);
            } else {
                active.disqualified_at = Set(Some(now_unix()));
            }
            active.update(&overlay.db).await.unwrap();
        }
        overlay.refresh().await.unwrap();
        let mut req = request(20, 1);
        req.exclude.insert(excluded);
        for _ in 0..20 {
            let chosen: HashSet<NodeId> =
                overlay.select(&req).unwrap().iter().map(|n| n.id).collect();
            for bad in [full, offline, disqualified, excluded] {
                assert!(!chosen.contains(&bad));
            }
        }
        let (known, online) = overlay.counts();
        assert_eq!((known, online), (13, 12));

        // A new identity at an old address replaces the old node there.
        let replacement = join(&overlay, "127.0.5.1:1000", 1 << 30).await;
        for _ in 0..20 {
            let chosen: HashSet<NodeId> = overlay
                .select(&request(20, 1))
                .unwrap()
                .iter()
                .map(|n| n.id)
                .collect();
            assert!(!chosen.contains(&ids[4]), "the replaced node was selected");
            assert!(
                chosen.contains(&replacement),
                "its network's only healthy node"
            );
        }
    }

    #[tokio::test]
    async fn selection_is_random_and_fails_clearly_when_too_few() {
        let dir = tempfile::tempdir().unwrap();
        let overlay = overlay(dir.path()).await;
        for i in 1..=10 {
            join(&overlay, &format!("127.0.{i}.1:1000"), 1 << 30).await;
        }
        let mut firsts = HashSet::new();
        for _ in 0..50 {
            firsts.insert(overlay.select(&request(4, 4)).unwrap()[0].id);
        }
        assert!(
            firsts.len() > 3,
            "selection should vary, saw {}",
            firsts.len()
        );
        let err = overlay.select(&request(12, 11)).unwrap_err().to_string();
        assert!(err.contains("needs 11") && err.contains("only 10"), "{err}");
    }

    #[tokio::test]
    async fn forged_check_ins_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let overlay = overlay(dir.path()).await;
        let identity = Identity::generate(0);
        let mut req = CheckInRequest {
            node_id: identity.node_id(),
            public_key: identity.public_key(),
            address: "127.0.5.1:1000".into(),
            capacity: NodeCapacity::default(),
            version: "test".into(),
            timestamp: now_unix(),
            signature: Signature::default(),
        };
        req.signature = identity.sign(&req);
        let mut wrong_address = req.clone();
        wrong_address.address = "127.0.6.1:1000".into();
        assert!(overlay.check_in(wrong_address).await.is_err());
        let mut other_id = req.clone();
        other_id.node_id = NodeId::random();
        assert!(overlay.check_in(other_id).await.is_err());
        let mut stale = req.clone();
        stale.timestamp -= 3600;
        stale.signature = identity.sign(&stale);
        assert!(overlay.check_in(stale).await.is_err());
        assert_eq!(overlay.counts().0, 0, "nothing was recorded");
        overlay.check_in(req).await.unwrap();
        assert_eq!(overlay.counts().0, 1);
    }
}
