//! Which pieces of a segment still count, and what the checker does about it.
//!
//! One definition, shared by the live repair checker and by the durability model in
//! `node-sim durability`, so that what the model predicts is what the satellite does.
//! A piece is *healthy* when its node is online, not disqualified, not suspended and
//! not exiting; pieces that share a network (/24 or /64) with another piece of the same
//! segment count once, because one outage of that network takes them all. A segment at
//! or below the scheme's repair threshold is queued; below `k` it is lost unless nodes
//! that are merely offline come back.

use std::collections::HashSet;

use uplink_core::protocol::RedundancyScheme;

/// What the satellite knows about the node holding one piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PieceCondition<'a> {
    /// Checked in within the online window.
    pub online: bool,
    pub disqualified: bool,
    /// Suspended for too many unknown audit errors: still readable, not counted.
    pub suspended: bool,
    /// Gracefully exiting: its pieces are moved away, so they no longer count.
    pub exiting: bool,
    /// The node's network (`last_net`).
    pub network: &'a str,
}

impl PieceCondition<'_> {
    pub fn healthy(&self) -> bool {
        self.online && !self.disqualified && !self.suspended && !self.exiting
    }

    /// Whether a repair may read this piece (it exists on a node that still answers).
    pub fn retrievable(&self) -> bool {
        self.online && !self.disqualified
    }
}

/// What the checker decides for one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Above the repair threshold: nothing to do.
    Healthy,
    /// At or below the repair threshold, still decodable: queue for repair.
    Repair,
    /// Fewer than `k` healthy pieces: cannot be rebuilt from what is reachable now.
    Lost,
}

/// The checker's count for one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHealth {
    /// Healthy pieces, each network counted once.
    pub healthy: u16,
    /// Pieces a repair could read (online, not disqualified), networks not merged.
    pub retrievable: u16,
    pub verdict: Verdict,
}

/// The verdict for a segment with `healthy` pieces under `scheme`.
pub fn verdict(scheme: &RedundancyScheme, healthy: u16) -> Verdict {
    if healthy < scheme.k {
        Verdict::Lost
    } else if healthy <= scheme.repair {
        Verdict::Repair
    } else {
        Verdict::Healthy
    }
}

/// Counts a segment's pieces as the checker does.
pub fn assess<'a>(
    scheme: &RedundancyScheme,
    pieces: impl IntoIterator<Item = PieceCondition<'a>>,
) -> SegmentHealth {
    let mut networks: HashSet<&str> = HashSet::new();
    let (mut healthy, mut retrievable) = (0u16, 0u16);
    for piece in pieces {
        if piece.retrievable() {
            retrievable += 1;
        }
        if piece.healthy() && networks.insert(piece.network) {
            healthy += 1;
        }
    }
    SegmentHealth {
        healthy,
        retrievable,
        verdict: verdict(scheme, healthy),
    }
}

/// How many pieces a repair uploads to bring a segment with `healthy` pieces back to
/// the scheme's `optimal` count.
pub fn pieces_to_rebuild(scheme: &RedundancyScheme, healthy: u16) -> u16 {
    scheme.optimal.saturating_sub(healthy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scheme() -> RedundancyScheme {
        RedundancyScheme {
            k: 4,
            repair: 6,
            optimal: 8,
            total: 10,
            share_size: 256,
        }
    }

    fn piece(network: &str) -> PieceCondition<'_> {
        PieceCondition {
            online: true,
            disqualified: false,
            suspended: false,
            exiting: false,
            network,
        }
    }

    #[test]
    fn thresholds_follow_the_scheme() {
        let s = scheme();
        assert_eq!(verdict(&s, 10), Verdict::Healthy);
        assert_eq!(verdict(&s, 7), Verdict::Healthy);
        assert_eq!(verdict(&s, 6), Verdict::Repair);
        assert_eq!(verdict(&s, 4), Verdict::Repair);
        assert_eq!(verdict(&s, 3), Verdict::Lost);
        assert_eq!(verdict(&s, 0), Verdict::Lost);
        assert_eq!(pieces_to_rebuild(&s, 5), 3);
        assert_eq!(pieces_to_rebuild(&s, 9), 0);
    }

    #[test]
    fn unhealthy_nodes_and_shared_networks_do_not_count() {
        let s = scheme();
        let nets: Vec<String> = (0..8).map(|i| format!("10.0.{i}")).collect();
        let mut pieces: Vec<PieceCondition> = nets.iter().map(|n| piece(n)).collect();
        assert_eq!(assess(&s, pieces.clone()).healthy, 8);
        pieces[0].online = false;
        pieces[1].disqualified = true;
        pieces[2].exiting = true;
        pieces[3].suspended = true;
        let h = assess(&s, pieces.clone());
        assert_eq!(h.healthy, 4);
        assert_eq!(
            h.retrievable, 6,
            "exiting and suspended nodes can still be read"
        );
        assert_eq!(h.verdict, Verdict::Repair);
        // A second piece in the network of a healthy one adds nothing.
        pieces.push(piece(&nets[7]));
        assert_eq!(assess(&s, pieces.clone()).healthy, 4);
        pieces[4].online = false;
        assert_eq!(assess(&s, pieces).verdict, Verdict::Lost);
    }
}
