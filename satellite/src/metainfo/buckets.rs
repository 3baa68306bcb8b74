//! Bucket creation, lookup, listing and deletion.

use sea_orm::{
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uplink_core::access::caveat::Operation;
use uplink_core::crypto::names;
use uplink_core::protocol::cors;
use uplink_core::protocol::metainfo::{
    BucketCors, BucketInfo, DeleteBucketRequest, DeleteBucketResponse, ListBucketsRequest,
    ListBucketsResponse, SetBucketCorsRequest,
};
use uplink_core::protocol::now_unix;

use super::{Metainfo, validate_bucket_name};
use crate::accounting;
use crate::auth::Caller;
use crate::db::entities::{bucket, object, project};
use crate::error::{Result, SatelliteError, is_unique_violation};

const MAX_BUCKET_LIST: u32 = 1000;

fn info(b: &bucket::Model) -> BucketInfo {
    BucketInfo {
        name: b.name.clone(),
        created_at: b.created_at,
        plain_names_tag: b.plain_names_tag.as_deref().map(hex::encode),
    }
}

/// A clear-names tag as a creator sends it: hex of [`names::TAG_LEN`] bytes. Only its
/// shape can be checked here; clients check the rest with the bucket's key.
fn parse_tag(tag: &str) -> Result<Vec<u8>> {
    match hex::decode(tag) {
        Ok(bytes) if bytes.len() == names::TAG_LEN => Ok(bytes),
        _ => Err(SatelliteError::BadRequest(format!(
            "plain_names_tag must be {} hex digits",
            2 * names::TAG_LEN
        ))),
    }
}

impl Metainfo {
    /// Creates a bucket; with `plain_names_tag`, one that keeps object names in clear.
    pub async fn create_bucket(
        &self,
        caller: &Caller,
        name: &str,
        plain_names_tag: Option<&str>,
    ) -> Result<BucketInfo> {
        validate_bucket_name(name)?;
        let tag = plain_names_tag.map(parse_tag).transpose()?;
        caller.authorize(Operation::Write, Some(name), None, None)?;
        let row = crate::db::write_txn!(self.db, |txn| {
            // Count and insert under the project's row lock (PostgreSQL; SQLite
            // writers are serialised anyway), so that racing creations cannot
            // both pass the bucket limit.
            project::Entity::find_by_id(caller.project_id.clone())
                .lock_exclusive()
                .one(&txn)
                .await?;
            if bucket::Entity::find_by_id((caller.project_id.clone(), name.to_string()))
                .one(&txn)
                .await?
                .is_some()
            {
                return Err(SatelliteError::BucketExists(name.to_string()));
            }
            accounting::check_buckets(&txn, &caller.project_id, &caller.limits).await?;
            let model = bucket::ActiveModel {
                project_id: Set(caller.project_id.clone()),
                name: Set(name.to_string()),
                created_at: Set(now_unix()),
                cors: Set(None),
                plain_names_tag: Set(tag.clone()),
            };
            bucket::Entity::insert(model)
                .exec_with_returning(&txn)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        // A concurrent creation of the same bucket won.
                        SatelliteError::BucketExists(name.to_string())
                    } else {
                        e.into()
                    }
                })
        })?;
        Ok(info(&row))
    }

    /// A bucket's name, age and how it keeps object names: for any key that may do
    /// something in the bucket (a write-only key must learn how to write names too).
    pub async fn get_bucket(&self, caller: &Caller, name: &str) -> Result<BucketInfo> {
        let mut allowed = Ok(());
        for op in [
            Operation::Read,
            Operation::Write,
            Operation::List,
            Operation::Delete,
        ] {
            allowed = caller.authorize(op, Some(name), None, None);
            if allowed.is_ok() {
                break;
            }
        }
        allowed?;
        Ok(info(&self.require_bucket(&caller.project_id, name).await?))
    }

    /// The bucket's cross-origin rules (read permission on the bucket).
    pub async fn bucket_cors(&self, caller: &Caller, name: &str) -> Result<BucketCors> {
        caller.authorize(Operation::Read, Some(name), None, None)?;
        let row = self.require_bucket(&caller.project_id, name).await?;
        let rules = match row.cors {
            None => None,
            Some(json) => Some(serde_json::from_str(&json).map_err(|e| {
                SatelliteError::Internal(format!("stored CORS rules of {name:?} unreadable: {e}"))
            })?),
        };
        Ok(BucketCors { rules })
    }

    /// Replaces (or with `None` removes) the bucket's cross-origin rules: write
    /// permission on the bucket, and a configuration that [`cors::validate`] accepts.
    pub async fn set_bucket_cors(
        &self,
        caller: &Caller,
        req: &SetBucketCorsRequest,
    ) -> Result<BucketCors> {
        caller.authorize(Operation::Write, Some(&req.name), None, None)?;
        let json = match &req.rules {
            None => None,
            Some(rules) => {
                cors::validate(rules).map_err(|e| SatelliteError::BadRequest(e.0))?;
                Some(serde_json::to_string(rules).map_err(|e| {
                    SatelliteError::Internal(format!("CORS rules not serialisable: {e}"))
                })?)
            }
        };
        let updated = crate::db::write_txn!(self.db, |txn| {
            let done = bucket::Entity::update_many()
                .col_expr(
                    bucket::Column::Cors,
                    sea_orm::sea_query::Expr::value(json.clone()),
                )
                .filter(bucket::Column::ProjectId.eq(caller.project_id.clone()))
                .filter(bucket::Column::Name.eq(req.name.clone()))
                .exec(&txn)
                .await?;
            Ok(done.rows_affected)
        })?;
        if updated == 0 {
            return Err(SatelliteError::BucketNotFound(req.name.clone()));
        }
        Ok(BucketCors {
            rules: req.rules.clone(),
        })
    }

    pub async fn list_buckets(
        &self,
        caller: &Caller,
        req: &ListBucketsRequest,
    ) -> Result<ListBucketsResponse> {
        caller.authorize(Operation::List, None, None, None)?;
        let limit = req
            .limit
            .unwrap_or(MAX_BUCKET_LIST)
            .clamp(1, MAX_BUCKET_LIST);
        let mut query = bucket::Entity::find()
            .filter(bucket::Column::ProjectId.eq(caller.project_id.clone()))
            .order_by_asc(bucket::Column::Name);
        if let Some(cursor) = &req.cursor {
            query = query.filter(bucket::Column::Name.gt(cursor.clone()));
        }
        if let Some(allowed) = caller.allowed_buckets() {
            query = query.filter(bucket::Column::Name.is_in(allowed));
        }
        let mut rows = query.limit(limit as u64 + 1).all(&self.db).await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok(ListBucketsResponse {
            items: rows.iter().map(info).collect(),
            more,
        })
    }

    pub async fn delete_bucket(
        &self,
        caller: &Caller,
        req: &DeleteBucketRequest,
    ) -> Result<DeleteBucketResponse> {
        caller.authorize(Operation::Delete, Some(&req.name), None, None)?;
        self.require_bucket(&caller.project_id, &req.name).await?;
        let in_bucket = || {
            object::Entity::find()
                .filter(object::Column::ProjectId.eq(caller.project_id.clone()))
                .filter(object::Column::BucketName.eq(req.name.clone()))
        };
        let mut deleted = 0;
        loop {
            let batch = in_bucket().limit(500).all(&self.db).await?;
            if batch.is_empty() {
                break;
            }
            if !req.force {
                return Err(SatelliteError::BucketNotEmpty(req.name.clone()));
            }
            deleted += super::delete_objects(&self.db, &batch).await? as u64;
        }
        self.metrics.objects_deleted.inc_by(deleted);
        // Remove the bucket only if nothing was committed into it meanwhile; uploads check
        // for the bucket inside their own commit transaction.
        crate::db::write_txn!(self.db, |txn| {
            if in_bucket().count(&txn).await? > 0 {
                return Err(SatelliteError::Conflict(format!(
                    "an upload into bucket {:?} finished while it was being deleted; try again",
                    req.name
                )));
            }
            bucket::Entity::delete_by_id((caller.project_id.clone(), req.name.clone()))
                .exec(&txn)
                .await?;
            Ok(())
        })?;
        Ok(DeleteBucketResponse {
            deleted_objects: deleted,
        })
    }
}
