//! Giving up an upload: the uplink says it will not commit, so the pending object, its
//! committed segments and the pieces they and the begun segments name are cleaned up at
//! once instead of waiting a day for the pending object to expire.
//!
//! The satellite keeps no rows for begun segments (their state is in the segment id), so
//! the uplink hands back the segment ids of segments it begun but did not commit; the
//! satellite trusts only its own signature on them.

use std::collections::HashSet;

use sea_orm::{ConnectionTrait, EntityTrait, Set};
use uplink_core::protocol::metainfo::{AbortObjectRequest, AbortObjectResponse};
use uplink_core::protocol::{NodeId, PieceId, SegmentPosition, now_unix};

use super::upload::authorize_upload;
use super::{Metainfo, queue_piece_deletions};
use crate::auth::Caller;
use crate::db::entities::{object, piece_deletion};
use crate::error::{Result, SatelliteError};
use crate::metabase::segments;
use crate::tokens::SegmentToken;

/// Segment ids one abort may carry: an uplink has at most a few segments in flight.
const MAX_ABORT_SEGMENTS: usize = 16;

impl Metainfo {
    pub async fn abort_object(
        &self,
        caller: &Caller,
        req: &AbortObjectRequest,
    ) -> Result<AbortObjectResponse> {
        let stream = self.tokens.open_stream(&req.stream_id)?;
        authorize_upload(caller, &stream)?;
        if req.segment_ids.len() > MAX_ABORT_SEGMENTS {
            return Err(SatelliteError::BadRequest(format!(
                "an abort may name at most {MAX_ABORT_SEGMENTS} segment ids, got {}",
                req.segment_ids.len()
            )));
        }
        let mut begun: Vec<SegmentToken> = Vec::with_capacity(req.segment_ids.len());
        for id in &req.segment_ids {
            let token = self.tokens.open_segment(id)?;
            if token.stream.object_id != stream.object_id {
                return Err(SatelliteError::BadRequest(
                    "a segment id belongs to another upload".into(),
                ));
            }
            begun.push(token);
        }
        let object_id = stream.object_id.clone();
        let (aborted, queued) = crate::db::write_txn!(self.db, |txn| {
            let segments = segments::of_objects(&txn, std::slice::from_ref(&object_id)).await?;
            // Pieces of committed segments are never deleted through a segment id: they
            // go with their object (below if it is pending, never if it is committed).
            let committed: HashSet<(SegmentPosition, Vec<u8>)> = segments
                .iter()
                .filter_map(|s| Some((s.key.position, s.remote()?.root_piece_id.0.to_vec())))
                .collect();
            let mut queued = 0usize;
            for token in &begun {
                let key = (token.position, token.root_piece_id.0.to_vec());
                if committed.contains(&key) {
                    continue;
                }
                let pieces: Vec<(u16, NodeId)> = token.all_assignments().collect();
                queued +=
                    queue_assigned_pieces(&txn, &object_id, token.root_piece_id, &pieces).await?;
            }
            if req.segments_only {
                return Ok((false, queued));
            }
            let pending = object::Entity::find_by_id(object_id.clone())
                .one(&txn)
                .await?
                .filter(|o| o.status == object::STATUS_PENDING);
            let Some(obj) = pending else {
                return Ok((false, queued));
            };
            queued += queue_piece_deletions(&txn, &segments).await?;
            crate::accounting::remove_segments(&txn, std::slice::from_ref(&obj), &segments).await?;
            segments::delete_of_objects(&txn, std::slice::from_ref(&object_id)).await?;
            object::Entity::delete_by_id(object_id.clone())
                .exec(&txn)
                .await?;
            Ok((true, queued))
        })?;
        if aborted {
            tracing::debug!(object = %object_id, queued, "upload aborted");
        }
        Ok(AbortObjectResponse {
            aborted,
            pieces_queued: queued as u64,
        })
    }
}

/// Queues the pieces `(piece number, node)` of a segment of object `owner` with root
/// piece id `root` for deletion on their nodes, unless a segment of another object (a
/// server-side copy) names the same root.
pub(crate) async fn queue_assigned_pieces<C: ConnectionTrait>(
    conn: &C,
    owner: &str,
    root: PieceId,
    pieces: &[(u16, NodeId)],
) -> Result<usize> {
    if pieces.is_empty()
        || !segments::roots_named_elsewhere(conn, &[root], &[owner.to_string()])
            .await?
            .is_empty()
    {
        return Ok(0);
    }
    let now = now_unix();
    let rows: Vec<piece_deletion::ActiveModel> = pieces
        .iter()
        .map(|(num, node)| piece_deletion::ActiveModel {
            node_id: Set(node.0.to_vec()),
            piece_id: Set(root.derive(node, *num).0.to_vec()),
            created_at: Set(now),
            attempts: Set(0),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(500) {
        piece_deletion::Entity::insert_many(chunk.to_vec())
            .exec(conn)
            .await?;
    }
    Ok(rows.len())
}
