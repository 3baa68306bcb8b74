//! Settings of audits, reputation and vetting.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    pub enabled: bool,
    /// Segments sampled (weighted by bytes) per segment-loop pass; every piece of each
    /// is audited.
    pub segments_per_pass: usize,
    /// An audit download that makes no progress for this long is a timeout.
    #[serde(with = "humantime_serde")]
    pub piece_timeout: Duration,
    /// A node that timed out is asked again for the same piece this many times before
    /// the timeout counts as a failure (containment).
    pub max_reverifications: u32,
    /// A contained node is asked again no sooner than this after its last timeout; its
    /// other audits meanwhile are skipped (recorded as nothing), so that one slow
    /// spell is not counted once per sampled segment.
    #[serde(with = "humantime_serde")]
    pub reverify_interval: Duration,
    /// Forgetting factor of the beta reputation model (closer to 1 remembers longer).
    pub lambda: f64,
    /// Weight of one audit.
    pub weight: f64,
    /// Nodes whose audit score falls below this are disqualified for good.
    pub disqualification_threshold: f64,
    /// Nodes whose unknown-error score falls below this are suspended (no new pieces,
    /// their pieces repaired) until it recovers.
    pub suspension_threshold: f64,
    /// Successful audits before a node is vetted.
    pub vetting_audits: u64,
    /// Share of each upload's nodes given to unvetted nodes.
    pub new_node_fraction: f64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            segments_per_pass: 100,
            piece_timeout: Duration::from_secs(10),
            max_reverifications: 3,
            reverify_interval: Duration::from_secs(300),
            lambda: 0.99,
            weight: 1.0,
            disqualification_threshold: 0.96,
            suspension_threshold: 0.6,
            vetting_audits: 10,
            new_node_fraction: 0.05,
        }
    }
}
