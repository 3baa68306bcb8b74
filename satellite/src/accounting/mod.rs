//! What each project uses, measured against its limits.
//!
//! Stored bytes and segments are live counters changed in the same transactions as the
//! segments themselves (an aggregate over the metadata grew to 240 ms per check at
//! 100 000 objects on SQLite); egress is counted per calendar month as download order
//! limits are issued, as Storj does ("allocated" egress), because a download that was
//! granted can be carried out.

mod counters;
mod egress;
mod usage;

pub use counters::{adjust, remove_segments};
pub use egress::{current_month, egress_this_month, record_egress};
pub use usage::{ProjectUsage, bucket_usage, measured_usage, project_usage};

use sea_orm::ConnectionTrait;

use crate::config::ProjectLimits;
use crate::db::entities::project;
use crate::error::{Result, SatelliteError};

/// The limits that apply to `project`: its own where set, the defaults otherwise.
pub fn effective_limits(project: &project::Model, defaults: &ProjectLimits) -> ProjectLimits {
    let pick = |own: Option<i64>, default: u64| own.map_or(default, |v| v.max(0) as u64);
    ProjectLimits {
        buckets: pick(project.max_buckets, defaults.buckets),
        storage_bytes: pick(project.max_storage_bytes, defaults.storage_bytes),
        egress_bytes: pick(project.max_egress_bytes, defaults.egress_bytes),
        segments: pick(project.max_segments, defaults.segments),
        requests_per_second: pick(
            project.max_requests_per_second,
            defaults.requests_per_second,
        ),
    }
}

fn exceeded(what: &str, limit: String) -> SatelliteError {
    SatelliteError::LimitExceeded(format!(
        "project {what} limit of {limit} reached; delete data or ask the satellite operator to raise the limit"
    ))
}

fn bytes(n: u64) -> String {
    uplink_core::units::format_size(n)
}

/// Refuses creating a bucket beyond the bucket limit.
pub async fn check_buckets<C: ConnectionTrait>(
    conn: &C,
    project_id: &str,
    limits: &ProjectLimits,
) -> Result<()> {
    if usage::bucket_count(conn, project_id).await? >= limits.buckets {
        return Err(exceeded("bucket", limits.buckets.to_string()));
    }
    Ok(())
}

/// Refuses storing more once storage or the segment count has reached its limit. (An
/// upload in progress may finish its current segment, so a project can exceed its
/// storage limit by at most one segment per concurrent upload, as in Storj.)
pub async fn check_upload<C: ConnectionTrait>(
    conn: &C,
    project_id: &str,
    limits: &ProjectLimits,
) -> Result<()> {
    let (storage_bytes, segments) = counters::counted(conn, project_id).await?;
    if storage_bytes >= limits.storage_bytes {
        return Err(exceeded("storage", bytes(limits.storage_bytes)));
    }
    if segments >= limits.segments {
        return Err(exceeded("segment", limits.segments.to_string()));
    }
    Ok(())
}

/// Counts `amount` download bytes against this month's egress, refusing them if the
/// month's limit would be exceeded. Check and count are one conditional statement, so
/// racing downloads cannot together pass the limit.
pub async fn charge_egress<C: ConnectionTrait>(
    conn: &C,
    project_id: &str,
    limits: &ProjectLimits,
    amount: u64,
) -> Result<()> {
    if !egress::charge_within(conn, project_id, amount, limits.egress_bytes).await? {
        return Err(exceeded("monthly egress", bytes(limits.egress_bytes)));
    }
    Ok(())
}
