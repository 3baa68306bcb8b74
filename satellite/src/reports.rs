//! The last report of each background service (JSON), kept in the database so that
//! every satellite process (and the console) sees what the one running the job found.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uplink_core::protocol::now_unix;

use crate::db::entities::service_report;
use crate::error::{Result, SatelliteError};

pub async fn put<C: ConnectionTrait, T: Serialize>(conn: &C, name: &str, report: &T) -> Result<()> {
    let text =
        serde_json::to_string(report).map_err(|e| SatelliteError::Internal(e.to_string()))?;
    service_report::Entity::insert(service_report::ActiveModel {
        name: Set(name.to_string()),
        report: Set(text),
        updated_at: Set(now_unix()),
    })
    .on_conflict(
        OnConflict::column(service_report::Column::Name)
            .update_columns([
                service_report::Column::Report,
                service_report::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec(conn)
    .await?;
    Ok(())
}

/// The report and when it was written, if any.
pub async fn get<C: ConnectionTrait, T: DeserializeOwned>(
    conn: &C,
    name: &str,
) -> Result<Option<(T, i64)>> {
    let Some(row) = service_report::Entity::find_by_id(name.to_string())
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let report = serde_json::from_str(&row.report)
        .map_err(|e| SatelliteError::Internal(format!("report {name}: {e}")))?;
    Ok(Some((report, row.updated_at)))
}
