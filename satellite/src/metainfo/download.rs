//! The download half: object info, the segment list, and per-segment GET limits.

use rand::seq::SliceRandom;
use sea_orm::EntityTrait;
use uplink_core::access::caveat::Operation;
use uplink_core::protocol::metainfo::{
    DownloadObjectRequest, DownloadObjectResponse, DownloadSegmentRequest, DownloadSegmentResponse,
    ObjectInfo, Sealed, SegmentInfo,
};
use uplink_core::protocol::{PieceAction, SegmentPosition, now_unix};

use super::{Metainfo, object_info};
use crate::accounting;
use crate::auth::Caller;
use crate::db::entities::object;
use crate::error::{Result, SatelliteError};
use crate::metabase::{PieceSet, Segment, SegmentData, SegmentKey, segments};
use crate::orders::LimitTarget;
use crate::tokens::DownloadToken;

const MAX_SEGMENT_LIST: u32 = 1000;

/// Lookups of an object that raced its replacement before the download gives up.
const LOOKUP_ATTEMPTS: u32 = 3;

/// Whether `segments`, the last page of `obj`'s segments from `cursor`, ends where the
/// object ends. Segments are only deleted together with their object, so a last page
/// that stops short was read after the object was deleted or replaced.
fn page_reaches_end(obj: &object::Model, cursor: SegmentPosition, segments: &[Segment]) -> bool {
    match segments.last() {
        Some(s) => s.plain_offset + s.plain_size == obj.plain_size as u64,
        // Past the last segment (an empty page further on) is no sign of a change.
        None => obj.segment_count == 0 || cursor != SegmentPosition::default(),
    }
}

fn segment_info(s: &Segment) -> SegmentInfo {
    SegmentInfo {
        position: s.key.position,
        plain_offset: s.plain_offset,
        plain_size: s.plain_size,
        inline: s.is_inline(),
    }
}

impl Metainfo {
    pub async fn get_object(
        &self,
        caller: &Caller,
        bucket: &str,
        encrypted_key: &str,
    ) -> Result<ObjectInfo> {
        caller.authorize(Operation::Read, Some(bucket), Some(encrypted_key), None)?;
        self.require_names(caller, bucket).await?;
        let obj = self
            .committed_object(&caller.project_id, bucket, encrypted_key)
            .await?;
        Ok(object_info(&obj))
    }

    pub async fn download_object(
        &self,
        caller: &Caller,
        req: &DownloadObjectRequest,
    ) -> Result<DownloadObjectResponse> {
        caller.authorize(
            Operation::Read,
            Some(&req.bucket),
            Some(&req.encrypted_key),
            None,
        )?;
        self.require_names(caller, &req.bucket).await?;
        let limit = req
            .segment_limit
            .unwrap_or(MAX_SEGMENT_LIST)
            .clamp(1, MAX_SEGMENT_LIST);
        let cursor = valid(req.segment_cursor)?;
        // The object and its segments are two reads: an overwrite committed between
        // them deletes the segments that were read for. Such a page does not reach the
        // object's end; the key is then looked up again (finding the new version).
        let mut attempt = 1;
        let (obj, segments, more) = loop {
            let obj = self
                .committed_object(&caller.project_id, &req.bucket, &req.encrypted_key)
                .await?;
            let mut segments =
                segments::of_object(&self.db, &obj.id, cursor, limit as u64 + 1).await?;
            let more = segments.len() > limit as usize;
            segments.truncate(limit as usize);
            if more || page_reaches_end(&obj, cursor, &segments) {
                break (obj, segments, more);
            }
            if attempt == LOOKUP_ATTEMPTS {
                return Err(SatelliteError::Unavailable(
                    "the object kept changing while its segments were read; read it again".into(),
                ));
            }
            attempt += 1;
        };
        // The segment the read starts in comes with the answer: one round trip to the
        // first byte, and a read that began is not refused because the object was
        // replaced between this request and the next.
        let first_segment = match req.first_at {
            Some(offset) => match segments
                .iter()
                .find(|s| offset >= s.plain_offset && offset < s.plain_offset + s.plain_size)
            {
                Some(seg) => Some(self.segment_download(caller, seg, &[]).await?),
                None => None,
            },
            None => None,
        };
        let token = DownloadToken {
            object_id: obj.id.clone(),
            project_id: caller.project_id.clone(),
            bucket: req.bucket.clone(),
            encrypted_key: req.encrypted_key.clone(),
            token_expiration: self.token_expiration(),
        };
        Ok(DownloadObjectResponse {
            object: object_info(&obj),
            stream_id: self.tokens.seal_download(&token),
            segments: segments.iter().map(segment_info).collect(),
            more,
            first_segment,
        })
    }

    pub async fn download_segment(
        &self,
        caller: &Caller,
        req: &DownloadSegmentRequest,
    ) -> Result<DownloadSegmentResponse> {
        let token = self.tokens.open_download(&req.stream_id)?;
        if token.project_id != caller.project_id {
            return Err(SatelliteError::PermissionDenied(
                "the download belongs to another project".into(),
            ));
        }
        caller.authorize(
            Operation::Read,
            Some(&token.bucket),
            Some(&token.encrypted_key),
            None,
        )?;
        // The object may have been deleted or replaced since the download began.
        self.live_object(&token.object_id).await?;
        let key = SegmentKey {
            object_id: token.object_id.clone(),
            position: valid(req.position)?,
        };
        let Some(seg) = segments::get(&self.db, &key).await? else {
            // Two reads: a deletion or overwrite that committed between them took the
            // segment with its object. Only a segment missing from an object that is
            // still there is a missing segment.
            self.live_object(&token.object_id).await?;
            return Err(SatelliteError::NotFound(format!(
                "segment {} does not exist",
                req.position
            )));
        };
        self.segment_download(caller, &seg, &req.exclude).await
    }

    /// The committed, unexpired object with this id, or `ObjectNotFound`.
    async fn live_object(&self, id: &str) -> Result<object::Model> {
        object::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .filter(|o| o.status == object::STATUS_COMMITTED)
            .filter(|o| o.expires_at.is_none_or(|t| t > now_unix()))
            .ok_or(SatelliteError::ObjectNotFound)
    }

    /// The download of one segment: its key and, for a remote one, GET limits for
    /// enough pieces (all but `exclude`), charged to the caller's egress.
    async fn segment_download(
        &self,
        caller: &Caller,
        seg: &Segment,
        exclude: &[u16],
    ) -> Result<DownloadSegmentResponse> {
        let position = seg.key.position;
        // The first request for a segment is charged the segment's size; a follow-up
        // (with exclusions, replacing pieces that failed) is charged below for every
        // limit it gets, so that follow-ups cannot download for free.
        if exclude.is_empty() {
            accounting::charge_egress(&self.db, &caller.project_id, &caller.limits, seg.plain_size)
                .await?;
        }
        let encrypted_key: Sealed = seg.encrypted_key.clone();
        let remote = match &seg.data {
            SegmentData::Remote(remote) => remote,
            SegmentData::Inline(data) => {
                return Ok(DownloadSegmentResponse {
                    info: segment_info(seg),
                    encrypted_key,
                    redundancy: uplink_core::protocol::RedundancyScheme {
                        k: 0,
                        repair: 0,
                        optimal: 0,
                        total: 0,
                        share_size: 0,
                    },
                    piece_size: 0,
                    inline_data: Some(data.clone()),
                    limits: Vec::new(),
                    satellite_public_key: self.orders.public_key(),
                });
            }
        };
        let scheme = remote.scheme;
        let root = remote.root_piece_id;
        let pieces = &remote.pieces;
        validate_exclude(exclude, pieces, position)?;
        let nodes = self.overlay.snapshot();
        let now = now_unix();
        let mut online = Vec::new();
        let mut doubtful = Vec::new();
        for piece in pieces {
            if exclude.contains(&piece.num) {
                continue;
            }
            let Some(node) = nodes.get(&piece.node) else {
                continue;
            };
            if node.disqualified {
                continue;
            }
            let target = LimitTarget {
                piece_num: piece.num,
                node_id: node.id,
                address: node.address.clone(),
            };
            if self.overlay.is_online(node, now) {
                online.push(target);
            } else {
                doubtful.push(target);
            }
        }
        let available = online.len() + doubtful.len();
        // A first request must be able to decode; a follow-up (with exclusions) only
        // tops up pieces that failed, so any remaining piece helps.
        if available == 0 || (exclude.is_empty() && available < scheme.k as usize) {
            return Err(SatelliteError::SegmentUnavailable(format!(
                "segment {} cannot be downloaded: {} of its pieces remain on usable nodes and {} \
                 are needed",
                position, available, scheme.k
            )));
        }
        let mut rng = rand::thread_rng();
        online.shuffle(&mut rng);
        doubtful.shuffle(&mut rng);
        online.extend(doubtful);
        online.truncate(scheme.k as usize + self.config.download_extra(scheme.k) as usize);
        if !exclude.is_empty() {
            let amount = remote.piece_size.saturating_mul(online.len() as u64);
            accounting::charge_egress(&self.db, &caller.project_id, &caller.limits, amount).await?;
        }
        let limits = self.orders.limits(
            PieceAction::Get,
            root,
            &online,
            remote.piece_size,
            self.orders.public_key(),
            None,
        );
        Ok(DownloadSegmentResponse {
            info: segment_info(seg),
            encrypted_key,
            redundancy: scheme,
            piece_size: remote.piece_size,
            inline_data: None,
            limits,
            satellite_public_key: self.orders.public_key(),
        })
    }
}

/// A follow-up request may exclude only pieces that the segment has, each once.
/// A position from a request, refused if it cannot be stored (rather than clamped).
fn valid(position: SegmentPosition) -> Result<SegmentPosition> {
    position
        .check()
        .map_err(|e| SatelliteError::BadRequest(e.to_string()))
}

fn validate_exclude(exclude: &[u16], pieces: &PieceSet, position: SegmentPosition) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for num in exclude {
        if pieces.get(*num).is_none() {
            return Err(SatelliteError::BadRequest(format!(
                "exclude names piece {num}, which segment {position} does not have"
            )));
        }
        if !seen.insert(num) {
            return Err(SatelliteError::BadRequest(format!(
                "exclude names piece {num} twice"
            )));
        }
    }
    Ok(())
}
