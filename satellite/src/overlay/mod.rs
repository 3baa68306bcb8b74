//! The node registry: check-ins, and an in-memory view of the nodes used for selection.
//!
//! A check-in is accepted once its signature, proof of work and clock check out and the
//! node has proved its identity at the address it claims ([`dialback`]).
//!
//! Check-ins write through to the database and to the cache; the cache is also reloaded
//! periodically from the database, so that several satellite processes sharing one
//! database converge on the same view.

pub mod dialback;
mod selection;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uplink_core::protocol::wire::{CheckInRequest, CheckInResponse};
use uplink_core::protocol::{NodeId, PublicKey, Signable, now_unix};
use uplink_core::transport::{Mode, Transport};

pub use dialback::{DialBack, DialBackLimits};
pub use selection::SelectionRequest;

use crate::db::Db;
use crate::db::entities::node;
use crate::error::{Result, SatelliteError};

/// What selection and download planning need to know about a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    pub id: NodeId,
    pub public_key: PublicKey,
    pub address: String,
    pub last_net: String,
    pub free_bytes: u64,
    pub last_contact_success: i64,
    pub last_contact_failure: Option<i64>,
    pub disqualified: bool,
    pub suspended: bool,
    pub exiting: bool,
    /// Passed enough audits to get a full share of uploads.
    pub vetted: bool,
}

impl NodeInfo {
    fn from_model(m: &node::Model) -> Option<Self> {
        Some(Self {
            id: NodeId::from_slice(&m.id).ok()?,
            public_key: PublicKey(m.public_key.as_slice().try_into().ok()?),
            address: m.address.clone(),
            last_net: m.last_net.clone(),
            free_bytes: m.free_bytes.max(0) as u64,
            last_contact_success: m.last_contact_success,
            last_contact_failure: m.last_contact_failure,
            disqualified: m.disqualified_at.is_some(),
            suspended: m.suspended_at.is_some(),
            exiting: m.exit_initiated_at.is_some(),
            vetted: m.vetted_at.is_some(),
        })
    }
}

#[derive(Clone, Debug)]
pub struct OverlayConfig {
    pub online_window: Duration,
    /// Share of each upload's nodes taken from unvetted nodes (when there are enough
    /// vetted ones; otherwise unvetted nodes fill the rest).
    pub new_node_fraction: f64,
    pub identity_difficulty: u32,
    pub checkin_ping: bool,
    pub max_clock_skew: Duration,
    /// How the satellite dials nodes back (TLS, each node verified by its id).
    pub transport: Mode,
}

pub struct Overlay {
    db: Db,
    config: OverlayConfig,
    satellite: (NodeId, PublicKey),
    nodes: RwLock<Arc<HashMap<NodeId, NodeInfo>>>,
    dial_back: DialBack,
}

impl std::fmt::Debug for Overlay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overlay")
            .field("nodes", &self.nodes.read().len())
            .finish_non_exhaustive()
    }
}

impl Overlay {
    pub async fn new(
        db: Db,
        config: OverlayConfig,
        satellite: (NodeId, PublicKey),
    ) -> Result<Self> {
        let transport = Transport::shared(config.transport);
        let overlay = Self {
            db,
            config,
            dial_back: DialBack::new(satellite.0, transport, DialBackLimits::default()),
            satellite,
            nodes: RwLock::new(Arc::new(HashMap::new())),
        };
        overlay.refresh().await?;
        Ok(overlay)
    }

    /// Reloads the node view from the database.
    pub async fn refresh(&self) -> Result<usize> {
        let rows = node::Entity::find().all(&self.db).await?;
        let map: HashMap<NodeId, NodeInfo> = rows
            .iter()
            .filter_map(NodeInfo::from_model)
            .map(|n| (n.id, n))
            .collect();
        let count = map.len();
        *self.nodes.write() = Arc::new(map);
        Ok(count)
    }

    pub fn snapshot(&self) -> Arc<HashMap<NodeId, NodeInfo>> {
        self.nodes.read().clone()
    }

    pub fn get(&self, id: &NodeId) -> Option<NodeInfo> {
        self.nodes.read().get(id).cloned()
    }

    pub fn is_online(&self, node: &NodeInfo, now: i64) -> bool {
        node.last_contact_success >= now - self.config.online_window.as_secs() as i64
            && node
                .last_contact_failure
                .is_none_or(|f| f < node.last_contact_success)
    }

    /// Counts of known and online nodes, for health and metrics.
    pub fn counts(&self) -> (usize, usize) {
        let nodes = self.snapshot();
        let now = now_unix();
        let online = nodes.values().filter(|n| self.is_online(n, now)).count();
        (nodes.len(), online)
    }

    /// Verifies and records a node's check-in.
    pub async fn check_in(&self, req: CheckInRequest) -> Result<CheckInResponse> {
        if req.public_key.node_id() != req.node_id {
            return Err(SatelliteError::Unauthenticated(
                "node id does not match the node's public key".into(),
            ));
        }
        req.public_key
            .verify(&req.signing_bytes(), &req.signature)
            .map_err(|_| {
                SatelliteError::Unauthenticated("check-in signature does not verify".into())
            })?;
        if req.node_id.difficulty() < self.config.identity_difficulty {
            return Err(SatelliteError::PermissionDenied(format!(
                "node id difficulty {} is below the required {}",
                req.node_id.difficulty(),
                self.config.identity_difficulty
            )));
        }
        let now = now_unix();
        let skew = self.config.max_clock_skew.as_secs();
        // `abs_diff`: a timestamp the node chose (i64::MIN, say) cannot overflow.
        if req.timestamp.abs_diff(now) > skew {
            return Err(SatelliteError::BadRequest(format!(
                "check-in timestamp {} is more than {skew}s away from the satellite's clock {now}",
                req.timestamp
            )));
        }
        let target = resolve(&req.address).await?;
        if self.config.checkin_ping {
            self.dial_back.verify(&req, target).await?;
        }
        let model = node::ActiveModel {
            id: Set(req.node_id.0.to_vec()),
            public_key: Set(req.public_key.0.to_vec()),
            address: Set(req.address.clone()),
            last_net: Set(network_of(target.ip())),
            free_bytes: Set(req.capacity.free_bytes.min(i64::MAX as u64) as i64),
            used_bytes: Set(req.capacity.used_bytes.min(i64::MAX as u64) as i64),
            version: Set(req.version.clone()),
            created_at: Set(now),
            last_contact_success: Set(now),
            last_contact_failure: Set(None),
            vetted_at: Set(None),
            disqualified_at: Set(None),
            suspended_at: Set(None),
            exit_initiated_at: Set(None),
        };
        node::Entity::insert(model)
            .on_conflict(
                OnConflict::column(node::Column::Id)
                    .update_columns([
                        node::Column::PublicKey,
                        node::Column::Address,
                        node::Column::LastNet,
                        node::Column::FreeBytes,
                        node::Column::UsedBytes,
                        node::Column::Version,
                        node::Column::LastContactSuccess,
                        node::Column::LastContactFailure,
                    ])
                    .to_owned(),
            )
            .exec(&self.db)
            .await?;
        // One address is served by one node: whatever node claimed it before is gone
        // (replaced, or restarted with a new identity) and must not be selected.
        node::Entity::update_many()
            .col_expr(node::Column::LastContactFailure, Expr::value(now))
            .filter(node::Column::Address.eq(req.address.clone()))
            .filter(node::Column::Id.ne(req.node_id.0.to_vec()))
            .exec(&self.db)
            .await?;
        if let Some(row) = node::Entity::find_by_id(req.node_id.0.to_vec())
            .one(&self.db)
            .await?
            && let Some(info) = NodeInfo::from_model(&row)
        {
            let mut guard = self.nodes.write();
            let mut map = (**guard).clone();
            for other in map.values_mut() {
                if other.address == info.address && other.id != info.id {
                    other.last_contact_failure = Some(now);
                }
            }
            map.insert(info.id, info);
            *guard = Arc::new(map);
        }
        Ok(CheckInResponse {
            satellite_id: self.satellite.0,
            satellite_public_key: self.satellite.1,
        })
    }

    pub fn config(&self) -> &OverlayConfig {
        &self.config
    }
}

/// The socket address a claimed `host:port` stands for. A name that does not resolve
/// gets the same answer as a failed dial-back, so check-in tells nothing about names.
async fn resolve(address: &str) -> Result<SocketAddr> {
    let bad = |why: &str| {
        SatelliteError::BadRequest(format!("node address {address:?} is not usable: {why}"))
    };
    let concrete = |sock: SocketAddr| {
        if sock.port() == 0 || sock.ip().is_unspecified() {
            Err(bad("needs a concrete IP and port"))
        } else {
            Ok(sock)
        }
    };
    if let Ok(sock) = address.parse::<SocketAddr>() {
        return concrete(sock);
    }
    let unresolved = |detail: String| {
        tracing::debug!(%address, "node address does not resolve: {detail}");
        SatelliteError::BadRequest(dialback::UNVERIFIED.into())
    };
    let mut addrs = tokio::net::lookup_host(address)
        .await
        .map_err(|e| unresolved(e.to_string()))?;
    concrete(
        addrs
            .next()
            .ok_or_else(|| unresolved("no addresses".into()))?,
    )
}

/// The /24 (IPv4) or /64 (IPv6) network of an address.
pub fn network_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_group_by_24_and_64() {
        assert_eq!(network_of("127.0.3.1".parse().unwrap()), "127.0.3.0/24");
        assert_eq!(
            network_of("127.0.3.1".parse().unwrap()),
            network_of("127.0.3.200".parse().unwrap())
        );
        assert_ne!(
            network_of("127.0.3.1".parse().unwrap()),
            network_of("127.0.4.1".parse().unwrap())
        );
        assert_eq!(
            network_of("2001:db8:1:2:3::1".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
    }
}
