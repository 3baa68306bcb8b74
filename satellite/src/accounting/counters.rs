//! Live counters of stored bytes and segments per project.
//!
//! Every place that adds or removes segment rows adjusts the counters in the same
//! transaction, so they are exact; [`super::measured_usage`] recomputes them from the
//! metadata to check that (tests) or to repair them.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ConnectionTrait, EntityTrait, Set};

use crate::db::entities::{object, project_usage};
use crate::error::Result;
use crate::metabase::Segment;

/// Adds `bytes` and `segments` (either may be negative) to a project's counters.
pub async fn adjust<C: ConnectionTrait>(
    conn: &C,
    project_id: &str,
    bytes: i64,
    segments: i64,
) -> Result<()> {
    if bytes == 0 && segments == 0 {
        return Ok(());
    }
    project_usage::Entity::insert(project_usage::ActiveModel {
        project_id: Set(project_id.to_string()),
        storage_bytes: Set(bytes),
        segments: Set(segments),
    })
    .on_conflict(
        OnConflict::column(project_usage::Column::ProjectId)
            .value(
                project_usage::Column::StorageBytes,
                Expr::col((project_usage::Entity, project_usage::Column::StorageBytes)).add(bytes),
            )
            .value(
                project_usage::Column::Segments,
                Expr::col((project_usage::Entity, project_usage::Column::Segments)).add(segments),
            )
            .to_owned(),
    )
    .exec(conn)
    .await?;
    Ok(())
}

/// Takes removed segments off their projects' counters (`objects` maps each segment to
/// its project; one call may span projects, as the expiry worker's batches do).
pub async fn remove_segments<C: ConnectionTrait>(
    conn: &C,
    objects: &[object::Model],
    segments: &[Segment],
) -> Result<()> {
    let project_of: HashMap<&str, &str> = objects
        .iter()
        .map(|o| (o.id.as_str(), o.project_id.as_str()))
        .collect();
    let mut totals: HashMap<&str, (i64, i64)> = HashMap::new();
    for s in segments {
        if let Some(project) = project_of.get(s.key.object_id.as_str()) {
            let t = totals.entry(project).or_default();
            t.0 += s.plain_size as i64;
            t.1 += 1;
        }
    }
    for (project, (bytes, count)) in totals {
        adjust(conn, project, -bytes, -count).await?;
    }
    Ok(())
}

/// The counters of a project: stored bytes and segments.
pub async fn counted<C: ConnectionTrait>(conn: &C, project_id: &str) -> Result<(u64, u64)> {
    Ok(project_usage::Entity::find_by_id(project_id.to_string())
        .one(conn)
        .await?
        .map_or((0, 0), |u| {
            (u.storage_bytes.max(0) as u64, u.segments.max(0) as u64)
        }))
}
