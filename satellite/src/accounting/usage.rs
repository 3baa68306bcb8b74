//! Aggregates over the metadata tables.

use sea_orm::sea_query::{Alias, Expr, Func, Query};
use sea_orm::{ConnectionTrait, FromQueryResult, StatementBuilder};
use serde::Serialize;

use crate::db::entities::{bucket, object, segment};
use crate::error::Result;

/// What a project holds now. Pending uploads count their committed segments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProjectUsage {
    pub buckets: u64,
    pub storage_bytes: u64,
    pub segments: u64,
    /// Committed objects.
    pub objects: u64,
    /// Bytes downloaded this month.
    pub egress_bytes: u64,
}

#[derive(Debug, FromQueryResult)]
struct Sums {
    n: Option<i64>,
    bytes: Option<i64>,
}

fn count(v: Option<i64>) -> u64 {
    v.unwrap_or(0).max(0) as u64
}

async fn one<C: ConnectionTrait, S: StatementBuilder>(conn: &C, query: &S) -> Result<Sums> {
    let stmt = conn.get_database_backend().build(query);
    Ok(Sums::find_by_statement(stmt)
        .one(conn)
        .await?
        .unwrap_or(Sums {
            n: None,
            bytes: None,
        }))
}

/// Segment count and bytes, optionally of one bucket.
async fn segment_sums<C: ConnectionTrait>(
    conn: &C,
    project_id: &str,
    bucket_name: Option<&str>,
) -> Result<Sums> {
    let mut q = Query::select();
    q.expr_as(
        Func::cast_as(
            Func::count(Expr::col((segment::Entity, segment::Column::ObjectId))),
            Alias::new("BIGINT"),
        ),
        Alias::new("n"),
    )
    .expr_as(
        Func::cast_as(
            Func::coalesce([
                Func::sum(Expr::col((segment::Entity, segment::Column::PlainSize))).into(),
                Expr::val(0i64).into(),
            ]),
            Alias::new("BIGINT"),
        ),
        Alias::new("bytes"),
    )
    .from(segment::Entity)
    .inner_join(
        object::Entity,
        Expr::col((object::Entity, object::Column::Id))
            .equals((segment::Entity, segment::Column::ObjectId)),
    )
    .and_where(Expr::col((object::Entity, object::Column::ProjectId)).eq(project_id));
    if let Some(b) = bucket_name {
        q.and_where(Expr::col((object::Entity, object::Column::BucketName)).eq(b));
    }
    one(conn, &q).await
}

async fn object_count<C: ConnectionTrait>(
    conn: &C,
    project_id: &str,
    bucket_name: Option<&str>,
) -> Result<u64> {
    let mut q = Query::select();
    q.expr_as(
        Func::cast_as(
            Func::count(Expr::col(object::Column::Id)),
            Alias::new("BIGINT"),
        ),
        Alias::new("n"),
    )
    .expr_as(Expr::val(0i64), Alias::new("bytes"))
    .from(object::Entity)
    .and_where(Expr::col(object::Column::ProjectId).eq(project_id))
    .and_where(Expr::col(object::Column::Status).eq(object::STATUS_COMMITTED));
    if let Some(b) = bucket_name {
        q.and_where(Expr::col(object::Column::BucketName).eq(b));
    }
    Ok(count(one(conn, &q).await?.n))
}

pub(super) async fn bucket_count<C: ConnectionTrait>(conn: &C, project_id: &str) -> Result<u64> {
    let mut q = Query::select();
    q.expr_as(
        Func::cast_as(
            Func::count(Expr::col(bucket::Column::Name)),
            Alias::new("BIGINT"),
        ),
        Alias::new("n"),
    )
    .expr_as(Expr::val(0i64), Alias::new("bytes"))
    .from(bucket::Entity)
    .and_where(Expr::col(bucket::Column::ProjectId).eq(project_id));
    Ok(count(one(conn, &q).await?.n))
}

/// Buckets, stored bytes, segments and objects of a project, from the live counters
/// (egress is left at 0; see [`super::egress_this_month`]).
pub async fn project_usage<C: ConnectionTrait>(conn: &C, project_id: &str) -> Result<ProjectUsage> {
    let (storage_bytes, segments) = super::counters::counted(conn, project_id).await?;
    Ok(ProjectUsage {
        buckets: bucket_count(conn, project_id).await?,
        storage_bytes,
        segments,
        objects: object_count(conn, project_id, None).await?,
        egress_bytes: 0,
    })
}

/// The same, recomputed from the metadata itself: what the counters must equal. Costs
/// time proportional to the project's size.
pub async fn measured_usage<C: ConnectionTrait>(
    conn: &C,
    project_id: &str,
) -> Result<ProjectUsage> {
    let sums = segment_sums(conn, project_id, None).await?;
    Ok(ProjectUsage {
        buckets: bucket_count(conn, project_id).await?,
        storage_bytes: count(sums.bytes),
        segments: count(sums.n),
        objects: object_count(conn, project_id, None).await?,
        egress_bytes: 0,
    })
}

/// Committed objects and stored bytes of one bucket.
pub async fn bucket_usage<C: ConnectionTrait>(
    conn: &C,
    project_id: &str,
    bucket_name: &str,
) -> Result<(u64, u64)> {
    let sums = segment_sums(conn, project_id, Some(bucket_name)).await?;
    Ok((
        object_count(conn, project_id, Some(bucket_name)).await?,
        count(sums.bytes),
    ))
}
