//! New nodes for pieces of a begun segment whose uploads failed (Storj's
//! RetryBeginSegmentPieces): an upload that loses nodes mid-segment gets replacements
//! instead of failing while the network still has nodes to offer.
//!
//! The assignment lives in the segment id, so a retry returns a new segment id naming
//! the new nodes; commit then accepts receipts for exactly those. A segment never gets
//! a node (or a /24) twice, and the rounds are bounded, so one upload cannot walk the
//! whole network.

use std::collections::HashSet;

use uplink_core::protocol::metainfo::{RetryPiecesRequest, RetryPiecesResponse};
use uplink_core::protocol::{NodeId, PieceAction};

use super::Metainfo;
use super::upload::{authorize_upload, pending_object};
use crate::auth::Caller;
use crate::error::{Result, SatelliteError};
use crate::orders::LimitTarget;
use crate::overlay::SelectionRequest;

/// Replacement rounds one segment may have.
pub const MAX_RETRY_ROUNDS: u8 = 8;

impl Metainfo {
    pub async fn retry_pieces(
        &self,
        caller: &Caller,
        req: &RetryPiecesRequest,
    ) -> Result<RetryPiecesResponse> {
        let mut token = self.tokens.open_segment(&req.segment_id)?;
        authorize_upload(caller, &token.stream)?;
        if req.pieces.is_empty() {
            return Err(SatelliteError::BadRequest(
                "name at least one piece to place on another node".into(),
            ));
        }
        let mut seen = HashSet::new();
        for num in &req.pieces {
            if !token.nodes.iter().any(|(n, _)| n == num) {
                return Err(SatelliteError::BadRequest(format!(
                    "piece {num} is not assigned in this segment"
                )));
            }
            if !seen.insert(*num) {
                return Err(SatelliteError::BadRequest(format!(
                    "piece {num} is named twice"
                )));
            }
        }
        if token.retries >= MAX_RETRY_ROUNDS {
            return Err(SatelliteError::BadRequest(format!(
                "segment {} already had {MAX_RETRY_ROUNDS} rounds of replacement nodes",
                token.position
            )));
        }
        pending_object(&self.db, &token.stream.object_id).await?;

        let scheme = token.stream.redundancy;
        let piece_limit = scheme.piece_size(token.max_plain_size);
        let used: HashSet<NodeId> = token.all_assignments().map(|(_, n)| n).collect();
        let used_nets: HashSet<String> = used
            .iter()
            .filter_map(|id| self.overlay.get(id).map(|n| n.last_net))
            .collect();
        // Ask for more than needed: candidates in a network the segment already uses
        // are dropped below (selection only keeps its own picks apart).
        let candidates = self.overlay.select(&SelectionRequest {
            wanted: req.pieces.len() + used.len(),
            minimum: 1,
            min_free_bytes: piece_limit,
            exclude: used.clone(),
            ..Default::default()
        })?;
        let fresh: Vec<_> = candidates
            .into_iter()
            .filter(|n| !used_nets.contains(&n.last_net))
            .take(req.pieces.len())
            .collect();
        if fresh.is_empty() {
            return Err(SatelliteError::TooFewNodes(format!(
                "no other storage node is available for segment {} (it already uses {})",
                token.position,
                used.len()
            )));
        }
        let targets: Vec<LimitTarget> = req
            .pieces
            .iter()
            .zip(&fresh)
            .map(|(num, node)| LimitTarget {
                piece_num: *num,
                node_id: node.id,
                address: node.address.clone(),
            })
            .collect();
        for target in &targets {
            let slot = token
                .nodes
                .iter_mut()
                .find(|(n, _)| *n == target.piece_num)
                .expect("validated above");
            token.replaced.push(*slot);
            slot.1 = target.node_id;
        }
        token.retries += 1;
        let limits = self.orders.limits(
            PieceAction::Put,
            token.root_piece_id,
            &targets,
            piece_limit,
            token.piece_public_key,
            token.stream.expires_at,
        );
        tracing::debug!(
            position = %token.position,
            round = token.retries,
            replaced = targets.len(),
            "replacement nodes for a segment"
        );
        Ok(RetryPiecesResponse {
            segment_id: self.tokens.seal_segment(&token),
            limits,
        })
    }
}
