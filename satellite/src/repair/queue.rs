//! The repair queue: segments waiting for repair, most urgent (fewest healthy pieces)
//! first. Workers claim a job with a lease (a conditional update, so two workers or two
//! processes never take the same job) and delete it when done.

use sea_orm::sea_query::{Condition, Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uplink_core::protocol::{SegmentPosition, now_unix};

use crate::db::entities::{repair_log, repair_queue};
use crate::error::{Result, SatelliteError};
use crate::metabase::SegmentKey;

/// A claimed job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub key: SegmentKey,
    pub healthy: u16,
    pub attempts: u32,
}

/// Adds or refreshes queued segments with their current healthy counts.
pub async fn push<C: ConnectionTrait>(conn: &C, items: &[(SegmentKey, u16)]) -> Result<()> {
    let now = now_unix();
    for chunk in items.chunks(200) {
        let rows = chunk
            .iter()
            .map(|(key, healthy)| repair_queue::ActiveModel {
                object_id: Set(key.object_id.clone()),
                position: Set(key.position.encode()),
                healthy: Set(*healthy as i16),
                inserted_at: Set(now),
                updated_at: Set(now),
                leased_by: Set(None),
                leased_until: Set(None),
                attempts: Set(0),
                last_error: Set(None),
            });
        repair_queue::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    repair_queue::Column::ObjectId,
                    repair_queue::Column::Position,
                ])
                .update_columns([
                    repair_queue::Column::Healthy,
                    repair_queue::Column::UpdatedAt,
                ])
                .to_owned(),
            )
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// Removes jobs the checker did not see in a pass that began at `pass_started` (their
/// segments are healthy again or gone), unless a worker holds them.
pub async fn drop_stale<C: ConnectionTrait>(conn: &C, pass_started: i64) -> Result<u64> {
    let now = now_unix();
    Ok(repair_queue::Entity::delete_many()
        .filter(repair_queue::Column::UpdatedAt.lt(pass_started))
        .filter(
            Condition::any()
                .add(repair_queue::Column::LeasedUntil.is_null())
                .add(repair_queue::Column::LeasedUntil.lt(now)),
        )
        .exec(conn)
        .await?
        .rows_affected)
}

/// Claims the most urgent job that nobody holds, for `lease_secs`.
pub async fn claim<C: ConnectionTrait>(
    conn: &C,
    holder: &str,
    lease_secs: i64,
) -> Result<Option<Job>> {
    let now = now_unix();
    for _ in 0..5 {
        let candidates = repair_queue::Entity::find()
            .filter(
                Condition::any()
                    .add(repair_queue::Column::LeasedUntil.is_null())
                    .add(repair_queue::Column::LeasedUntil.lt(now)),
            )
            .order_by_asc(repair_queue::Column::Healthy)
            .order_by_asc(repair_queue::Column::InsertedAt)
            .limit(8)
            .all(conn)
            .await?;
        if candidates.is_empty() {
            return Ok(None);
        }
        for c in candidates {
            let taken = repair_queue::Entity::update_many()
                .col_expr(
                    repair_queue::Column::LeasedBy,
                    Expr::value(holder.to_string()),
                )
                .col_expr(
                    repair_queue::Column::LeasedUntil,
                    Expr::value(now + lease_secs),
                )
                .col_expr(repair_queue::Column::Attempts, Expr::value(c.attempts + 1))
                .filter(repair_queue::Column::ObjectId.eq(c.object_id.clone()))
                .filter(repair_queue::Column::Position.eq(c.position))
                .filter(repair_queue::Column::Attempts.eq(c.attempts))
                .filter(
                    Condition::any()
                        .add(repair_queue::Column::LeasedUntil.is_null())
                        .add(repair_queue::Column::LeasedUntil.lt(now)),
                )
                .exec(conn)
                .await?;
            if taken.rows_affected == 1 {
                return Ok(Some(Job {
                    key: SegmentKey {
                        object_id: c.object_id,
                        position: SegmentPosition::decode(c.position)
                            .map_err(|e| SatelliteError::Internal(e.to_string()))?,
                    },
                    healthy: c.healthy.max(0) as u16,
                    attempts: (c.attempts + 1) as u32,
                }));
            }
        }
    }
    Ok(None)
}

/// Removes a finished (or pointless) job held by `holder`.
pub async fn complete<C: ConnectionTrait>(conn: &C, key: &SegmentKey, holder: &str) -> Result<()> {
    repair_queue::Entity::delete_many()
        .filter(repair_queue::Column::ObjectId.eq(key.object_id.clone()))
        .filter(repair_queue::Column::Position.eq(key.position.encode()))
        .filter(repair_queue::Column::LeasedBy.eq(holder.to_string()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Gives a failed job back, to be retried after `retry_secs`.
pub async fn fail<C: ConnectionTrait>(
    conn: &C,
    key: &SegmentKey,
    holder: &str,
    error: &str,
    retry_secs: i64,
) -> Result<()> {
    let mut message = error.to_string();
    message.truncate(500);
    repair_queue::Entity::update_many()
        .col_expr(
            repair_queue::Column::LeasedUntil,
            Expr::value(now_unix() + retry_secs),
        )
        .col_expr(repair_queue::Column::LastError, Expr::value(message))
        .filter(repair_queue::Column::ObjectId.eq(key.object_id.clone()))
        .filter(repair_queue::Column::Position.eq(key.position.encode()))
        .filter(repair_queue::Column::LeasedBy.eq(holder.to_string()))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn length<C: ConnectionTrait>(conn: &C) -> Result<u64> {
    Ok(repair_queue::Entity::find().count(conn).await?)
}

/// Records a completed repair.
pub async fn log_repair<C: ConnectionTrait>(conn: &C, pieces: u32, bytes: u64) -> Result<()> {
    repair_log::Entity::insert(repair_log::ActiveModel {
        repaired_at: Set(now_unix()),
        pieces_uploaded: Set(pieces as i32),
        bytes_transferred: Set(bytes as i64),
        ..Default::default()
    })
    .exec(conn)
    .await?;
    Ok(())
}

/// Repairs completed since `since` (unix seconds).
pub async fn repaired_since<C: ConnectionTrait>(conn: &C, since: i64) -> Result<u64> {
    Ok(repair_log::Entity::find()
        .filter(repair_log::Column::RepairedAt.gte(since))
        .count(conn)
        .await?)
}

/// Repairs completed in one hour.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, sea_orm::FromQueryResult)]
pub struct HourOfRepairs {
    /// Unix seconds at the start of the hour.
    pub hour_start: i64,
    pub segments: i64,
    pub pieces: i64,
    pub bytes: i64,
}

/// Completed repairs per hour since `since`, oldest first; hours without repairs are
/// left out.
pub async fn repaired_per_hour<C: ConnectionTrait>(
    conn: &C,
    since: i64,
) -> Result<Vec<HourOfRepairs>> {
    let hour = || Expr::cust("(repaired_at / 3600) * 3600");
    Ok(repair_log::Entity::find()
        .select_only()
        .column_as(hour(), "hour_start")
        .column_as(Expr::cust("COUNT(*)"), "segments")
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(pieces_uploaded), 0) AS BIGINT)"),
            "pieces",
        )
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(bytes_transferred), 0) AS BIGINT)"),
            "bytes",
        )
        .filter(repair_log::Column::RepairedAt.gte(since))
        .group_by(hour())
        .order_by_asc(hour())
        .into_model::<HourOfRepairs>()
        .all(conn)
        .await?)
}

/// Forgets completed repairs before `before`; the log only feeds "repaired per hour".
pub async fn prune_log<C: ConnectionTrait>(conn: &C, before: i64) -> Result<u64> {
    Ok(repair_log::Entity::delete_many()
        .filter(repair_log::Column::RepairedAt.lt(before))
        .exec(conn)
        .await?
        .rows_affected)
}

/// A queued job as operators see it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct QueuedJob {
    pub object_id: String,
    pub position: SegmentPosition,
    pub healthy: u16,
    pub queued_at: i64,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// A worker holds it now.
    pub in_progress: bool,
}

/// The `limit` most urgent jobs, in the order workers take them.
pub async fn head<C: ConnectionTrait>(conn: &C, limit: u64) -> Result<Vec<QueuedJob>> {
    let now = now_unix();
    repair_queue::Entity::find()
        .order_by_asc(repair_queue::Column::Healthy)
        .order_by_asc(repair_queue::Column::InsertedAt)
        .order_by_asc(repair_queue::Column::ObjectId)
        .order_by_asc(repair_queue::Column::Position)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(|r| {
            Ok(QueuedJob {
                position: SegmentPosition::decode(r.position).map_err(|e| {
                    SatelliteError::Internal(format!("repair queue row of {}: {e}", r.object_id))
                })?,
                object_id: r.object_id,
                healthy: r.healthy.max(0) as u16,
                queued_at: r.inserted_at,
                attempts: r.attempts.max(0) as u32,
                last_error: r.last_error,
                in_progress: r.leased_until.is_some_and(|t| t > now),
            })
        })
        .collect()
}
