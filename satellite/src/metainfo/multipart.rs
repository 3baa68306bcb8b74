//! Multipart uploads: a pending object whose segments come in numbered parts, uploaded
//! in any order and in parallel, and committed without copying.
//!
//! There is no upload table: an upload is its pending object, and the S3 upload id is
//! the object's id. Parts live for days while a stream id lives for hours, so an uplink
//! asks for a fresh stream id for each part (`resume`); the pending object's zombie
//! deadline moves with every committed segment, so an upload that is still being
//! written is not collected. A part's ETag, sealed by the uplink, rides on the part's
//! last segment (see `metabase::segments::part_summaries`).

use uplink_core::access::caveat::Operation;
use uplink_core::protocol::metainfo::{
    BeginObjectResponse, ListPartsRequest, ListPartsResponse, PartInfo, ResumeUploadRequest,
    ResumeUploadResponse,
};
use uplink_core::protocol::now_unix;

use super::upload::pending_object;
use super::{Metainfo, queue_piece_deletions, sealed_metadata};
use crate::accounting;
use crate::auth::Caller;
use crate::db::entities::object;
use crate::error::{Result, SatelliteError};
use crate::metabase::segments;
use crate::tokens::StreamToken;

/// Highest part number (S3's bound).
pub const MAX_PART_NUMBER: u32 = 10_000;

/// Parts one listing returns at most.
const MAX_LIST_PARTS: u32 = 1000;

impl Metainfo {
    /// The pending upload `object_id` at `bucket/encrypted_key`, if the caller may write
    /// there. An id of another key, bucket or project is "not found", like a wrong one.
    async fn pending_upload(
        &self,
        caller: &Caller,
        bucket: &str,
        encrypted_key: &str,
        object_id: &str,
    ) -> Result<object::Model> {
        caller.authorize(Operation::Write, Some(bucket), Some(encrypted_key), None)?;
        let obj = pending_object(&self.db, object_id).await?;
        if obj.project_id != caller.project_id
            || obj.bucket_name != bucket
            || obj.object_key != encrypted_key.as_bytes()
        {
            return Err(SatelliteError::NotFound(
                "no such upload at this key (it may have been completed or aborted)".into(),
            ));
        }
        if let Some(exp) = obj.expires_at {
            caller.authorize(
                Operation::Write,
                Some(bucket),
                Some(encrypted_key),
                Some(exp),
            )?;
        }
        Ok(obj)
    }

    pub async fn resume_upload(
        &self,
        caller: &Caller,
        req: &ResumeUploadRequest,
    ) -> Result<ResumeUploadResponse> {
        let obj = self
            .pending_upload(caller, &req.bucket, &req.encrypted_key, &req.object_id)
            .await?;
        if let Some(part) = req.reset_part {
            self.reset_part(&obj, part).await?;
        }
        let encrypted_metadata = sealed_metadata(&obj);
        let token = StreamToken {
            object_id: obj.id,
            project_id: obj.project_id,
            bucket: obj.bucket_name,
            encrypted_key: req.encrypted_key.clone(),
            expires_at: obj.expires_at,
            redundancy: self.config.redundancy,
            token_expiration: now_unix() + self.config.pending_object_expiration.as_secs() as i64,
        };
        Ok(ResumeUploadResponse {
            upload: BeginObjectResponse {
                object_id: token.object_id.clone(),
                stream_id: self.tokens.seal_stream(&token),
                redundancy: self.config.redundancy,
                max_segment_size: self.config.max_segment_size,
                max_inline_size: self.config.max_inline_size,
            },
            encrypted_metadata,
            created_at: obj.created_at,
            expires_at: obj.expires_at,
        })
    }

    /// Deletes what an upload holds of one part (its pieces queued for deletion), so
    /// that the part can be uploaded again.
    async fn reset_part(&self, obj: &object::Model, part: u32) -> Result<()> {
        if part == 0 || part > MAX_PART_NUMBER {
            return Err(SatelliteError::BadRequest(format!(
                "part numbers are 1 to {MAX_PART_NUMBER}, not {part}"
            )));
        }
        crate::db::write_txn!(self.db, |txn| {
            let old = segments::of_part(&txn, &obj.id, part).await?;
            if old.is_empty() {
                return Ok(());
            }
            let positions: Vec<_> = old.iter().map(|s| s.key.position).collect();
            segments::delete_positions(&txn, &obj.id, &positions).await?;
            queue_piece_deletions(&txn, &old).await?;
            accounting::remove_segments(&txn, std::slice::from_ref(obj), &old).await
        })
    }

    pub async fn list_parts(
        &self,
        caller: &Caller,
        req: &ListPartsRequest,
    ) -> Result<ListPartsResponse> {
        let obj = self
            .pending_upload(caller, &req.bucket, &req.encrypted_key, &req.object_id)
            .await?;
        let limit = req.limit.unwrap_or(MAX_LIST_PARTS).clamp(1, MAX_LIST_PARTS) as usize;
        let Some(from) = req.cursor.checked_add(1) else {
            return Ok(ListPartsResponse {
                parts: Vec::new(),
                more: false,
            });
        };
        let mut summaries = segments::part_summaries(&self.db, &obj.id, from, limit + 1).await?;
        let more = summaries.len() > limit;
        summaries.truncate(limit);
        Ok(ListPartsResponse {
            parts: summaries
                .into_iter()
                .map(|p| PartInfo {
                    part: p.part,
                    plain_size: p.plain_size,
                    segment_count: p.segment_count,
                    last_modified: p.last_modified,
                    encrypted_etag: p.encrypted_etag,
                })
                .collect(),
            more,
        })
    }
}
