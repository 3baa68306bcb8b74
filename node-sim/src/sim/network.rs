//! Starting, stopping and restarting the parts of a local network.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use satellite::{RunningSatellite, SatelliteConfig};
use uplink_core::access::AccessGrant;
use uplink_core::crypto::Key;
use uplink_core::crypto::store::EncryptionStore;
use uplink_core::protocol::NodeUrl;

use crate::node::{
    NodeConfig, NodeError, PieceStore, RunningNode, SpaceProbe, StorageBackend, StorageNode,
};

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("satellite: {0}")]
    Satellite(#[from] satellite::SatelliteError),
    #[error("node {index}: {source}")]
    Node {
        index: usize,
        #[source]
        source: NodeError,
    },
    #[error("{0}")]
    Setup(String),
}

/// How to lay out a local network.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// Everything lives under this directory: `satellite/`, `node-<i>/`.
    pub dir: PathBuf,
    pub nodes: usize,
    /// Satellite listen address (`127.0.0.1:0` picks a port).
    pub satellite_listen: String,
    /// Port for every node (each on its own IP); 0 picks one per node.
    pub node_port: u16,
    /// Satellite settings; data dir and listen address are filled in.
    pub satellite: SatelliteConfig,
    pub node_capacity: u64,
    pub storage: StorageBackend,
    /// fsync each piece on commit.
    pub sync_writes: bool,
    pub checkin_interval: Duration,
    /// Nodes keep pieces this much younger than a garbage-collection snapshot.
    pub retain_grace: Duration,
    /// Nodes empty trash this long after a piece was trashed.
    pub trash_retention: Duration,
    /// How often nodes look for trash to empty.
    pub trash_check_interval: Duration,
}

impl NetworkConfig {
    /// A development network: fast check-ins, short online window, 4/6/8/10.
    pub fn new(dir: impl Into<PathBuf>, nodes: usize) -> Self {
        let satellite = SatelliteConfig {
            node_online_window: Duration::from_secs(60),
            piece_deletion_interval: Duration::from_secs(5),
            ..SatelliteConfig::default()
        };
        Self {
            dir: dir.into(),
            nodes,
            satellite_listen: "127.0.0.1:0".into(),
            node_port: 0,
            satellite,
            node_capacity: 1 << 40,
            storage: StorageBackend::Disk,
            sync_writes: false,
            checkin_interval: Duration::from_secs(15),
            retain_grace: Duration::from_secs(3600),
            trash_retention: Duration::from_secs(7 * 86_400),
            trash_check_interval: Duration::from_secs(3600),
        }
    }
}

/// One node position of the network, running or stopped.
pub struct NodeSlot {
    pub index: usize,
    pub config: NodeConfig,
    pub running: Option<RunningNode>,
}

/// A satellite and its nodes, all in this process.
pub struct Network {
    pub config: NetworkConfig,
    pub satellite: RunningSatellite,
    pub nodes: Vec<NodeSlot>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("satellite", &self.satellite.url)
            .field("nodes", &self.nodes.len())
            .finish()
    }
}

/// The loopback address of node `index` (1-based): `127.0.<index>.1`.
pub fn node_ip(index: usize) -> Result<String, SimError> {
    if index == 0 || index > 254 {
        return Err(SimError::Setup(format!(
            "node index {index} is outside 1..=254 (node i listens on 127.0.i.1)"
        )));
    }
    Ok(format!("127.0.{index}.1"))
}

/// The configuration of node `index` of `network`, trusting `satellite`.
pub fn node_config(
    network: &NetworkConfig,
    index: usize,
    satellite: &NodeUrl,
) -> Result<NodeConfig, SimError> {
    let mut config = NodeConfig::new(network.dir.join(format!("node-{index}")));
    config.listen_addr = format!("{}:{}", node_ip(index)?, network.node_port);
    config.satellites = vec![satellite.clone()];
    config.capacity_bytes = network.node_capacity;
    config.storage = network.storage;
    config.sync_writes = network.sync_writes;
    config.checkin_interval = network.checkin_interval;
    config.retain_grace = network.retain_grace;
    config.trash_retention = network.trash_retention;
    config.trash_check_interval = network.trash_check_interval;
    config.workers = 1;
    config.plain_http = network.satellite.plain_http;
    Ok(config)
}

impl Network {
    /// Starts the satellite and every node, and waits until the satellite sees all
    /// nodes online.
    pub async fn start(config: NetworkConfig) -> Result<Self, SimError> {
        std::fs::create_dir_all(&config.dir)
            .map_err(|e| SimError::Setup(format!("creating {}: {e}", config.dir.display())))?;
        let mut sat_config = config.satellite.clone();
        sat_config.data_dir = config.dir.join("satellite");
        sat_config.listen_addr = config.satellite_listen.clone();
        let satellite = satellite::start(sat_config).await?;
        let mut network = Network {
            config,
            satellite,
            nodes: Vec::new(),
        };
        for index in 1..=network.config.nodes {
            let node_config = node_config(&network.config, index, &network.satellite.url)?;
            network.nodes.push(NodeSlot {
                index,
                config: node_config,
                running: None,
            });
        }
        let starts = network.nodes.iter_mut().map(|slot| async move {
            let node = StorageNode::start(slot.config.clone())
                .await
                .map_err(|source| SimError::Node {
                    index: slot.index,
                    source,
                })?;
            // Keep the port on restarts, so the satellite's records stay valid.
            slot.config.listen_addr = node.listen_addr().to_string();
            slot.running = Some(node);
            Ok::<(), SimError>(())
        });
        for r in futures::future::join_all(starts).await {
            r?;
        }
        network.wait_for_online(network.config.nodes).await?;
        Ok(network)
    }

    pub fn satellite_url(&self) -> &NodeUrl {
        &self.satellite.url
    }

    /// Waits until the satellite counts `n` nodes online.
    pub async fn wait_for_online(&self, n: usize) -> Result<(), SimError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, online) = self.satellite.overlay.counts();
            if online >= n {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(SimError::Setup(format!(
                    "only {online} of {n} nodes checked in within a minute"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Index is 1-based, as in the node's address.
    pub fn node(&self, index: usize) -> Option<&RunningNode> {
        self.nodes.get(index.checked_sub(1)?)?.running.as_ref()
    }

    pub fn running_nodes(&self) -> impl Iterator<Item = &RunningNode> {
        self.nodes.iter().filter_map(|s| s.running.as_ref())
    }

    /// Stops node `index` (it goes offline; its data stays on disk).
    pub async fn stop_node(&mut self, index: usize) {
        if let Some(slot) = index.checked_sub(1).and_then(|i| self.nodes.get_mut(i))
            && let Some(node) = slot.running.take()
        {
            node.stop().await;
        }
    }

    /// Starts node `index` again on its data directory and port.
    pub async fn start_node(&mut self, index: usize) -> Result<(), SimError> {
        if self.node(index).is_some() {
            return Ok(());
        }
        self.launch(index, None, None).await
    }

    /// Starts node `index` on a given store (e.g. a fault-injecting wrapper).
    pub async fn start_node_with_store(
        &mut self,
        index: usize,
        store: Arc<dyn PieceStore>,
    ) -> Result<(), SimError> {
        self.stop_node(index).await;
        self.launch(index, Some(store), None).await
    }

    /// Starts node `index` on its usual store, measuring free space with a given probe
    /// (e.g. [`super::faults::LimitedSpace`] for a disk that looks full).
    pub async fn start_node_with_space(
        &mut self,
        index: usize,
        space: Arc<dyn SpaceProbe>,
    ) -> Result<(), SimError> {
        self.stop_node(index).await;
        self.launch(index, None, Some(space)).await
    }

    async fn launch(
        &mut self,
        index: usize,
        store: Option<Arc<dyn PieceStore>>,
        space: Option<Arc<dyn SpaceProbe>>,
    ) -> Result<(), SimError> {
        let slot = index
            .checked_sub(1)
            .and_then(|i| self.nodes.get_mut(i))
            .ok_or_else(|| SimError::Setup(format!("no node {index}")))?;
        let config = slot.config.clone();
        let node = match (store, space) {
            (None, None) => StorageNode::start(config).await,
            (Some(store), None) => StorageNode::start_with_store(config, store).await,
            (store, Some(space)) => {
                let store = match store {
                    Some(store) => store,
                    None => StorageNode::open_store(&config)
                        .await
                        .map_err(|source| SimError::Node { index, source })?,
                };
                StorageNode::start_with(config, store, space).await
            }
        }
        .map_err(|source| SimError::Node { index, source })?;
        node.check_in_now()
            .await
            .map_err(|source| SimError::Node { index, source })?;
        slot.running = Some(node);
        Ok(())
    }

    /// Creates a project and an access grant for it with a fresh random root key.
    pub async fn create_access(&self, project_name: &str) -> Result<AccessGrant, SimError> {
        let db = &self.satellite.db;
        let project = satellite::admin::create_project(db, project_name).await?;
        let key = satellite::admin::create_api_key(db, &project.id, "default").await?;
        let api_key = uplink_core::access::ApiKey::parse(&key.serialized)
            .map_err(|e| SimError::Setup(e.to_string()))?;
        Ok(AccessGrant {
            satellite: self.satellite.url.clone(),
            api_key,
            encryption: EncryptionStore::with_root(Key::random()),
        })
    }

    /// Stops every node and the satellite.
    pub async fn stop(self) {
        for slot in self.nodes {
            if let Some(node) = slot.running {
                node.stop().await;
            }
        }
        self.satellite.stop().await;
    }
}
