//! The upload half: begin an object, begin and commit its segments, commit the object.

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uplink_core::access::caveat::Operation;
use uplink_core::protocol::metainfo::{
    AbortObjectRequest, BeginObjectRequest, BeginObjectResponse, BeginSegmentRequest,
    BeginSegmentResponse, CommitObjectRequest, CommitSegmentRequest, InlineSegmentRequest,
    ObjectInfo, UploadInlineRequest,
};
use uplink_core::protocol::{NodeId, PieceAction, PieceId, SegmentPosition, Signable, now_unix};

use super::abort::queue_assigned_pieces;
use super::multipart::MAX_PART_NUMBER;
use super::{
    Metainfo, committed_at, object_info, queue_piece_deletions, validate_encrypted_key,
    validate_sealed,
};
use crate::accounting;
use crate::auth::Caller;
use crate::db::entities::{bucket, object};
use crate::error::{Result, SatelliteError, is_unique_violation};
use crate::metabase::{Piece, PieceSet, RemoteSegment, Segment, SegmentKey, segments};
use crate::orders::LimitTarget;
use crate::overlay::SelectionRequest;
use crate::tokens::{SegmentToken, StreamToken};

/// Segments per part; bounds metadata.
const MAX_SEGMENTS: u32 = 1 << 20;

impl Metainfo {
    fn open_stream_for(&self, caller: &Caller, stream_id: &str) -> Result<StreamToken> {
        let token = self.tokens.open_stream(stream_id)?;
        authorize_upload(caller, &token)?;
        Ok(token)
    }

    pub async fn begin_object(
        &self,
        caller: &Caller,
        req: &BeginObjectRequest,
    ) -> Result<BeginObjectResponse> {
        validate_encrypted_key(&req.encrypted_key)?;
        if let Some(meta) = &req.encrypted_metadata {
            validate_sealed("encrypted metadata", meta, 64 << 10)?;
        }
        let now = now_unix();
        if let Some(exp) = req.expires_at
            && exp <= now
        {
            return Err(SatelliteError::BadRequest(
                "the expiration time is in the past".into(),
            ));
        }
        caller.authorize(
            Operation::Write,
            Some(&req.bucket),
            Some(&req.encrypted_key),
            req.expires_at,
        )?;
        self.require_names(caller, &req.bucket).await?;
        accounting::check_upload(&self.db, &caller.project_id, &caller.limits).await?;
        // Replacing an object deletes the old one: a key without delete permission
        // (say, a ransomware-proof backup key) may only create new keys.
        match self
            .committed_object(&caller.project_id, &req.bucket, &req.encrypted_key)
            .await
        {
            Ok(_) => caller.authorize(
                Operation::Delete,
                Some(&req.bucket),
                Some(&req.encrypted_key),
                None,
            )?,
            Err(SatelliteError::ObjectNotFound) => {}
            Err(e) => return Err(e),
        }
        let id = uuid::Uuid::new_v4().to_string();
        object::ActiveModel {
            id: Set(id.clone()),
            project_id: Set(caller.project_id.clone()),
            bucket_name: Set(req.bucket.clone()),
            object_key: Set(req.encrypted_key.as_bytes().to_vec()),
            status: Set(object::STATUS_PENDING),
            created_at: Set(now),
            committed_at: Set(None),
            expires_at: Set(req.expires_at),
            zombie_deadline: Set(Some(
                now + self.config.pending_object_expiration.as_secs() as i64,
            )),
            plain_size: Set(0),
            segment_count: Set(0),
            encrypted_metadata: Set(req
                .encrypted_metadata
                .as_ref()
                .map(|m| m.ciphertext.clone())),
            encrypted_metadata_nonce: Set(req.encrypted_metadata.as_ref().map(|m| m.nonce.clone())),
        }
        .insert(&self.db)
        .await?;
        let token = StreamToken {
            object_id: id,
            project_id: caller.project_id.clone(),
            bucket: req.bucket.clone(),
            encrypted_key: req.encrypted_key.clone(),
            expires_at: req.expires_at,
            redundancy: self.config.redundancy,
            token_expiration: now + self.config.pending_object_expiration.as_secs() as i64,
        };
        Ok(BeginObjectResponse {
            object_id: token.object_id.clone(),
            stream_id: self.tokens.seal_stream(&token),
            redundancy: self.config.redundancy,
            max_segment_size: self.config.max_segment_size,
            max_inline_size: self.config.max_inline_size,
        })
    }

    pub async fn begin_segment(
        &self,
        caller: &Caller,
        req: &BeginSegmentRequest,
    ) -> Result<BeginSegmentResponse> {
        let stream = self.open_stream_for(caller, &req.stream_id)?;
        // A plain upload is part 0; multipart uploads number their parts from 1.
        if req.position.part > MAX_PART_NUMBER || req.position.index >= MAX_SEGMENTS {
            return Err(SatelliteError::BadRequest(format!(
                "segment position {} is out of range: parts 0 to {MAX_PART_NUMBER}, \
                 indexes below {MAX_SEGMENTS}",
                req.position
            )));
        }
        if req.max_plain_size == 0 || req.max_plain_size > self.config.max_segment_size {
            return Err(SatelliteError::BadRequest(format!(
                "segment size {} must be between 1 and {} bytes",
                req.max_plain_size, self.config.max_segment_size
            )));
        }
        pending_object(&self.db, &stream.object_id).await?;
        accounting::check_upload(&self.db, &caller.project_id, &caller.limits).await?;
        let scheme = stream.redundancy;
        let piece_limit = scheme.piece_size(req.max_plain_size);
        let nodes = self.overlay.select(&SelectionRequest {
            wanted: scheme.total as usize,
            minimum: scheme.optimal as usize,
            min_free_bytes: piece_limit,
            exclude: req.exclude_nodes.iter().copied().collect(),
            ..Default::default()
        })?;
        let targets: Vec<LimitTarget> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| LimitTarget {
                piece_num: i as u16,
                node_id: n.id,
                address: n.address.clone(),
            })
            .collect();
        let root = PieceId::random();
        let limits = self.orders.limits(
            PieceAction::Put,
            root,
            &targets,
            piece_limit,
            req.piece_public_key,
            stream.expires_at,
        );
        let token = SegmentToken {
            position: req.position,
            root_piece_id: root,
            piece_public_key: req.piece_public_key,
            max_plain_size: req.max_plain_size,
            nodes: targets.iter().map(|t| (t.piece_num, t.node_id)).collect(),
            replaced: Vec::new(),
            retries: 0,
            token_expiration: self.token_expiration(),
            stream,
        };
        Ok(BeginSegmentResponse {
            segment_id: self.tokens.seal_segment(&token),
            root_piece_id: root,
            redundancy: scheme,
            limits,
        })
    }

    pub async fn commit_segment(&self, caller: &Caller, req: &CommitSegmentRequest) -> Result<()> {
        let token = self.tokens.open_segment(&req.segment_id)?;
        authorize_upload(caller, &token.stream)?;
        validate_sealed("encrypted segment key", &req.encrypted_key, 256)?;
        if let Some(etag) = &req.encrypted_etag {
            validate_sealed("encrypted part ETag", etag, 256)?;
        }
        let scheme = token.stream.redundancy;
        if req.plain_size == 0 || req.plain_size > token.max_plain_size {
            return Err(SatelliteError::BadRequest(format!(
                "segment size {} is outside the 1..={} bytes the segment was begun with",
                req.plain_size, token.max_plain_size
            )));
        }
        let piece_size = scheme.piece_size(req.plain_size);
        let assigned: HashMap<u16, _> = token.nodes.iter().copied().collect();
        let mut pieces: Vec<Piece> = Vec::new();
        let mut seen_nums = HashSet::new();
        let mut rejected = Vec::new();
        for r in &req.receipts {
            let Some(node_id) = assigned.get(&r.piece_num) else {
                rejected.push(format!("piece {} was not assigned", r.piece_num));
                continue;
            };
            if !seen_nums.insert(r.piece_num) {
                rejected.push(format!("piece {} listed twice", r.piece_num));
                continue;
            }
            let Some(node) = self.overlay.get(node_id) else {
                rejected.push(format!("node {node_id} is unknown"));
                continue;
            };
            let expected = token.root_piece_id.derive(node_id, r.piece_num);
            let receipt = &r.receipt;
            if receipt.piece_id != expected || receipt.piece_size != piece_size {
                rejected.push(format!(
                    "receipt for piece {} names another piece or size",
                    r.piece_num
                ));
                continue;
            }
            if node
                .public_key
                .verify(&receipt.signing_bytes(), &receipt.signature)
                .is_err()
            {
                rejected.push(format!(
                    "receipt for piece {} is not signed by node {node_id}",
                    r.piece_num
                ));
                continue;
            }
            pieces.push(Piece {
                num: r.piece_num,
                node: *node_id,
            });
        }
        if pieces.len() < scheme.optimal as usize {
            return Err(SatelliteError::BadRequest(format!(
                "only {} valid piece receipts, at least {} are needed{}",
                pieces.len(),
                scheme.optimal,
                if rejected.is_empty() {
                    String::new()
                } else {
                    format!(" (rejected: {})", rejected.join("; "))
                }
            )));
        }
        if !rejected.is_empty() {
            tracing::warn!(rejected = ?rejected, "ignored invalid piece receipts");
        }
        pieces.sort_by_key(|p| p.num);
        // Whatever the replaced nodes and the nodes without a receipt (the long tail)
        // may have stored is garbage: queue it for deletion with the commit.
        let garbage: Vec<(u16, NodeId)> = token
            .all_assignments()
            .filter(|(num, node)| !pieces.iter().any(|p| p.num == *num && p.node == *node))
            .collect();
        let root = token.root_piece_id;
        // Receipts were checked one by one above, so a set that is still invalid (one
        // node holding two pieces) means the token itself was inconsistent.
        let pieces =
            PieceSet::new(pieces).map_err(|e| SatelliteError::BadRequest(e.to_string()))?;
        let mut segment = Segment::new_remote(
            SegmentKey {
                object_id: token.stream.object_id.clone(),
                position: token.position,
            },
            req.encrypted_key.clone(),
            req.plain_size,
            RemoteSegment {
                root_piece_id: root,
                scheme,
                piece_size,
                pieces,
            },
            now_unix(),
            token.stream.expires_at,
        );
        segment.encrypted_etag = req.encrypted_etag.clone();
        self.insert_segment(&segment, Some((root, garbage))).await?;
        self.metrics
            .segments_committed
            .with_label_values(&["remote"])
            .inc();
        self.metrics.bytes_committed.inc_by(req.plain_size);
        Ok(())
    }

    pub async fn inline_segment(&self, caller: &Caller, req: &InlineSegmentRequest) -> Result<()> {
        let stream = self.open_stream_for(caller, &req.stream_id)?;
        validate_sealed("encrypted segment key", &req.encrypted_key, 256)?;
        if req.plain_size > self.config.max_inline_size
            || req.data.len() as u64 > self.config.max_inline_size + 64
        {
            return Err(SatelliteError::BadRequest(format!(
                "inline segments hold at most {} bytes",
                self.config.max_inline_size
            )));
        }
        // Inline storage is for a whole small object, so that the database cannot be
        // filled with many small segments that bypass the nodes.
        if req.position != SegmentPosition::single(0) {
            return Err(SatelliteError::BadRequest(
                "only a whole object (segment 0) can be stored inline".into(),
            ));
        }
        accounting::check_upload(&self.db, &caller.project_id, &caller.limits).await?;
        if req.data.len() as u64 != req.plain_size + 16 {
            return Err(SatelliteError::BadRequest(format!(
                "inline segment of {} plaintext bytes must carry {} encrypted bytes, got {}",
                req.plain_size,
                req.plain_size + 16,
                req.data.len()
            )));
        }
        let segment = Segment::new_inline(
            SegmentKey {
                object_id: stream.object_id.clone(),
                position: req.position,
            },
            req.encrypted_key.clone(),
            req.plain_size,
            req.data.clone(),
            now_unix(),
            stream.expires_at,
        );
        self.insert_segment(&segment, None).await?;
        self.metrics
            .segments_committed
            .with_label_values(&["inline"])
            .inc();
        self.metrics.bytes_committed.inc_by(req.plain_size);
        Ok(())
    }

    /// Records a segment if its object is still pending, atomically, and queues the
    /// pieces in `garbage` (under the segment's root piece id) for deletion. The pending
    /// object's zombie deadline moves on: an upload that is still being written (a
    /// multipart upload may take days) is not collected.
    async fn insert_segment(
        &self,
        segment: &Segment,
        garbage: Option<(PieceId, Vec<(u16, NodeId)>)>,
    ) -> Result<()> {
        let position = segment.key.position;
        let plain_size = segment.plain_size as i64;
        let deadline = now_unix() + self.config.pending_object_expiration.as_secs() as i64;
        crate::db::write_txn!(self.db, |txn| {
            let pending = pending_object(&txn, &segment.key.object_id).await?;
            if pending.zombie_deadline.is_some_and(|d| d < deadline) {
                object::Entity::update_many()
                    .col_expr(object::Column::ZombieDeadline, Expr::value(deadline))
                    .filter(object::Column::Id.eq(pending.id.clone()))
                    .filter(object::Column::Status.eq(object::STATUS_PENDING))
                    .exec(&txn)
                    .await?;
            }
            if !segments::insert(&txn, segment).await? {
                return Err(SatelliteError::BadRequest(format!(
                    "segment {position} was already committed"
                )));
            }
            if let Some((root, pieces)) = &garbage {
                queue_assigned_pieces(&txn, &segment.key.object_id, *root, pieces).await?;
            }
            accounting::adjust(&txn, &pending.project_id, plain_size, 1).await
        })
    }

    /// A whole small object in one call: the same begin, inline segment and commit as
    /// three calls would make, with the same checks; a failure after the begin aborts
    /// the pending object.
    pub async fn upload_inline(
        &self,
        caller: &Caller,
        req: &UploadInlineRequest,
    ) -> Result<ObjectInfo> {
        let begun = self
            .begin_object(
                caller,
                &BeginObjectRequest {
                    bucket: req.bucket.clone(),
                    encrypted_key: req.encrypted_key.clone(),
                    expires_at: req.expires_at,
                    encrypted_metadata: None,
                },
            )
            .await?;
        let stream_id = begun.stream_id;
        let rest = async {
            if let Some(segment) = &req.segment {
                self.inline_segment(
                    caller,
                    &InlineSegmentRequest {
                        stream_id: stream_id.clone(),
                        position: SegmentPosition::single(0),
                        plain_size: segment.plain_size,
                        encrypted_key: segment.encrypted_key.clone(),
                        data: segment.data.clone(),
                    },
                )
                .await?;
            }
            self.commit_object(
                caller,
                &CommitObjectRequest {
                    stream_id: stream_id.clone(),
                    encrypted_metadata: req.encrypted_metadata.clone(),
                    parts: None,
                    if_absent: req.if_absent,
                },
            )
            .await
        };
        match rest.await {
            Ok(info) => Ok(info),
            Err(e) => {
                let abort = AbortObjectRequest {
                    stream_id: stream_id.clone(),
                    segment_ids: Vec::new(),
                    segments_only: false,
                };
                if let Err(abort_error) = self.abort_object(caller, &abort).await {
                    tracing::warn!(error = %abort_error, "could not abort a failed inline upload; it expires as a pending object");
                }
                Err(e)
            }
        }
    }

    pub async fn commit_object(
        &self,
        caller: &Caller,
        req: &CommitObjectRequest,
    ) -> Result<ObjectInfo> {
        let stream = self.open_stream_for(caller, &req.stream_id)?;
        if let Some(meta) = &req.encrypted_metadata {
            validate_sealed("encrypted metadata", meta, 64 << 10)?;
        }
        if let Some(parts) = &req.parts {
            check_part_list(parts)?;
        }
        let committed = crate::db::write_txn!(self.db, |txn| {
            let obj = pending_object(&txn, &stream.object_id).await?;
            if bucket::Entity::find_by_id((obj.project_id.clone(), obj.bucket_name.clone()))
                .one(&txn)
                .await?
                .is_none()
            {
                return Err(SatelliteError::BucketNotFound(obj.bucket_name.clone()));
            }
            let mut segments = segments::of_objects(&txn, std::slice::from_ref(&obj.id)).await?;
            if let Some(parts) = &req.parts {
                let (kept, dropped) = select_parts(segments, parts)?;
                if !dropped.is_empty() {
                    let positions: Vec<SegmentPosition> =
                        dropped.iter().map(|s| s.key.position).collect();
                    segments::delete_positions(&txn, &obj.id, &positions).await?;
                    queue_piece_deletions(&txn, &dropped).await?;
                    accounting::remove_segments(&txn, std::slice::from_ref(&obj), &dropped).await?;
                }
                segments = kept;
            }
            if segments.len() > 1 && segments.iter().any(|s| s.is_inline()) {
                return Err(SatelliteError::BadRequest(
                    "an inline segment must be the object's only segment".into(),
                ));
            }
            check_contiguous(&segments)?;
            let mut offset: i64 = 0;
            for seg in &segments {
                if seg.plain_offset != offset as u64 {
                    segments::set_offset(&txn, &seg.key, offset as u64).await?;
                }
                offset += seg.plain_size as i64;
            }
            // Replace whatever committed object held this key before.
            let previous =
                committed_at(&txn, &obj.project_id, &obj.bucket_name, &obj.object_key).await?;
            if !previous.is_empty() {
                if req.if_absent {
                    return Err(precondition_failed());
                }
                caller.authorize(
                    Operation::Delete,
                    Some(&stream.bucket),
                    Some(&stream.encrypted_key),
                    None,
                )?;
                let ids: Vec<String> = previous.iter().map(|o| o.id.clone()).collect();
                let old_segments = segments::delete_of_objects(&txn, &ids).await?;
                queue_piece_deletions(&txn, &old_segments).await?;
                accounting::remove_segments(&txn, &previous, &old_segments).await?;
                object::Entity::delete_many()
                    .filter(object::Column::Id.is_in(ids))
                    .exec(&txn)
                    .await?;
            }
            let mut active: object::ActiveModel = obj.into();
            active.status = Set(object::STATUS_COMMITTED);
            active.committed_at = Set(Some(now_unix()));
            active.zombie_deadline = Set(None);
            active.plain_size = Set(offset);
            active.segment_count = Set(segments.len() as i32);
            active.encrypted_metadata = Set(req
                .encrypted_metadata
                .as_ref()
                .map(|m| m.ciphertext.clone()));
            active.encrypted_metadata_nonce =
                Set(req.encrypted_metadata.as_ref().map(|m| m.nonce.clone()));
            active.update(&txn).await.map_err(|e| {
                if req.if_absent && is_unique_violation(&e) {
                    precondition_failed()
                } else {
                    conflict_or_db(e)
                }
            })
        })?;
        self.metrics.objects_committed.inc();
        Ok(object_info(&committed))
    }
}

/// An upload token is only good for its own project, and only while the key still allows
/// writing that object.
pub(super) fn authorize_upload(caller: &Caller, stream: &StreamToken) -> Result<()> {
    if stream.project_id != caller.project_id {
        return Err(SatelliteError::PermissionDenied(
            "the upload belongs to another project".into(),
        ));
    }
    caller.authorize(
        Operation::Write,
        Some(&stream.bucket),
        Some(&stream.encrypted_key),
        stream.expires_at,
    )
}

/// The object an upload adds to, if it is still pending (on `conn`, so that callers can
/// check it inside their transaction).
pub(super) async fn pending_object<C: ConnectionTrait>(
    conn: &C,
    object_id: &str,
) -> Result<object::Model> {
    object::Entity::find_by_id(object_id.to_string())
        .one(conn)
        .await?
        .filter(|o| o.status == object::STATUS_PENDING)
        .ok_or_else(|| {
            SatelliteError::NotFound(
                "the upload is no longer pending (it expired, was committed or was deleted)".into(),
            )
        })
}

fn precondition_failed() -> SatelliteError {
    SatelliteError::PreconditionFailed(
        "an object exists at this key and the commit asked for none (If-None-Match: *)".into(),
    )
}

/// A completion's part list: ascending, without repeats, within the part numbers.
fn check_part_list(parts: &[u32]) -> Result<()> {
    if parts.is_empty() {
        return Err(SatelliteError::BadRequest(
            "a multipart completion must name at least one part".into(),
        ));
    }
    if parts.len() > MAX_PART_NUMBER as usize {
        return Err(SatelliteError::BadRequest(format!(
            "a multipart completion may name at most {MAX_PART_NUMBER} parts"
        )));
    }
    for pair in parts.windows(2) {
        if pair[0] >= pair[1] {
            return Err(SatelliteError::BadRequest(format!(
                "parts must be listed in ascending order without repeats ({} before {})",
                pair[0], pair[1]
            )));
        }
    }
    Ok(())
}

/// Splits an upload's segments (in position order) into those of the listed parts and
/// the rest; every listed part must have been uploaded.
fn select_parts(segments: Vec<Segment>, parts: &[u32]) -> Result<(Vec<Segment>, Vec<Segment>)> {
    let wanted: HashSet<u32> = parts.iter().copied().collect();
    let (kept, dropped): (Vec<Segment>, Vec<Segment>) = segments
        .into_iter()
        .partition(|s| wanted.contains(&s.key.position.part));
    let present: HashSet<u32> = kept.iter().map(|s| s.key.position.part).collect();
    if let Some(missing) = parts.iter().find(|p| !present.contains(p)) {
        return Err(SatelliteError::BadRequest(format!(
            "part {missing} was not uploaded (or its upload did not finish)"
        )));
    }
    Ok((kept, dropped))
}

/// Within each part, segments are numbered 0..n without gaps (parts themselves may skip
/// numbers, as S3's do).
fn check_contiguous(segments: &[Segment]) -> Result<()> {
    let mut expected = SegmentPosition::single(0);
    for (i, seg) in segments.iter().enumerate() {
        let p = seg.key.position;
        let starts_part = i == 0 || segments[i - 1].key.position.part != p.part;
        if starts_part {
            expected = SegmentPosition::new(p.part, 0);
        }
        if p != expected {
            return Err(SatelliteError::BadRequest(format!(
                "segment {expected} is missing; a part's segments must be 0..n without gaps"
            )));
        }
        expected = p.next().unwrap_or(p);
    }
    Ok(())
}

/// A unique-index violation at commit means another upload of the key won the race.
fn conflict_or_db(e: sea_orm::DbErr) -> SatelliteError {
    if is_unique_violation(&e) {
        SatelliteError::Conflict(
            "another upload of this key committed at the same moment; retry".into(),
        )
    } else {
        e.into()
    }
}
