//! Settings of the repair checker and the repair workers.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RepairConfig {
    /// How often the checker passes over all segments. With `node_online_window` this
    /// bounds how long a lost piece goes unnoticed.
    #[serde(with = "humantime_serde")]
    pub checker_interval: Duration,
    /// Segments repaired at the same time by this process.
    pub concurrency: usize,
    /// Repair traffic of this process (downloads plus uploads), bytes per second.
    pub max_bytes_per_second: u64,
    /// How long a repair job stays taken by one worker before another may retry it.
    #[serde(with = "humantime_serde")]
    pub job_lease: Duration,
    /// A piece transfer that makes no progress for this long is given up.
    #[serde(with = "humantime_serde")]
    pub piece_timeout: Duration,
    /// Extra pieces downloaded beyond `k`, in case some fail verification.
    pub extra_downloads: u16,
}

impl Default for RepairConfig {
    fn default() -> Self {
        Self {
            checker_interval: Duration::from_secs(30),
            concurrency: 2,
            max_bytes_per_second: 128 << 20,
            job_lease: Duration::from_secs(600),
            piece_timeout: Duration::from_secs(30),
            extra_downloads: 2,
        }
    }
}
