//! Auditing the pieces of one segment: a random hash block of each piece, fetched under
//! a GET_AUDIT limit and checked against the block hashes the uploader signed (the
//! same verification every download does). What went wrong decides the outcome: a
//! missing piece or bad data is a failure, no connection is offline, a timeout puts the
//! node in containment, where it must produce the same piece on the next audits or
//! fail.

use rand::Rng;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use tokio::sync::mpsc;
use uplink_core::client::error::{PieceError, PieceOutcome};
use uplink_core::client::pieces::{PieceFetch, fetch_piece};
use uplink_core::protocol::piece::{DEFAULT_HASH_BLOCK_SIZE, block_count};
use uplink_core::protocol::{NodeId, PieceAction, SegmentPosition, now_unix};
use uplink_core::transport::Transport;

use super::AuditConfig;
use super::reputation::{self, AuditOutcome};
use crate::db::Db;
use crate::db::entities::containment;
use crate::error::Result;
use crate::metabase::{Piece, Segment, SegmentKey, segments};
use crate::metrics::Metrics;
use crate::orders::{LimitTarget, OrderSigner};
use crate::overlay::{NodeInfo, Overlay};

#[derive(Clone)]
pub struct Verifier {
    pub db: Db,
    pub overlay: std::sync::Arc<Overlay>,
    pub orders: OrderSigner,
    pub transport: Transport,
    pub config: AuditConfig,
    pub metrics: Metrics,
}

/// Outcomes of one segment's audit, per node.
pub type Findings = Vec<(NodeId, AuditOutcome)>;

impl Verifier {
    /// Audits every piece of the segment at `key` (nodes in containment are asked
    /// for their pending piece instead) and records the outcomes.
    pub async fn audit(&self, key: &SegmentKey) -> Result<Findings> {
        let Some(segment) = segments::get(&self.db, key).await? else {
            return Ok(Vec::new());
        };
        let Some(remote) = segment.remote() else {
            return Ok(Vec::new());
        };
        let nodes = self.overlay.snapshot();
        let now = now_unix();
        let mut checks = Vec::new();
        for piece in remote.pieces.iter() {
            let Some(node) = nodes.get(&piece.node) else {
                continue;
            };
            if node.disqualified {
                continue;
            }
            checks.push((*piece, node.clone()));
        }
        let mut findings = Vec::new();
        let segment = &segment;
        let reverify_after = self.config.reverify_interval.as_secs() as i64;
        let results = futures::future::join_all(checks.iter().map(|(piece, node)| async move {
            if !self.overlay.is_online(node, now) {
                return Some((node.id, AuditOutcome::Offline));
            }
            if let Some(pending) = containment::Entity::find_by_id(node.id.0.to_vec())
                .one(&self.db)
                .await
                .ok()
                .flatten()
            {
                if now - pending.created_at < reverify_after {
                    return None;
                }
                return Some((node.id, self.reverify(node, pending).await));
            }
            let outcome = self.check_piece(segment, piece, node).await;
            let outcome = match outcome {
                Err(e) if e.outcome() == PieceOutcome::TimedOut => {
                    self.contain(node, key, piece.num, 1).await;
                    AuditOutcome::Unknown
                }
                other => classify(other),
            };
            Some((node.id, outcome))
        }))
        .await;
        let results: Vec<(NodeId, AuditOutcome)> = results.into_iter().flatten().collect();
        reputation::record_all(&self.db, &results, &self.config).await?;
        for (node, outcome) in results {
            self.metrics
                .audits
                .with_label_values(&[outcome.as_str()])
                .inc();
            findings.push((node, outcome));
        }
        Ok(findings)
    }

    async fn contain(&self, node: &NodeInfo, key: &SegmentKey, num: u16, attempts: i32) {
        let row = containment::ActiveModel {
            node_id: Set(node.id.0.to_vec()),
            object_id: Set(key.object_id.clone()),
            position: Set(key.position.encode()),
            piece_num: Set(num as i16),
            attempts: Set(attempts),
            created_at: Set(now_unix()),
        };
        let result = if attempts == 1 {
            containment::Entity::insert(row)
                .exec(&self.db)
                .await
                .map(|_| ())
        } else {
            row.update(&self.db).await.map(|_| ())
        };
        if let Err(e) = result {
            tracing::warn!(node = %node.id, error = %e, "could not record containment");
        }
    }

    async fn release(&self, node: &NodeInfo) {
        let _ = containment::Entity::delete_by_id(node.id.0.to_vec())
            .exec(&self.db)
            .await;
    }

    /// A contained node must produce the piece it timed out on.
    async fn reverify(&self, node: &NodeInfo, pending: containment::Model) -> AuditOutcome {
        let Ok(position) = SegmentPosition::decode(pending.position) else {
            // Not a position this satellite writes: nothing to hold the node to.
            tracing::error!(node = %node.id, position = pending.position, "containment names no valid segment position; released");
            self.release(node).await;
            return AuditOutcome::Unknown;
        };
        let key = SegmentKey {
            object_id: pending.object_id.clone(),
            position,
        };
        let segment = match segments::get(&self.db, &key).await {
            Ok(Some(s)) => s,
            _ => {
                // The segment is gone: nothing left to prove.
                self.release(node).await;
                return AuditOutcome::Success;
            }
        };
        let Some(piece) = segment
            .remote()
            .and_then(|r| r.pieces.get(pending.piece_num as u16).copied())
            .filter(|p| p.node == node.id)
        else {
            self.release(node).await;
            return AuditOutcome::Success;
        };
        match self.check_piece(&segment, &piece, node).await {
            Err(e) if e.outcome() == PieceOutcome::TimedOut => {
                if pending.attempts as u32 >= self.config.max_reverifications {
                    self.release(node).await;
                    tracing::warn!(node = %node.id, "contained node kept timing out: audit failure");
                    AuditOutcome::Failure
                } else {
                    self.contain(node, &key, piece.num, pending.attempts + 1)
                        .await;
                    AuditOutcome::Unknown
                }
            }
            Err(e) if e.outcome() == PieceOutcome::Offline => AuditOutcome::Offline,
            other => {
                self.release(node).await;
                classify(other)
            }
        }
    }

    /// Fetches and verifies one random hash block of one piece.
    async fn check_piece(
        &self,
        segment: &Segment,
        piece: &Piece,
        node: &NodeInfo,
    ) -> Result<(), PieceError> {
        let remote = segment.remote().expect("remote segment");
        let block = DEFAULT_HASH_BLOCK_SIZE as u64;
        let blocks = block_count(remote.piece_size, DEFAULT_HASH_BLOCK_SIZE).max(1);
        let index = rand::thread_rng().gen_range(0..blocks);
        let offset = index * block;
        let length = block.min(remote.piece_size.saturating_sub(offset));
        let limit = self
            .orders
            .limits(
                PieceAction::GetAudit,
                remote.root_piece_id,
                &[LimitTarget {
                    piece_num: piece.num,
                    node_id: node.id,
                    address: node.address.clone(),
                }],
                length,
                self.orders.public_key(),
                None,
            )
            .remove(0);
        let (tx, mut rx) = mpsc::channel(4);
        let fetch = PieceFetch {
            target: limit,
            offset,
            length,
            piece_size: remote.piece_size,
            satellite_key: self.orders.public_key(),
        };
        let task = tokio::spawn(fetch_piece(
            self.transport.clone(),
            fetch,
            tx,
            self.config.piece_timeout,
        ));
        let mut got = 0u64;
        let mut result = Ok(());
        while let Some(chunk) = rx.recv().await {
            match chunk {
                Ok(bytes) => got += bytes.len() as u64,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        task.abort();
        if result.is_ok() && got != length {
            result = Err(PieceError::Corrupt {
                address: node.address.clone(),
                reason: format!("sent {got} of {length} audited bytes"),
            });
        }
        result
    }
}

fn classify(result: Result<(), PieceError>) -> AuditOutcome {
    match result {
        Ok(()) => AuditOutcome::Success,
        Err(e) => match e.outcome() {
            PieceOutcome::Corrupt | PieceOutcome::Missing => AuditOutcome::Failure,
            PieceOutcome::Offline => AuditOutcome::Offline,
            PieceOutcome::TimedOut | PieceOutcome::Other => AuditOutcome::Unknown,
        },
    }
}
