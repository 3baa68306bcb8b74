//! Sends queued piece deletions to nodes, each under a satellite-signed DELETE limit.
//! Failures are retried a few times; what is still left is garbage collection's job.
//! A deletion waits out a grace period first, so that a download that began before
//! the object was deleted or replaced still finds its pieces.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use uplink_core::transport::Transport;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use uplink_core::protocol::wire::{DELETE_PATH, DeleteRequest};
use uplink_core::protocol::{NodeId, PieceId};

use super::PeriodicJob;
use crate::db::Db;
use crate::db::entities::piece_deletion;
use crate::error::SatelliteError;
use crate::metrics::Metrics;
use crate::orders::OrderSigner;
use crate::overlay::Overlay;

pub struct PieceDeleter {
    pub db: Db,
    pub overlay: Arc<Overlay>,
    pub orders: OrderSigner,
    pub transport: Transport,
    pub interval: Duration,
    /// Deletions younger than this wait (reads under way finish first).
    pub grace: Duration,
    pub max_attempts: u32,
    pub batch: u64,
    pub metrics: Metrics,
}

#[async_trait::async_trait]
impl PeriodicJob for PieceDeleter {
    fn name(&self) -> &'static str {
        "piece-deleter"
    }
    fn interval(&self) -> Duration {
        self.interval
    }
    async fn run_once(&self) -> Result<String, SatelliteError> {
        let due = uplink_core::protocol::now_unix() - self.grace.as_secs() as i64;
        let rows = piece_deletion::Entity::find()
            .filter(piece_deletion::Column::CreatedAt.lte(due))
            .order_by_asc(piece_deletion::Column::Id)
            .limit(self.batch)
            .all(&self.db)
            .await?;
        let mut by_node: HashMap<NodeId, Vec<piece_deletion::Model>> = HashMap::new();
        for row in rows {
            if let Ok(node) = NodeId::from_slice(&row.node_id) {
                by_node.entry(node).or_default().push(row);
            }
        }
        let (mut ok, mut failed, mut dropped) = (0u64, 0u64, 0u64);
        let mut done = Vec::new();
        let mut retry = Vec::new();
        for (node_id, rows) in by_node {
            let address = self.overlay.get(&node_id).map(|n| n.address);
            for row in rows {
                let sent = match (&address, PieceId::from_slice(&row.piece_id)) {
                    (Some(addr), Ok(piece)) => self.send(addr, node_id, piece).await,
                    _ => false,
                };
                if sent {
                    ok += 1;
                    done.push(row.id);
                } else if row.attempts + 1 >= self.max_attempts as i32 {
                    dropped += 1;
                    done.push(row.id);
                } else {
                    failed += 1;
                    retry.push(row.id);
                }
            }
        }
        if !done.is_empty() {
            piece_deletion::Entity::delete_many()
                .filter(piece_deletion::Column::Id.is_in(done))
                .exec(&self.db)
                .await?;
        }
        if !retry.is_empty() {
            piece_deletion::Entity::update_many()
                .col_expr(
                    piece_deletion::Column::Attempts,
                    Expr::col(piece_deletion::Column::Attempts).add(1),
                )
                .filter(piece_deletion::Column::Id.is_in(retry))
                .exec(&self.db)
                .await?;
        }
        self.metrics
            .pieces_deleted
            .with_label_values(&["ok"])
            .inc_by(ok);
        self.metrics
            .pieces_deleted
            .with_label_values(&["failed"])
            .inc_by(failed);
        self.metrics
            .pieces_deleted
            .with_label_values(&["given_up"])
            .inc_by(dropped);
        let pending = piece_deletion::Entity::find().count(&self.db).await?;
        self.metrics.pending_piece_deletions.set(pending as i64);
        Ok(format!(
            "deleted {ok} pieces, {failed} to retry, {dropped} left to garbage collection"
        ))
    }
}

/// Time allowed for one deletion request.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl PieceDeleter {
    async fn send(&self, address: &str, node: NodeId, piece: PieceId) -> bool {
        let body = DeleteRequest {
            order_limit: self.orders.delete_limit(node, piece),
        };
        let Ok(url) = self.transport.url(&node, address, DELETE_PATH) else {
            return false;
        };
        match self
            .transport
            .http()
            .post(url)
            .timeout(REQUEST_TIMEOUT)
            .json(&body)
            .send()
            .await
        {
            Ok(resp) => resp.status().is_success(),
            Err(_) => false,
        }
    }
}
