//! Object deletion. Rows go at once; pieces are queued for deletion on their nodes (and
//! whatever a node misses, garbage collection removes later). A deleted object is never
//! served again because the satellite signs no more limits for it.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uplink_core::access::caveat::Operation;
use uplink_core::protocol::metainfo::DeleteObjectResponse;

use super::{Metainfo, object_info, queue_piece_deletions};
use crate::auth::Caller;
use crate::db::Db;
use crate::db::entities::object;
use crate::error::{Result, SatelliteError};
use crate::metabase::segments;

/// Deletes objects and their segments in one transaction and queues their pieces.
pub async fn delete_objects(db: &Db, objects: &[object::Model]) -> Result<usize> {
    if objects.is_empty() {
        return Ok(0);
    }
    let ids: Vec<String> = objects.iter().map(|o| o.id.clone()).collect();
    let deleted = crate::db::write_txn!(db, |txn| {
        let segments = segments::delete_of_objects(&txn, &ids).await?;
        queue_piece_deletions(&txn, &segments).await?;
        crate::accounting::remove_segments(&txn, objects, &segments).await?;
        let res = object::Entity::delete_many()
            .filter(object::Column::Id.is_in(ids.clone()))
            .exec(&txn)
            .await?;
        Ok(res.rows_affected)
    })?;
    Ok(deleted as usize)
}

impl Metainfo {
    pub async fn delete_object(
        &self,
        caller: &Caller,
        bucket: &str,
        encrypted_key: &str,
    ) -> Result<DeleteObjectResponse> {
        caller.authorize(Operation::Delete, Some(bucket), Some(encrypted_key), None)?;
        self.require_names(caller, bucket).await?;
        let obj = match self
            .committed_object(&caller.project_id, bucket, encrypted_key)
            .await
        {
            Ok(obj) => obj,
            Err(SatelliteError::ObjectNotFound) => {
                return Ok(DeleteObjectResponse { deleted: None });
            }
            Err(e) => return Err(e),
        };
        delete_objects(&self.db, std::slice::from_ref(&obj)).await?;
        self.metrics.objects_deleted.inc();
        Ok(DeleteObjectResponse {
            deleted: Some(object_info(&obj)),
        })
    }
}
