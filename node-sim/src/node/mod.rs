//! A real storage node: identity, piece store, order-limit verification, the piece HTTP
//! API, periodic check-in with its satellites, and garbage collection (retain requests
//! and trash, [`gc`]).
//!
//! ```ignore
//! let node = StorageNode::start(NodeConfig::new("/var/lib/node")).await?;
//! println!("{} serving at {}", node.id(), node.address());
//! node.stop().await;
//! ```
//!
//! Everything runs on the current tokio runtime (the HTTP workers on their own threads),
//! so many nodes can run in one process; each has its own metrics registry.

pub mod checkin;
pub mod config;
pub mod error;
pub mod exit;
pub mod gc;
pub mod metrics;
pub mod piecestore;
pub mod server;
pub mod space;
pub mod trash_admin;
pub mod verify;

#[cfg(test)]
mod tests;

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use tokio::task::JoinHandle;
use uplink_core::background::Runner;
use uplink_core::protocol::{Identity, NodeId};
use uplink_core::transport::{Mode, Transport};

pub use checkin::CheckIn;
pub use config::{NodeConfig, StorageBackend};
pub use error::NodeError;
pub use gc::{RetainSettings, RetainStats, Retainer};
pub use metrics::NodeMetrics;
pub use piecestore::{
    DiskStore, MemoryStore, PieceHeader, PieceInfo, PieceReader, PieceStore, PieceWriter,
    StoreError, TrashTotals, TrashedPiece,
};
pub use space::{FsSpace, Space, SpaceProbe, Unlimited};
pub use verify::{ActionKind, OrderVerifier, SerialStore};

/// File under the data directory that holds the node's identity.
pub const IDENTITY_FILE: &str = "identity.key";

/// Starts storage nodes.
#[derive(Debug)]
pub struct StorageNode;

impl StorageNode {
    /// Starts a node with the store its configuration names.
    pub async fn start(config: NodeConfig) -> Result<RunningNode, NodeError> {
        let store = Self::open_store(&config).await?;
        let space = Self::space_probe(&config);
        Self::start_with(config, store, space).await
    }

    /// The store `config` names, opened.
    pub async fn open_store(config: &NodeConfig) -> Result<Arc<dyn PieceStore>, NodeError> {
        Ok(match config.storage {
            StorageBackend::Disk => {
                let dir = config.data_dir.clone();
                let sync = config.sync_writes;
                let store = tokio::task::spawn_blocking(move || DiskStore::open(&dir, sync))
                    .await
                    .map_err(|e| NodeError::Internal(format!("opening the piece store: {e}")))??;
                Arc::new(store)
            }
            StorageBackend::Memory => Arc::new(MemoryStore::new()),
        })
    }

    /// How free space is measured for `config`: on the file system of the data
    /// directory, or not at all for the memory backend.
    pub fn space_probe(config: &NodeConfig) -> Arc<dyn SpaceProbe> {
        match config.storage {
            StorageBackend::Disk => Arc::new(FsSpace::new(&config.data_dir)),
            StorageBackend::Memory => Arc::new(Unlimited),
        }
    }

    /// Starts a node on a given store (for example a fault-injecting wrapper around a
    /// real one); `config.storage` and `config.sync_writes` are ignored. Free space is
    /// measured on the file system of `config.data_dir`.
    pub async fn start_with_store(
        config: NodeConfig,
        store: Arc<dyn PieceStore>,
    ) -> Result<RunningNode, NodeError> {
        let space = Arc::new(FsSpace::new(&config.data_dir));
        Self::start_with(config, store, space).await
    }

    /// Starts a node on a given store, measuring free space with a given probe (for
    /// example one that makes the disk look full).
    pub async fn start_with(
        config: NodeConfig,
        store: Arc<dyn PieceStore>,
        space: Arc<dyn SpaceProbe>,
    ) -> Result<RunningNode, NodeError> {
        let data_dir = config.data_dir.clone();
        let difficulty = config.identity_difficulty;
        let identity = tokio::task::spawn_blocking({
            let data_dir = data_dir.clone();
            move || -> Result<Identity, NodeError> {
                std::fs::create_dir_all(&data_dir).map_err(|source| NodeError::Io {
                    context: format!("creating data directory {}", data_dir.display()),
                    source,
                })?;
                Identity::load_or_create(&data_dir.join(IDENTITY_FILE), difficulty)
                    .map_err(NodeError::Identity)
            }
        })
        .await
        .map_err(|e| NodeError::Internal(format!("loading the identity: {e}")))??;
        if identity.node_id().difficulty() < difficulty {
            return Err(NodeError::Config(format!(
                "identity {} in {} has difficulty {}, less than the required {difficulty}",
                identity.node_id(),
                data_dir.display(),
                identity.node_id().difficulty()
            )));
        }

        let verifier = Arc::new(OrderVerifier::new(
            identity.node_id(),
            config.satellites.iter().map(|s| s.id),
            config.max_clock_skew,
        ));
        for key in &config.satellite_keys {
            verifier.add_satellite_key(*key).map_err(|_| {
                NodeError::Config(format!(
                    "satellite_keys: key {key:?} belongs to satellite {}, which is not among \
                     the configured satellites",
                    key.node_id()
                ))
            })?;
        }

        let listener = bind(&config.listen_addr)?;
        let bound = listener.local_addr().map_err(|source| NodeError::Io {
            context: "reading the bound address".into(),
            source,
        })?;
        let address = config
            .external_address
            .clone()
            .unwrap_or_else(|| bound.to_string());

        let metrics = NodeMetrics::new(&identity.node_id().to_string());
        metrics
            .capacity_bytes
            .set(i64::try_from(config.capacity_bytes).unwrap_or(i64::MAX));
        metrics
            .used_bytes
            .set(i64::try_from(store.used_bytes().await?).unwrap_or(i64::MAX));
        let space = Arc::new(Space::new(
            store.clone(),
            space,
            config.capacity_bytes,
            config.disk_reserve_bytes,
        ));
        let retainer = Arc::new(Retainer::new(
            store.clone(),
            verifier.clone(),
            RetainSettings {
                grace: config.retain_grace,
                max_age: config.retain_max_age,
            },
            metrics.clone(),
        ));
        let state = Arc::new(server::NodeState {
            identity: identity.clone(),
            store: store.clone(),
            verifier: verifier.clone(),
            space: space.clone(),
            address: address.clone(),
            metrics: metrics.clone(),
            retainer: retainer.clone(),
            retain_max_body: usize::try_from(config.retain_max_body_bytes).unwrap_or(usize::MAX),
        });
        let limits = server::ServerLimits {
            workers: config.workers,
            header_timeout: config.header_timeout,
            keep_alive: config.keep_alive,
            disconnect_timeout: config.disconnect_timeout,
            body_rate: uplink_core::transport::server::body_rate::BodyRate {
                min_bytes: config.body_min_bytes,
                window: config.body_rate_window,
            },
        };
        let mode = Mode::from_plain_http(config.plain_http);
        let tls = match mode {
            Mode::Tls => Some(
                uplink_core::transport::server::server_config(&identity, None)
                    .map_err(|e| NodeError::Config(format!("TLS: {e}")))?,
            ),
            Mode::PlainHttp => None,
        };
        let server =
            server::build(state, listener, limits, tls).map_err(|source| NodeError::Io {
                context: format!("starting the HTTP server on {bound}"),
                source,
            })?;
        let handle = server.handle();
        let server_task = tokio::spawn(server);

        let checkin = Arc::new(CheckIn::new(
            identity.clone(),
            config.satellites.clone(),
            verifier.clone(),
            space.clone(),
            address.clone(),
            Transport::shared(mode),
        ));
        let checkin_task = tokio::spawn(
            checkin
                .clone()
                .run(config.checkin_interval.max(Duration::from_secs(1))),
        );
        let mut workers = Runner::new();
        workers.spawn(gc::TrashSweeper {
            store: store.clone(),
            retention: config.trash_retention,
            interval: config.trash_check_interval,
            metrics: metrics.clone(),
        });
        tracing::info!(node = %identity.node_id(), %address, %bound, "storage node started");

        Ok(RunningNode {
            identity,
            address,
            bound,
            data_dir,
            store,
            verifier,
            space,
            metrics,
            checkin,
            retainer,
            mode,
            handle,
            server_task: Some(server_task),
            checkin_task,
            workers,
        })
    }
}

fn bind(listen_addr: &str) -> Result<TcpListener, NodeError> {
    let addrs = listen_addr
        .to_socket_addrs()
        .map_err(|e| NodeError::Config(format!("listen_addr {listen_addr:?}: {e}")))?;
    let mut last = None;
    for addr in addrs {
        match TcpListener::bind(addr) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(source) => NodeError::Io {
            context: format!("binding {listen_addr}"),
            source,
        },
        None => NodeError::Config(format!("listen_addr {listen_addr:?} resolves to nothing")),
    })
}

/// A started node. Dropping it stops the node too, without waiting.
pub struct RunningNode {
    identity: Identity,
    address: String,
    bound: SocketAddr,
    data_dir: PathBuf,
    store: Arc<dyn PieceStore>,
    verifier: Arc<OrderVerifier>,
    space: Arc<Space>,
    metrics: NodeMetrics,
    checkin: Arc<CheckIn>,
    retainer: Arc<Retainer>,
    mode: Mode,
    handle: ServerHandle,
    server_task: Option<JoinHandle<std::io::Result<()>>>,
    checkin_task: JoinHandle<()>,
    /// Background jobs on the shared runtime (the trash sweep).
    workers: Runner,
}

impl std::fmt::Debug for RunningNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningNode")
            .field("id", &self.id())
            .field("address", &self.address)
            .field("bound", &self.bound)
            .finish()
    }
}

impl RunningNode {
    /// Whether the node speaks TLS (the default) or plain HTTP.
    pub fn transport_mode(&self) -> Mode {
        self.mode
    }

    pub fn id(&self) -> NodeId {
        self.identity.node_id()
    }

    /// The advertised `host:port`.
    pub fn address(&self) -> String {
        self.address.clone()
    }

    /// The address the HTTP server is bound to.
    pub fn listen_addr(&self) -> SocketAddr {
        self.bound
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn store(&self) -> Arc<dyn PieceStore> {
        self.store.clone()
    }

    pub fn verifier(&self) -> &Arc<OrderVerifier> {
        &self.verifier
    }

    /// The node's space accounting: what a new piece may take now.
    pub fn space(&self) -> &Arc<Space> {
        &self.space
    }

    pub fn metrics(&self) -> &NodeMetrics {
        &self.metrics
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Applies satellites' retain requests (garbage collection).
    pub fn retainer(&self) -> &Arc<Retainer> {
        &self.retainer
    }

    /// Checks in with every trusted satellite now.
    pub async fn check_in_now(&self) -> Result<(), NodeError> {
        self.checkin.check_in_all().await
    }

    /// Stops accepting connections at once, drops open ones, and waits for the server to
    /// wind down.
    pub async fn stop(mut self) {
        self.checkin_task.abort();
        std::mem::take(&mut self.workers)
            .shutdown(Duration::from_secs(5))
            .await;
        self.retainer.stop();
        self.handle.stop(false).await;
        if let Some(task) = self.server_task.take() {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(node = %self.id(), "HTTP server ended with {e}"),
                Err(e) => tracing::warn!(node = %self.id(), "HTTP server task failed: {e}"),
            }
        }
        tracing::info!(node = %self.id(), "storage node stopped");
    }
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        self.checkin_task.abort();
        self.workers.abort();
        self.retainer.stop();
        if self.server_task.is_some() {
            // Sends the stop command; completion is not awaited.
            drop(self.handle.stop(false));
        }
    }
}
