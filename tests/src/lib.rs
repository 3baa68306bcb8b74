//! The harness for end-to-end tests: a whole network (satellite + N storage nodes) in
//! this process, on loopback, with node `i` on `127.0.i.1`, in a temporary directory.
//!
//! It is the simulator's own [`Network`], so tests exercise what users run.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use node_sim::sim::{Network, NetworkConfig};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use uplink_core::access::AccessGrant;
use uplink_core::client::{ClientConfig, MetainfoClient, Project};
use uplink_core::protocol::{NodeId, PieceId};
use uplink_core::transport::{Mode, Transport};

pub mod faults;
pub mod wiretap;

pub use node_sim;
pub use satellite;
pub use uplink_core;

/// A running test network and the temporary directory it lives in.
pub struct TestNetwork {
    pub network: Network,
    _dir: tempfile::TempDir,
    _watchdog: Watchdog,
}

/// Pieces by the node that holds them.
pub type PieceSet = BTreeSet<(NodeId, PieceId)>;

/// How long a test may keep a network before it counts as hung (`TEST_TIMEOUT_SECS`).
const DEFAULT_TEST_TIMEOUT: Duration = Duration::from_secs(300);

/// Ends the test binary, loudly, if a test keeps its network past the time limit: a
/// test that waits forever on something (a node that never answers, a lock) then fails
/// instead of hanging the whole run. Dropping the network disarms it.
struct Watchdog {
    _disarm: mpsc::Sender<()>,
}

impl Watchdog {
    fn arm() -> Self {
        let limit = std::env::var("TEST_TIMEOUT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .map_or(DEFAULT_TEST_TIMEOUT, Duration::from_secs);
        // libtest names each test's thread after the test.
        let test = std::thread::current()
            .name()
            .unwrap_or("a test")
            .to_string();
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                // Straight to stderr: the test harness's output capture would hide it.
                let _ = writeln!(
                    std::io::stderr(),
                    "\n{test}: still running after {limit:?} (TEST_TIMEOUT_SECS); \
                     aborting the test binary so that the test fails instead of hanging"
                );
                std::process::abort();
            }
        });
        Self { _disarm: tx }
    }
}

/// Knobs a test may turn before the network starts.
pub struct Options {
    pub nodes: usize,
    pub tweak: Box<dyn FnOnce(&mut NetworkConfig) + Send>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            nodes: 10,
            tweak: Box::new(|_| {}),
        }
    }
}

impl TestNetwork {
    pub async fn start(nodes: usize) -> Self {
        Self::start_with(Options {
            nodes,
            ..Default::default()
        })
        .await
    }

    pub async fn start_with(options: Options) -> Self {
        let watchdog = Watchdog::arm();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = NetworkConfig::new(dir.path(), options.nodes);
        config.sync_writes = false;
        if let Some(url) = fresh_postgres_database().await {
            config.satellite.database_url = Some(url);
        }
        // With `TEST_REDIS_URL`, revocations and request rates are cached in Redis.
        if let Ok(url) = std::env::var("TEST_REDIS_URL") {
            config.satellite.redis_url = Some(url);
        }
        // Tests start and stop nodes at will; keep background work quick.
        config.satellite.piece_deletion_interval = Duration::from_millis(200);
        // Deletions go out at once (tests count pieces); the crowd test restores a grace.
        config.satellite.piece_deletion_grace = Duration::ZERO;
        config.satellite.expiry_interval = Duration::from_millis(500);
        (options.tweak)(&mut config);
        let network = Network::start(config).await.expect("network starts");
        Self {
            network,
            _dir: dir,
            _watchdog: watchdog,
        }
    }

    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    /// TLS (the default) or plain HTTP, as the network was configured.
    pub fn mode(&self) -> Mode {
        self.network.config.satellite.transport_mode()
    }

    /// The process's transport for this network: over TLS it verifies the satellite
    /// and every node against their ids.
    pub fn transport(&self) -> Transport {
        Transport::shared(self.mode())
    }

    /// An HTTP client for the satellite's and the nodes' URLs (see [`Self::console_url`]).
    pub fn http(&self) -> reqwest::Client {
        self.transport().http().clone()
    }

    /// Where the satellite serves its HTTP API and web console, as a peer that must
    /// prove the satellite's id (`https://<id>.<host>.peer.invalid:<port>`); use
    /// [`Self::http`] to call it.
    pub fn console_url(&self) -> String {
        self.transport()
            .node_url(self.network.satellite_url(), "")
            .expect("the satellite's address is valid")
    }

    /// A metainfo client with the API key of `grant`.
    pub fn metainfo(&self, grant: &AccessGrant) -> MetainfoClient {
        MetainfoClient::new(
            self.transport(),
            grant.satellite.clone(),
            grant.api_key.serialize(),
        )
    }

    pub fn satellite_dir(&self) -> PathBuf {
        self.dir().join("satellite")
    }

    /// The satellite's identity (its signing key), for components that stand in for it.
    pub fn satellite_identity(&self) -> uplink_core::protocol::Identity {
        uplink_core::protocol::Identity::load(&self.satellite_dir().join("identity.key"))
            .expect("the satellite's identity is readable")
    }

    /// A fresh project with an access grant holding a random root key.
    pub async fn access(&self) -> AccessGrant {
        self.network
            .create_access("test")
            .await
            .expect("project and API key")
    }

    /// A project handle with small segments, so multi-segment objects stay small.
    pub async fn project(&self) -> Project {
        self.project_with(ClientConfig {
            segment_size: 256 << 10,
            ..ClientConfig::default()
        })
        .await
    }

    pub async fn project_with(&self, config: ClientConfig) -> Project {
        let config = ClientConfig {
            transport: self.mode(),
            ..config
        };
        Project::open(self.access().await, config).expect("project opens")
    }

    /// Pieces of this satellite held by all running nodes.
    pub async fn stored_pieces(&self) -> usize {
        let sat = self.network.satellite_url().id;
        let mut n = 0;
        for node in self.network.running_nodes() {
            n += node.store().list(sat).await.expect("list pieces").len();
        }
        n
    }

    /// Every piece of this satellite that a running node holds.
    pub async fn pieces_on_nodes(&self) -> PieceSet {
        let sat = self.network.satellite_url().id;
        let mut out = PieceSet::new();
        for node in self.network.running_nodes() {
            for piece in node.store().list(sat).await.expect("list pieces") {
                out.insert((node.id(), piece));
            }
        }
        out
    }

    /// Every piece the satellite's metadata records, for every segment of every object
    /// (pending ones included), by the node that holds it.
    pub async fn recorded_pieces(&self) -> PieceSet {
        let mut out = PieceSet::new();
        let segments = self.segments().await;
        for (piece, id) in satellite::metabase::segments::piece_ids(&segments) {
            out.insert((piece.node, id));
        }
        out
    }

    /// Every segment the satellite records, decoded (a corrupt row fails the test).
    pub async fn segments(&self) -> Vec<satellite::metabase::Segment> {
        satellite::metabase::segments::all(&self.network.satellite.db)
            .await
            .expect("segments readable")
    }

    pub async fn stop(self) {
        self.network.stop().await;
    }
}

/// A migrated satellite database of its own, without a satellite: PostgreSQL with
/// `TEST_DATABASE_URL` (as test networks), otherwise SQLite in the returned directory.
pub async fn test_database() -> (satellite::db::Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = match fresh_postgres_database().await {
        Some(url) => url,
        None => format!("sqlite://{}?mode=rwc", dir.path().join("sat.db").display()),
    };
    let db = satellite::db::connect(&url).await.expect("database opens");
    (db, dir)
}

/// With `TEST_DATABASE_URL` set (a PostgreSQL server URL), every test network gets
/// its own new database on that server; otherwise the satellite uses SQLite.
async fn fresh_postgres_database() -> Option<String> {
    use sea_orm::ConnectionTrait;
    let admin_url = std::env::var("TEST_DATABASE_URL").ok()?;
    let admin = sea_orm::Database::connect(admin_url.as_str())
        .await
        .expect("TEST_DATABASE_URL must be a reachable PostgreSQL server");
    let name = format!("sat_test_{}", uuid_like());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("CREATE DATABASE");
    let _ = admin.close().await;
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin_url.as_str(), String::new()),
    };
    let (server, _) = base.rsplit_once('/').expect("URL with a database path");
    Some(format!("{server}/{name}{query}"))
}

fn uuid_like() -> String {
    let mut b = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The seed of [`seeded_rng`] unless `TEST_SEED` gives another.
pub const DEFAULT_SEED: u64 = 20_261_124;

/// A random generator for sizes, ranges and chunkings, from a fixed seed that is printed
/// (shown with a failing test's output) and can be changed with `TEST_SEED`, so that a
/// failure can be replayed exactly. Each `purpose` gets its own stream.
pub fn seeded_rng(purpose: &str) -> StdRng {
    let seed = std::env::var("TEST_SEED")
        .ok()
        .map(|s| s.parse().expect("TEST_SEED must be an unsigned integer"))
        .unwrap_or(DEFAULT_SEED);
    eprintln!("{purpose}: random seed {seed} (replay with TEST_SEED={seed})");
    let salt = fnv1a(purpose.as_bytes());
    StdRng::seed_from_u64(seed ^ salt)
}

/// A stable 64-bit digest of `bytes` (FNV-1a), to give each purpose its own stream.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The Python interpreter with boto3 and the aws cli for the S3 tests
/// (`scripts/test-all.sh` installs them and sets `S3_TEST_PYTHON`).
pub fn s3_test_python() -> PathBuf {
    std::env::var_os("S3_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| "python3".into())
}

/// `len` random bytes.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut v);
    v
}

/// Uploads `data` and returns what a full download gives back.
pub async fn round_trip(project: &Project, bucket: &str, key: &str, data: &[u8]) -> Vec<u8> {
    project
        .upload(bucket, key, data, Default::default())
        .await
        .expect("upload");
    download(project, bucket, key).await
}

pub async fn download(project: &Project, bucket: &str, key: &str) -> Vec<u8> {
    let mut out = Vec::new();
    project
        .download(bucket, key, None, &mut out, None)
        .await
        .expect("download");
    out
}
