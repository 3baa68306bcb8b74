//! Monthly egress counters, one row per project and month.

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ConnectionTrait, EntityTrait, Set};

use crate::db::entities::project_egress;
use crate::error::Result;

/// The current calendar month in UTC, `YYYY-MM`.
pub fn current_month() -> String {
    let now = std::time::SystemTime::now();
    let text = humantime::format_rfc3339_seconds(now).to_string();
    text[..7].to_string()
}

pub async fn egress_this_month<C: ConnectionTrait>(conn: &C, project_id: &str) -> Result<u64> {
    Ok(
        project_egress::Entity::find_by_id((project_id.to_string(), current_month()))
            .one(conn)
            .await?
            .map_or(0, |row| row.bytes.max(0) as u64),
    )
}

/// Adds `amount` bytes to this month's counter, atomically.
pub async fn record_egress<C: ConnectionTrait>(
    conn: &C,
    project_id: &str,
    amount: u64,
) -> Result<()> {
    let amount = i64::try_from(amount).unwrap_or(i64::MAX);
    project_egress::Entity::insert(project_egress::ActiveModel {
        project_id: Set(project_id.to_string()),
        month: Set(current_month()),
        bytes: Set(amount),
    })
    .on_conflict(
        OnConflict::columns([
            project_egress::Column::ProjectId,
            project_egress::Column::Month,
        ])
        .value(
            project_egress::Column::Bytes,
            Expr::col((project_egress::Entity, project_egress::Column::Bytes)).add(amount),
        )
        .to_owned(),
    )
    .exec(conn)
    .await?;
    Ok(())
}

/// Adds `amount` to this month's counter only if the result stays within `limit`, in
/// one statement (an upsert whose update is conditional); whether it was added.
pub async fn charge_within<C: ConnectionTrait>(
    conn: &C,
    project_id: &str,
    amount: u64,
    limit: u64,
) -> Result<bool> {
    if amount > limit {
        return Ok(false);
    }
    let amount = i64::try_from(amount).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let bytes_now = Expr::col((project_egress::Entity, project_egress::Column::Bytes));
    let changed = project_egress::Entity::insert(project_egress::ActiveModel {
        project_id: Set(project_id.to_string()),
        month: Set(current_month()),
        bytes: Set(amount),
    })
    .on_conflict(
        OnConflict::columns([
            project_egress::Column::ProjectId,
            project_egress::Column::Month,
        ])
        .value(project_egress::Column::Bytes, bytes_now.clone().add(amount))
        .action_and_where(bytes_now.lte(limit - amount))
        .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(changed > 0)
}
