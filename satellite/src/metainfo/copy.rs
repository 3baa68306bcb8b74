//! Server-side copy and move: a new object whose segments are the source's pieces
//! under re-wrapped keys, so that no data moves.
//!
//! The satellite cannot re-encrypt anything: the uplink asks for the source's sealed
//! segment keys (`copy-begin`), opens them with the source path's key, seals them for
//! the destination path and sends them back with the destination's sealed metadata.
//! The satellite checks that the source is still the version the keys came from and
//! writes the new object in one transaction; a move also drops the source's rows but
//! not its pieces, which the new object now holds. A copy shares pieces with its
//! source: deletions queue a piece only when no segment of another object still names
//! its root (see `queue_piece_deletions`).

use std::collections::BTreeMap;

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use uplink_core::access::caveat::Operation;
use uplink_core::protocol::metainfo::{
    CopyBeginResponse, CopyObjectRequest, ObjectInfo, ObjectRequest, SegmentKeyInfo,
};
use uplink_core::protocol::{SegmentPosition, now_unix};

use super::{
    Metainfo, check_names, committed_at, object_info, queue_piece_deletions,
    validate_encrypted_key, validate_sealed,
};
use crate::accounting;
use crate::auth::Caller;
use crate::db::entities::{bucket, object};
use crate::error::{Result, SatelliteError, is_unique_violation};
use crate::metabase::segments;

/// Segments one copy may carry (64 GiB of 64 MiB segments per request is plenty).
const MAX_COPY_SEGMENTS: usize = 100_000;

impl Metainfo {
    /// The source's info and sealed segment keys, for the uplink to re-wrap.
    pub async fn copy_begin(
        &self,
        caller: &Caller,
        req: &ObjectRequest,
    ) -> Result<CopyBeginResponse> {
        caller.authorize(
            Operation::Read,
            Some(&req.bucket),
            Some(&req.encrypted_key),
            None,
        )?;
        self.require_names(caller, &req.bucket).await?;
        let obj = self
            .committed_object(&caller.project_id, &req.bucket, &req.encrypted_key)
            .await?;
        let segs = segments::of_objects(&self.db, std::slice::from_ref(&obj.id)).await?;
        if segs.len() > MAX_COPY_SEGMENTS {
            return Err(SatelliteError::BadRequest(format!(
                "objects of more than {MAX_COPY_SEGMENTS} segments cannot be copied on the server"
            )));
        }
        Ok(CopyBeginResponse {
            object: object_info(&obj),
            segment_keys: segs
                .into_iter()
                .map(|s| SegmentKeyInfo {
                    position: s.key.position,
                    encrypted_key: s.encrypted_key,
                })
                .collect(),
        })
    }

    pub async fn copy_object(
        &self,
        caller: &Caller,
        req: &CopyObjectRequest,
    ) -> Result<ObjectInfo> {
        validate_encrypted_key(&req.new_encrypted_key)?;
        if let Some(meta) = &req.encrypted_metadata {
            validate_sealed("encrypted metadata", meta, 64 << 10)?;
        }
        for k in &req.segment_keys {
            validate_sealed("encrypted segment key", &k.encrypted_key, 256)?;
        }
        let same_place = req.bucket == req.new_bucket && req.encrypted_key == req.new_encrypted_key;
        if same_place && req.delete_source {
            return Err(SatelliteError::BadRequest(
                "an object cannot be moved onto itself".into(),
            ));
        }
        self.require_names(caller, &req.bucket).await?;
        caller.authorize(
            Operation::Read,
            Some(&req.bucket),
            Some(&req.encrypted_key),
            None,
        )?;
        if req.delete_source {
            caller.authorize(
                Operation::Delete,
                Some(&req.bucket),
                Some(&req.encrypted_key),
                None,
            )?;
        }
        let source = self
            .committed_object(&caller.project_id, &req.bucket, &req.encrypted_key)
            .await?;
        if source.id != req.object_id {
            return Err(SatelliteError::Conflict(
                "the source object changed while it was being copied; retry".into(),
            ));
        }
        caller.authorize(
            Operation::Write,
            Some(&req.new_bucket),
            Some(&req.new_encrypted_key),
            source.expires_at,
        )?;
        if !req.delete_source {
            accounting::check_upload(&self.db, &caller.project_id, &caller.limits).await?;
        }
        let new_keys: BTreeMap<SegmentPosition, _> = req
            .segment_keys
            .iter()
            .map(|k| (k.position, k.encrypted_key.clone()))
            .collect();
        let now = now_unix();
        let id = uuid::Uuid::new_v4().to_string();
        let created = crate::db::write_txn!(self.db, |txn| {
            // The source as the keys were taken from it, still there.
            let current = object::Entity::find_by_id(source.id.clone())
                .one(&txn)
                .await?
                .filter(|o| o.status == object::STATUS_COMMITTED)
                .ok_or_else(|| {
                    SatelliteError::Conflict(
                        "the source object was deleted or replaced while it was being copied"
                            .into(),
                    )
                })?;
            let destination =
                bucket::Entity::find_by_id((caller.project_id.clone(), req.new_bucket.clone()))
                    .one(&txn)
                    .await?
                    .ok_or_else(|| SatelliteError::BucketNotFound(req.new_bucket.clone()))?;
            check_names(caller.names, &destination)?;
            let source_segments =
                segments::of_objects(&txn, std::slice::from_ref(&current.id)).await?;
            if source_segments.len() != new_keys.len()
                || source_segments
                    .iter()
                    .any(|s| !new_keys.contains_key(&s.key.position))
            {
                return Err(SatelliteError::BadRequest(
                    "the copy must carry one re-wrapped key for each of the source's segments"
                        .into(),
                ));
            }
            // Whatever holds the destination key now is replaced (not the source itself,
            // which a copy onto itself keeps until the new version is in).
            let previous = committed_at(
                &txn,
                &caller.project_id,
                &req.new_bucket,
                req.new_encrypted_key.as_bytes(),
            )
            .await?;
            if !previous.is_empty() {
                if req.if_absent {
                    return Err(SatelliteError::PreconditionFailed(
                        "an object exists at the destination and the copy asked for none".into(),
                    ));
                }
                caller.authorize(
                    Operation::Delete,
                    Some(&req.new_bucket),
                    Some(&req.new_encrypted_key),
                    None,
                )?;
            }
            let copies: Vec<_> = source_segments
                .iter()
                .map(|s| s.copied(&id, new_keys[&s.key.position].clone(), now))
                .collect();
            // The old destination goes first (it may be the source itself); its pieces
            // stay wherever the new object shares them.
            let replaced_ids: Vec<String> = previous.iter().map(|o| o.id.clone()).collect();
            let replaced = segments::delete_of_objects(&txn, &replaced_ids).await?;
            object::Entity::delete_many()
                .filter(object::Column::Id.is_in(replaced_ids.clone()))
                .exec(&txn)
                .await?;
            accounting::remove_segments(&txn, &previous, &replaced).await?;
            let created = object::ActiveModel {
                id: Set(id.clone()),
                project_id: Set(caller.project_id.clone()),
                bucket_name: Set(req.new_bucket.clone()),
                object_key: Set(req.new_encrypted_key.as_bytes().to_vec()),
                status: Set(object::STATUS_COMMITTED),
                created_at: Set(now),
                committed_at: Set(Some(now)),
                expires_at: Set(current.expires_at),
                zombie_deadline: Set(None),
                plain_size: Set(current.plain_size),
                segment_count: Set(current.segment_count),
                encrypted_metadata: Set(req
                    .encrypted_metadata
                    .as_ref()
                    .map(|m| m.ciphertext.clone())),
                encrypted_metadata_nonce: Set(req
                    .encrypted_metadata
                    .as_ref()
                    .map(|m| m.nonce.clone())),
            }
            .insert(&txn)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    SatelliteError::Conflict(
                        "another write of the destination key won at the same moment; retry".into(),
                    )
                } else {
                    e.into()
                }
            })?;
            segments::insert_many(&txn, &copies).await?;
            let bytes: i64 = copies.iter().map(|s| s.plain_size as i64).sum();
            accounting::adjust(&txn, &caller.project_id, bytes, copies.len() as i64).await?;
            // Pieces of the replaced object that nothing names any more.
            queue_piece_deletions(&txn, &replaced).await?;
            if req.delete_source && !replaced_ids.contains(&current.id) {
                let moved =
                    segments::delete_of_objects(&txn, std::slice::from_ref(&current.id)).await?;
                object::Entity::delete_by_id(current.id.clone())
                    .exec(&txn)
                    .await?;
                accounting::remove_segments(&txn, std::slice::from_ref(&current), &moved).await?;
            }
            Ok(created)
        })?;
        self.metrics.objects_committed.inc();
        Ok(object_info(&created))
    }
}
