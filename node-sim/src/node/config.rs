//! Configuration of one storage node.
//!
//! Every field but `data_dir` has a default, so a minimal TOML file is
//!
//! ```toml
//! data_dir = "/var/lib/sj-node"
//! satellites = ["<satellite id>@satellite.example:7777"]
//! ```
//!
//! Durations are either humantime strings (`"60s"`, `"5m"`, `"1h 30m"`) or integer
//! seconds.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uplink_core::protocol::{NodeUrl, PublicKey};

/// Where a node keeps its pieces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageBackend {
    /// Files under `<data_dir>/pieces` (see [`super::piecestore::DiskStore`]).
    #[default]
    Disk,
    /// In memory only; everything is lost when the node stops. For tests and simulations.
    Memory,
}

/// Configuration of one storage node.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Directory holding the node identity (`identity.key`) and, with the disk backend,
    /// the pieces. Created if missing. Restarting on the same directory keeps identity
    /// and pieces.
    pub data_dir: PathBuf,
    /// `host:port` to listen on for the piece API; port 0 picks a free port.
    #[serde(default = "default_listen_addr")]
    pub listen_addr: String,
    /// `host:port` advertised to satellites in check-ins. Defaults to the address the
    /// listener is actually bound to.
    #[serde(default)]
    pub external_address: Option<String>,
    /// Bytes this node offers for pieces. Uploads that would exceed it are refused with
    /// `disk_full`. Default 1 TiB.
    #[serde(default = "default_capacity")]
    pub capacity_bytes: u64,
    /// Satellites this node works for (`<node id>@host:port`). Order limits signed by
    /// any other satellite are refused.
    #[serde(default)]
    pub satellites: Vec<NodeUrl>,
    /// Public keys of trusted satellites known in advance. Each must hash to the id of a
    /// satellite in `satellites`. Keys of the other trusted satellites are learned at
    /// check-in (and checked against their ids).
    #[serde(default)]
    pub satellite_keys: Vec<PublicKey>,
    /// Time between check-ins. The first check-in is made at start and retried every
    /// second until it succeeds. Default 60 s.
    #[serde(default = "default_checkin_interval", with = "duration_serde")]
    pub checkin_interval: Duration,
    /// Proof-of-work difficulty (trailing zero bits of the node id) required when a new
    /// identity is created. Default 0.
    #[serde(default)]
    pub identity_difficulty: u32,
    /// Piece store backend. Default `disk`.
    #[serde(default)]
    pub storage: StorageBackend,
    /// fsync piece files and their directory when a piece is committed. Default true.
    #[serde(default = "default_true")]
    pub sync_writes: bool,
    /// Number of HTTP worker threads. Default 2.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// How far in the future an order limit's creation time may lie (the satellite's
    /// clock may run ahead of ours). Default 5 minutes.
    #[serde(default = "default_max_clock_skew", with = "duration_serde")]
    pub max_clock_skew: Duration,
    /// Bytes kept free on the file system under `data_dir`: the node offers the smaller
    /// of `capacity_bytes` less what it stores and the file system's free space less
    /// this. Default 16 MiB.
    #[serde(default = "default_disk_reserve")]
    pub disk_reserve_bytes: u64,
    /// Time a client has to send the head of its first request on a connection; then
    /// the connection is closed. Default 5 s.
    #[serde(default = "default_header_timeout", with = "duration_serde")]
    pub header_timeout: Duration,
    /// How long an idle connection is kept open for another request. Default 10 s.
    #[serde(default = "default_keep_alive", with = "duration_serde")]
    pub keep_alive: Duration,
    /// How long a closing connection waits for the client to take the last response
    /// before it is dropped. Default 2 s.
    #[serde(default = "default_disconnect_timeout", with = "duration_serde")]
    pub disconnect_timeout: Duration,
    /// Slowest request body accepted: a body that delivers fewer than `body_min_bytes`
    /// within `body_rate_window` of waiting for it is cut off, and its request refused.
    /// Time the node spends on the bytes it has (writing them to disk) does not count.
    /// Default 32 KiB.
    #[serde(default = "default_body_min_bytes")]
    pub body_min_bytes: u64,
    /// See `body_min_bytes`. Default 10 s.
    #[serde(default = "default_body_rate_window", with = "duration_serde")]
    pub body_rate_window: Duration,
    /// Serve and dial plain HTTP instead of TLS. Only for a network run that way for
    /// loopback development: order limits then travel in clear. Default false.
    #[serde(default)]
    pub plain_http: bool,
    /// Garbage collection keeps every piece stored less than this long before the
    /// snapshot of a satellite's retain request, whatever its filter says: a piece
    /// committed here shortly before the snapshot may not have reached the satellite's
    /// metadata yet (and the clocks may differ). Default 1 h.
    #[serde(default = "default_retain_grace", with = "duration_serde")]
    pub retain_grace: Duration,
    /// Retain requests created longer ago than this are refused. Default 24 h.
    #[serde(default = "default_retain_max_age", with = "duration_serde")]
    pub retain_max_age: Duration,
    /// Largest retain request body accepted (its bloom filter, mostly: about 0.6 bytes
    /// per piece the node holds). Default 8 MiB.
    #[serde(default = "default_retain_max_body")]
    pub retain_max_body_bytes: u64,
    /// How long trashed pieces are kept (restorable) before they are removed for good.
    /// Default 7 days.
    #[serde(default = "default_trash_retention", with = "duration_serde")]
    pub trash_retention: Duration,
    /// Time between sweeps that empty expired trash and remove unfinished writes older
    /// than a day. The first sweep runs at start. Default 1 h.
    #[serde(default = "default_trash_check_interval", with = "duration_serde")]
    pub trash_check_interval: Duration,
}

impl NodeConfig {
    /// A configuration with every default, storing under `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen_addr: default_listen_addr(),
            external_address: None,
            capacity_bytes: default_capacity(),
            satellites: Vec::new(),
            satellite_keys: Vec::new(),
            checkin_interval: default_checkin_interval(),
            identity_difficulty: 0,
            storage: StorageBackend::default(),
            sync_writes: true,
            workers: default_workers(),
            max_clock_skew: default_max_clock_skew(),
            disk_reserve_bytes: default_disk_reserve(),
            header_timeout: default_header_timeout(),
            keep_alive: default_keep_alive(),
            disconnect_timeout: default_disconnect_timeout(),
            body_min_bytes: default_body_min_bytes(),
            body_rate_window: default_body_rate_window(),
            plain_http: false,
            retain_grace: default_retain_grace(),
            retain_max_age: default_retain_max_age(),
            retain_max_body_bytes: default_retain_max_body(),
            trash_retention: default_trash_retention(),
            trash_check_interval: default_trash_check_interval(),
        }
    }
}

fn default_listen_addr() -> String {
    "127.0.0.1:0".into()
}
fn default_capacity() -> u64 {
    1 << 40
}
fn default_checkin_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_true() -> bool {
    true
}
fn default_workers() -> usize {
    2
}
fn default_max_clock_skew() -> Duration {
    Duration::from_secs(5 * 60)
}
fn default_disk_reserve() -> u64 {
    16 << 20
}
fn default_header_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_keep_alive() -> Duration {
    Duration::from_secs(10)
}
fn default_disconnect_timeout() -> Duration {
    Duration::from_secs(2)
}
fn default_body_min_bytes() -> u64 {
    32 << 10
}
fn default_body_rate_window() -> Duration {
    Duration::from_secs(10)
}
fn default_retain_grace() -> Duration {
    Duration::from_secs(3600)
}
fn default_retain_max_age() -> Duration {
    Duration::from_secs(24 * 3600)
}
fn default_retain_max_body() -> u64 {
    8 << 20
}
fn default_trash_retention() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}
fn default_trash_check_interval() -> Duration {
    Duration::from_secs(3600)
}

/// A duration as a humantime string (`"90s"`, `"5m"`) or as integer seconds.
pub mod duration_serde {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Secs(u64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Secs(s) => Ok(Duration::from_secs(s)),
            Repr::Text(t) => humantime::parse_duration(&t).map_err(|e| {
                serde::de::Error::custom(format!(
                    "{t:?} is not a duration like \"60s\" or \"5m\": {e}"
                ))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uplink_core::protocol::Identity;

    #[test]
    fn minimal_toml_gets_defaults() {
        let cfg: NodeConfig = toml::from_str(r#"data_dir = "/tmp/x""#).unwrap();
        assert_eq!(cfg.capacity_bytes, 1 << 40);
        assert_eq!(cfg.checkin_interval, Duration::from_secs(60));
        assert_eq!(cfg.max_clock_skew, Duration::from_secs(300));
        assert_eq!(cfg.storage, StorageBackend::Disk);
        assert!(cfg.sync_writes);
        assert_eq!(cfg.workers, 2);
        assert!(cfg.external_address.is_none());
        assert_eq!(cfg.disk_reserve_bytes, 16 << 20);
        assert_eq!(cfg.header_timeout, Duration::from_secs(5));
        assert_eq!(cfg.keep_alive, Duration::from_secs(10));
        assert_eq!(cfg.disconnect_timeout, Duration::from_secs(2));
        assert_eq!(cfg.body_min_bytes, 32 << 10);
        assert_eq!(cfg.body_rate_window, Duration::from_secs(10));
        assert_eq!(cfg.retain_grace, Duration::from_secs(3600));
        assert_eq!(cfg.retain_max_age, Duration::from_secs(86_400));
        assert_eq!(cfg.retain_max_body_bytes, 8 << 20);
        assert_eq!(cfg.trash_retention, Duration::from_secs(7 * 86_400));
        assert_eq!(cfg.trash_check_interval, Duration::from_secs(3600));
    }

    #[test]
    fn full_toml_parses() {
        let sat = Identity::generate(0);
        let key = serde_json::to_string(&sat.public_key()).unwrap();
        let text = format!(
            r#"
            data_dir = "/tmp/x"
            listen_addr = "127.0.3.1:0"
            external_address = "node3.example:7777"
            capacity_bytes = 1000
            satellites = ["{}@127.0.0.1:7777"]
            satellite_keys = [{key}]
            checkin_interval = "90s"
            max_clock_skew = 30
            storage = "memory"
            sync_writes = false
            workers = 1
            disk_reserve_bytes = 4096
            header_timeout = "3s"
            keep_alive = 7
            disconnect_timeout = "1s"
            body_min_bytes = 100
            body_rate_window = "2s"
            retain_grace = 0
            retain_max_age = "12h"
            retain_max_body_bytes = 1000000
            trash_retention = "3days"
            trash_check_interval = "10m"
            "#,
            sat.node_id()
        );
        let cfg: NodeConfig = toml::from_str(&text).unwrap();
        assert_eq!(cfg.satellites[0].id, sat.node_id());
        assert_eq!(cfg.satellite_keys, vec![sat.public_key()]);
        assert_eq!(cfg.checkin_interval, Duration::from_secs(90));
        assert_eq!(cfg.max_clock_skew, Duration::from_secs(30));
        assert_eq!(cfg.storage, StorageBackend::Memory);
        assert_eq!(cfg.disk_reserve_bytes, 4096);
        assert_eq!(cfg.header_timeout, Duration::from_secs(3));
        assert_eq!(cfg.keep_alive, Duration::from_secs(7));
        assert_eq!(cfg.disconnect_timeout, Duration::from_secs(1));
        assert_eq!(cfg.body_min_bytes, 100);
        assert_eq!(cfg.body_rate_window, Duration::from_secs(2));
        assert_eq!(cfg.retain_grace, Duration::ZERO);
        assert_eq!(cfg.retain_max_age, Duration::from_secs(12 * 3600));
        assert_eq!(cfg.retain_max_body_bytes, 1_000_000);
        assert_eq!(cfg.trash_retention, Duration::from_secs(3 * 86_400));
        assert_eq!(cfg.trash_check_interval, Duration::from_secs(600));
        assert!(toml::from_str::<NodeConfig>("data_dir = \"x\"\nchekin = 1").is_err());
        assert!(
            toml::from_str::<NodeConfig>("data_dir = \"x\"\ncheckin_interval = \"soon\"").is_err()
        );
    }
}
