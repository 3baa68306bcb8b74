//! Starting, stopping and restarting the parts of a local network, and injecting
//! faults into its nodes while it runs.
//!
//! Every node runs on wrapped components that obey its [`NodeFaults`]: its piece store
//! and free-space probe, and (with [`NetworkConfig::links`]) a [`Link`] in front of its
//! server, which is the address it advertises, and another between it and the
//! satellite, which carries its check-ins. So a node can be made offline, slow, full
//! or lossy at any moment, from a test, a [`FaultPlan`] or the control API, and keeps
//! its identity, data and address throughout.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use satellite::{RunningSatellite, SatelliteConfig};
use uplink_core::access::AccessGrant;
use uplink_core::crypto::Key;
use uplink_core::crypto::store::EncryptionStore;
use uplink_core::protocol::NodeUrl;

use super::faults::churn::MAX_NODE_INDEX;
use super::faults::{
    ChurnAction, ChurnEvent, ChurnSchedule, ChurnSpec, Facing, FaultError, FaultPlan,
    FaultRegistry, FaultSpec, Link, NodeFaultSpace, NodeFaultStore, NodeFaults, Target,
};
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
    #[error(transparent)]
    Faults(#[from] FaultError),
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
    /// Put a [`Link`] in front of every node's server (its advertised address, on
    /// `node_port`) and between every node and the satellite, so that nodes can be made
    /// offline or slow. On by default; the benchmark turns it off to measure the bare
    /// data path.
    pub links: bool,
    /// Faults set on the nodes from the start; its churn runs with
    /// [`Network::run_churn`].
    pub faults: FaultPlan,
}

impl NetworkConfig {
    /// A development network: fast check-ins, short online window, 4/6/8/10.
    pub fn new(dir: impl Into<PathBuf>, nodes: usize) -> Self {
        let satellite = SatelliteConfig {
            node_online_window: Duration::from_secs(60),
            piece_deletion_interval: Duration::from_secs(5),
            edge: satellite::edge::EdgeConfig {
                s3_listen: Some("127.0.0.1:0".into()),
                links_listen: Some("127.0.0.1:0".into()),
                ..Default::default()
            },
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
            links: true,
            faults: FaultPlan::default(),
        }
    }
}

/// One node position of the network, running or stopped.
pub struct NodeSlot {
    pub index: usize,
    pub config: NodeConfig,
    pub running: Option<RunningNode>,
    /// The node's faults, read by its store, disk and links on every operation.
    pub faults: Arc<NodeFaults>,
    /// In front of the node's server: the address the node advertises.
    pub link: Option<Link>,
    /// Between the node and the satellite: where its check-ins go.
    pub satellite_link: Option<Link>,
    /// The node left the network for good (churn): stopped, its data removed.
    pub gone: bool,
}

/// What applying one churn event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChurnOutcome {
    Left(usize),
    Joined(usize),
    /// Nothing, and why (a floor or cap of the churn, a node already gone).
    Skipped(String),
}

impl std::fmt::Display for ChurnOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChurnOutcome::Left(i) => write!(f, "node {i} left for good"),
            ChurnOutcome::Joined(i) => write!(f, "node {i} joined"),
            ChurnOutcome::Skipped(why) => write!(f, "skipped: {why}"),
        }
    }
}

/// A satellite and its nodes, all in this process.
pub struct Network {
    pub config: NetworkConfig,
    pub satellite: RunningSatellite,
    pub nodes: Vec<NodeSlot>,
    registry: Arc<FaultRegistry>,
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
    /// Starts the satellite and every node (with the faults of `config.faults`), and
    /// waits until the satellite sees every node online that is not offline.
    pub async fn start(config: NetworkConfig) -> Result<Self, SimError> {
        check_plan(&config.faults, config.nodes, config.links)?;
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
            registry: FaultRegistry::new(),
        };
        for index in 1..=network.config.nodes {
            let slot = network.new_slot(index).await?;
            network.nodes.push(slot);
        }
        let starts = network
            .nodes
            .iter_mut()
            .map(|slot| launch_slot(slot, None, None, false));
        for r in futures::future::join_all(starts).await {
            r?;
        }
        let reachable = network
            .nodes
            .iter()
            .filter(|s| !s.faults.is_offline())
            .count();
        network.wait_for_online(reachable).await?;
        Ok(network)
    }

    /// A new slot for node `index`: its faults (from the plan), its links, its
    /// configuration.
    async fn new_slot(&self, index: usize) -> Result<NodeSlot, SimError> {
        let faults = NodeFaults::new(index);
        if let Some(spec) = self.config.faults.nodes.get(&index) {
            faults.set(spec.clone())?;
        }
        let mut config = node_config(&self.config, index, &self.satellite.url)?;
        let (link, satellite_link) = if self.config.links {
            let ip = node_ip(index)?;
            let listen = socket(&format!("{ip}:{}", self.config.node_port))?;
            let link = Link::start(listen, Facing::Node, faults.clone(), Target::Pending)
                .await
                .map_err(|e| {
                    SimError::Setup(format!("node {index}: listening on {listen}: {e}"))
                })?;
            let satellite = resolve(&self.satellite.url.address).await?;
            let satellite_link = Link::start(
                socket(&format!("{ip}:0"))?,
                Facing::Satellite,
                faults.clone(),
                Target::Up(satellite),
            )
            .await
            .map_err(|e| SimError::Setup(format!("node {index}: link to the satellite: {e}")))?;
            config.listen_addr = format!("{ip}:0");
            config.external_address = Some(link.address().to_string());
            config.satellites = vec![NodeUrl {
                id: self.satellite.url.id,
                address: satellite_link.address().to_string(),
            }];
            (Some(link), Some(satellite_link))
        } else {
            (None, None)
        };
        self.registry.insert(faults.clone());
        Ok(NodeSlot {
            index,
            config,
            running: None,
            faults,
            link,
            satellite_link,
            gone: false,
        })
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
            if let Some(link) = &slot.link {
                link.set_target(Target::Down);
            }
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

    /// Starts node `index` on a given store (e.g. a fault-injecting wrapper). The
    /// node's own faults still apply on top of it.
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
        let slot = self.slot_mut(index)?;
        launch_slot(slot, store, space, true).await
    }

    fn slot(&self, index: usize) -> Result<&NodeSlot, SimError> {
        index
            .checked_sub(1)
            .and_then(|i| self.nodes.get(i))
            .filter(|s| !s.gone)
            .ok_or(SimError::Faults(FaultError::UnknownNode(index)))
    }

    fn slot_mut(&mut self, index: usize) -> Result<&mut NodeSlot, SimError> {
        index
            .checked_sub(1)
            .and_then(|i| self.nodes.get_mut(i))
            .filter(|s| !s.gone)
            .ok_or(SimError::Faults(FaultError::UnknownNode(index)))
    }

    /// The fault handle of node `index` (`None` if there is no such node, or it left).
    pub fn faults(&self, index: usize) -> Option<Arc<NodeFaults>> {
        self.registry.get(index)
    }

    /// The fault handles of every node, for the control API: nodes that join later
    /// appear in it, nodes that leave disappear.
    pub fn fault_registry(&self) -> Arc<FaultRegistry> {
        self.registry.clone()
    }

    /// Replaces the faults of node `index`; takes effect at once, in transfers already
    /// under way too.
    pub fn set_faults(&self, index: usize, spec: FaultSpec) -> Result<(), SimError> {
        let slot = self.slot(index)?;
        if spec.needs_link() && slot.link.is_none() {
            return Err(FaultError::NoLink(index).into());
        }
        slot.faults.set(spec)?;
        Ok(())
    }

    /// Waits until the links of node `index` are open or closed as its faults say now:
    /// once a node set offline has settled, every new connection to it is refused.
    pub async fn links_settled(&self, index: usize) {
        if let Ok(slot) = self.slot(index) {
            for link in [&slot.link, &slot.satellite_link].into_iter().flatten() {
                link.settled().await;
            }
        }
    }

    /// Clears the faults of node `index`.
    pub fn clear_faults(&self, index: usize) -> Result<(), SimError> {
        self.slot(index)?.faults.clear();
        Ok(())
    }

    /// Sets the faults a plan gives (other nodes keep theirs), and takes its churn for
    /// [`Network::run_churn`]. A plan naming a node that is not there changes nothing.
    pub fn apply_plan(&mut self, plan: FaultPlan) -> Result<(), SimError> {
        for (index, spec) in &plan.nodes {
            let slot = self.slot(*index)?;
            if spec.needs_link() && slot.link.is_none() {
                return Err(FaultError::NoLink(*index).into());
            }
            spec.validate()?;
        }
        for (index, spec) in &plan.nodes {
            self.slot(*index)?.faults.set(spec.clone())?;
        }
        self.config.faults = plan;
        Ok(())
    }

    /// Node `index` leaves the network for good: it stops, its links close (it is
    /// refused from then on) and its data directory is removed.
    pub async fn remove_node(&mut self, index: usize) -> Result<(), SimError> {
        self.slot(index)?;
        self.stop_node(index).await;
        let slot = self.slot_mut(index)?;
        slot.gone = true;
        if let Some(link) = slot.link.take() {
            link.stop().await;
        }
        if let Some(link) = slot.satellite_link.take() {
            link.stop().await;
        }
        let dir = slot.config.data_dir.clone();
        self.registry.remove(index);
        remove_dir(dir).await?;
        tracing::info!(node = index, "node left the network for good");
        Ok(())
    }

    /// A new node joins: the next index, an empty data directory, a new identity.
    /// Returns its index once it has checked in.
    pub async fn add_node(&mut self) -> Result<usize, SimError> {
        let index = self.nodes.len() + 1;
        node_ip(index)?;
        let mut slot = self.new_slot(index).await?;
        // New means new: nothing left over from an earlier run.
        remove_dir(slot.config.data_dir.clone()).await?;
        if let Err(e) = launch_slot(&mut slot, None, None, true).await {
            self.registry.remove(index);
            return Err(e);
        }
        self.nodes.push(slot);
        tracing::info!(node = index, "node joined the network");
        Ok(index)
    }

    /// Indices of the nodes that are members of the network (running or stopped, not
    /// gone).
    pub fn member_indices(&self) -> Vec<usize> {
        self.nodes
            .iter()
            .filter(|s| !s.gone)
            .map(|s| s.index)
            .collect()
    }

    /// Applies one churn event, within the floor and cap of `spec`.
    pub async fn apply_churn(
        &mut self,
        event: &ChurnEvent,
        spec: &ChurnSpec,
    ) -> Result<ChurnOutcome, SimError> {
        let members = self.member_indices();
        match event.action {
            ChurnAction::Leave(index) => {
                if !members.contains(&index) {
                    return Ok(ChurnOutcome::Skipped(format!(
                        "node {index} is not in the network"
                    )));
                }
                self.remove_node(index).await?;
                Ok(ChurnOutcome::Left(index))
            }
            ChurnAction::LeaveRandom(pick) => {
                if members.len() <= spec.min_nodes {
                    return Ok(ChurnOutcome::Skipped(format!(
                        "a node would leave, but {} are left and min_nodes is {}",
                        members.len(),
                        spec.min_nodes
                    )));
                }
                let index = members[(pick % members.len() as u64) as usize];
                self.remove_node(index).await?;
                Ok(ChurnOutcome::Left(index))
            }
            ChurnAction::Join => {
                if members.len() >= spec.max_nodes {
                    return Ok(ChurnOutcome::Skipped(format!(
                        "a node would join, but {} are there and max_nodes is {}",
                        members.len(),
                        spec.max_nodes
                    )));
                }
                if self.nodes.len() >= MAX_NODE_INDEX {
                    return Ok(ChurnOutcome::Skipped(format!(
                        "a node would join, but all {MAX_NODE_INDEX} node addresses were used"
                    )));
                }
                Ok(ChurnOutcome::Joined(self.add_node().await?))
            }
        }
    }

    /// Runs the churn of the plan (`config.faults.churn`) from now until `stop` ends
    /// (or, for a finite schedule, until its last event), telling `report` about each
    /// event. A failed event is reported and the churn goes on.
    pub async fn run_churn(
        &mut self,
        stop: impl Future<Output = ()>,
        mut report: impl FnMut(&ChurnEvent, &Result<ChurnOutcome, SimError>),
    ) {
        let Some(spec) = self.config.faults.churn.clone() else {
            return;
        };
        let started = tokio::time::Instant::now();
        tokio::pin!(stop);
        for event in ChurnSchedule::new(&spec) {
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep_until(started + event.at) => {}
            }
            let outcome = self.apply_churn(&event, &spec).await;
            report(&event, &outcome);
        }
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
            for link in [slot.link, slot.satellite_link].into_iter().flatten() {
                link.stop().await;
            }
        }
        self.satellite.stop().await;
    }
}

/// Refuses a plan that names nodes the network will not have, or needs links it
/// will not have, before anything starts.
fn check_plan(plan: &FaultPlan, nodes: usize, links: bool) -> Result<(), SimError> {
    for (index, spec) in &plan.nodes {
        if *index > nodes {
            return Err(FaultError::Invalid {
                field: format!("nodes.{index}"),
                message: format!("the network has nodes 1 to {nodes} only"),
            }
            .into());
        }
        if spec.needs_link() && !links {
            return Err(FaultError::NoLink(*index).into());
        }
    }
    Ok(())
}

/// Starts the node of `slot` on its wrapped store and disk; with `check_in`, waits for
/// its first check-in (unless it is offline, when that could not succeed).
async fn launch_slot(
    slot: &mut NodeSlot,
    store: Option<Arc<dyn PieceStore>>,
    space: Option<Arc<dyn SpaceProbe>>,
    check_in: bool,
) -> Result<(), SimError> {
    let index = slot.index;
    let fail = |source| SimError::Node { index, source };
    let config = slot.config.clone();
    let store = match store {
        Some(store) => store,
        None => StorageNode::open_store(&config).await.map_err(fail)?,
    };
    let space = space.unwrap_or_else(|| StorageNode::space_probe(&config));
    let store: Arc<dyn PieceStore> = Arc::new(NodeFaultStore::new(store, slot.faults.clone()));
    let space: Arc<dyn SpaceProbe> = Arc::new(NodeFaultSpace::new(space, slot.faults.clone()));
    if let Some(link) = &slot.link {
        link.set_target(Target::Pending);
    }
    let started = async {
        let node = StorageNode::start_with(config, store, space)
            .await
            .map_err(fail)?;
        // Keep the port on restarts, so the link's target stays valid.
        slot.config.listen_addr = node.listen_addr().to_string();
        if let Some(link) = &slot.link {
            link.set_target(Target::Up(node.listen_addr()));
        }
        if check_in && !slot.faults.is_offline() {
            node.check_in_now().await.map_err(fail)?;
        }
        Ok::<_, SimError>(node)
    }
    .await;
    match started {
        Ok(node) => {
            slot.running = Some(node);
            Ok(())
        }
        Err(e) => {
            if let Some(link) = &slot.link {
                link.set_target(Target::Down);
            }
            Err(e)
        }
    }
}

fn socket(text: &str) -> Result<SocketAddr, SimError> {
    text.parse()
        .map_err(|e| SimError::Setup(format!("{text:?} is not an address: {e}")))
}

async fn resolve(address: &str) -> Result<SocketAddr, SimError> {
    if let Ok(addr) = address.parse() {
        return Ok(addr);
    }
    tokio::net::lookup_host(address)
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| SimError::Setup(format!("cannot resolve the satellite at {address}")))
}

/// Removes a node's data directory. A stopped node's piece writes that were already
/// running on the blocking pool finish on their own and may add a file while the tree
/// is being removed (`ENOTEMPTY`): removal is tried again until they are done.
async fn remove_dir(dir: PathBuf) -> Result<(), SimError> {
    const ATTEMPTS: u32 = 50;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let path = dir.clone();
        let outcome = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(&path))
            .await
            .map_err(|e| SimError::Setup(format!("removing a node's data: {e}")))?;
        match outcome {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty && attempt < ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                return Err(SimError::Setup(format!("removing {}: {e}", dir.display())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write still finishing when its node stopped keeps adding files while the
    /// node's directory is removed; the removal waits it out instead of failing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn removing_a_directory_outlasts_writes_still_finishing() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("node-1");
        let blobs = dir.join("blobs").join("aa");
        std::fs::create_dir_all(&blobs).unwrap();
        for i in 0..2000 {
            std::fs::write(blobs.join(format!("old-{i}")), b"piece").unwrap();
        }
        let writer = std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_millis(400);
            let mut i = 0;
            while Instant::now() < until {
                let _ = std::fs::write(blobs.join(format!("new-{i}")), b"piece");
                i += 1;
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        remove_dir(dir.clone()).await.unwrap();
        writer.join().unwrap();
        remove_dir(dir.clone()).await.unwrap();
        assert!(!dir.exists());
    }
}
