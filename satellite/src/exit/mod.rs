//! Graceful exit on the satellite: a node asks to leave; from then on it gets no new
//! pieces and counts as unhealthy, the repair checker queues every segment with a piece
//! on it, and repair rebuilds those pieces elsewhere (or drops them where the segment
//! is at `optimal` without them). It keeps serving downloads meanwhile. The exit
//! observer of the segment loop counts what is left on each exiting node; when a full
//! pass finds nothing, the exit is complete and the node may shut down.

use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use uplink_core::protocol::exit::{ExitRequest, ExitState, ExitStatus};
use uplink_core::protocol::{NodeId, now_unix};

use crate::db::Db;
use crate::db::entities::{graceful_exit, node};
use crate::error::{Result, SatelliteError};
use crate::metabase::{MetabaseError, Segment};
use crate::overlay::Overlay;
use crate::segment_loop::{Observer, Pass, PassStats};

/// Name of the report in `service_reports`.
pub const REPORT: &str = "graceful-exit";

/// Requests older or newer than this are refused (clock skew allowance).
const MAX_SKEW_SECS: i64 = 600;

/// Pieces left per exiting node, as of the last full pass.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ExitReport {
    pub pass_started_at: i64,
    pub remaining: HashMap<String, u64>,
}

/// Handles a node's signed exit request (start or status).
pub async fn handle(
    db: &Db,
    overlay: &Arc<Overlay>,
    satellite: NodeId,
    req: &ExitRequest,
) -> Result<ExitStatus> {
    let known = overlay.get(&req.node_id).ok_or_else(|| {
        SatelliteError::NotFound(format!("node {} is not known here", req.node_id))
    })?;
    req.verify(&known.public_key).map_err(|_| {
        SatelliteError::Unauthenticated("exit request not signed by the node".into())
    })?;
    if req.satellite_id != satellite {
        return Err(SatelliteError::BadRequest(
            "exit request is for another satellite".into(),
        ));
    }
    if (now_unix() - req.timestamp).abs() > MAX_SKEW_SECS {
        return Err(SatelliteError::BadRequest(
            "exit request timestamp is too far from the satellite's clock".into(),
        ));
    }
    if req.start {
        if known.disqualified {
            return Err(SatelliteError::PermissionDenied(
                "a disqualified node cannot exit gracefully".into(),
            ));
        }
        let id = req.node_id;
        let started = crate::db::write_txn!(db, |txn| {
            let Some(row) = node::Entity::find_by_id(id.0.to_vec()).one(&txn).await? else {
                return Err(SatelliteError::NotFound("node is not known here".into()));
            };
            if row.exit_initiated_at.is_some() {
                return Ok(false);
            }
            // Claimed by a conditional update: concurrent starts all read "not
            // exiting", and on PostgreSQL each would go on to insert the exit row.
            let now = now_unix();
            let claimed = node::Entity::update_many()
                .col_expr(node::Column::ExitInitiatedAt, Expr::value(now))
                .filter(node::Column::Id.eq(id.0.to_vec()))
                .filter(node::Column::ExitInitiatedAt.is_null())
                .exec(&txn)
                .await?
                .rows_affected;
            if claimed == 0 {
                return Ok(false);
            }
            graceful_exit::Entity::insert(graceful_exit::ActiveModel {
                node_id: Set(id.0.to_vec()),
                initiated_at: Set(now),
                finished_at: Set(None),
                success: Set(None),
                pieces_at_start: Set(0),
                reason: Set(None),
            })
            .exec(&txn)
            .await?;
            Ok(true)
        })?;
        if started {
            tracing::info!(node = %id, "graceful exit started");
            overlay.refresh().await?;
        }
    }
    status(db, &req.node_id).await
}

/// Where a node's exit stands.
pub async fn status(db: &Db, node: &NodeId) -> Result<ExitStatus> {
    let row = graceful_exit::Entity::find_by_id(node.0.to_vec())
        .one(db)
        .await?;
    let Some(row) = row else {
        return Ok(ExitStatus {
            state: ExitState::NotStarted,
            initiated_at: None,
            finished_at: None,
            pieces_remaining: None,
            pieces_at_start: None,
            may_shut_down: false,
            message: "no exit was requested".into(),
        });
    };
    let remaining = crate::reports::get::<_, ExitReport>(db, REPORT)
        .await?
        .and_then(|(r, _)| r.remaining.get(&node.to_string()).copied());
    let state = match row.success {
        Some(true) => ExitState::Completed,
        Some(false) => ExitState::Failed,
        None => ExitState::InProgress,
    };
    Ok(ExitStatus {
        state,
        initiated_at: Some(row.initiated_at),
        finished_at: row.finished_at,
        pieces_remaining: if state == ExitState::Completed {
            Some(0)
        } else {
            remaining
        },
        pieces_at_start: (row.pieces_at_start > 0).then_some(row.pieces_at_start as u64),
        may_shut_down: state == ExitState::Completed,
        message: match state {
            ExitState::Completed => "every piece has been moved: the node may shut down".into(),
            ExitState::Failed => row.reason.unwrap_or_else(|| "the exit failed".into()),
            _ => "pieces are being moved to other nodes; keep the node running".into(),
        },
    })
}

/// Counts the pieces left on exiting nodes and completes exits with none left.
pub struct ExitObserver {
    db: Db,
    counting: HashMap<NodeId, u64>,
}

impl ExitObserver {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            counting: HashMap::new(),
        }
    }
}

#[async_trait::async_trait]
impl Observer for ExitObserver {
    fn name(&self) -> &'static str {
        "graceful-exit"
    }

    async fn start(&mut self, _pass: &Pass) -> Result<()> {
        self.counting = graceful_exit::Entity::find()
            .filter(graceful_exit::Column::FinishedAt.is_null())
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|r| NodeId::from_slice(&r.node_id).ok())
            .map(|id| (id, 0))
            .collect();
        Ok(())
    }

    async fn segment(&mut self, _pass: &Pass, segment: &Segment) -> Result<()> {
        if self.counting.is_empty() {
            return Ok(());
        }
        if let Some(remote) = segment.remote() {
            for node in remote.pieces.nodes() {
                if let Some(n) = self.counting.get_mut(&node) {
                    *n += 1;
                }
            }
        }
        Ok(())
    }

    fn unreadable(&mut self, _error: &MetabaseError) {}

    async fn finish(&mut self, pass: &Pass, stats: &PassStats) -> Result<()> {
        if !stats.complete || self.counting.is_empty() {
            return Ok(());
        }
        let now = now_unix();
        for (node, remaining) in &self.counting {
            let Some(row) = graceful_exit::Entity::find_by_id(node.0.to_vec())
                .one(&self.db)
                .await?
            else {
                continue;
            };
            let mut active: graceful_exit::ActiveModel = row.clone().into();
            if row.pieces_at_start == 0 {
                active.pieces_at_start = Set(*remaining as i64);
            }
            if *remaining == 0 {
                active.finished_at = Set(Some(now));
                active.success = Set(Some(true));
                tracing::info!(node = %node, "graceful exit completed");
            }
            active.update(&self.db).await?;
        }
        let report = ExitReport {
            pass_started_at: pass.started_at,
            remaining: self
                .counting
                .iter()
                .map(|(id, n)| (id.to_string(), *n))
                .collect(),
        };
        crate::reports::put(&self.db, REPORT, &report).await
    }
}
