//! Removes objects whose expiration passed and pending objects never committed; their
//! pieces are queued for deletion on the nodes.

use std::time::Duration;

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};
use uplink_core::protocol::now_unix;

use super::PeriodicJob;
use crate::db::Db;
use crate::db::entities::object;
use crate::error::SatelliteError;
use crate::metainfo::delete_objects;

pub struct ExpiryWorker {
    pub db: Db,
    pub interval: Duration,
    pub batch: u64,
}

#[async_trait::async_trait]
impl PeriodicJob for ExpiryWorker {
    fn name(&self) -> &'static str {
        "expiry"
    }
    fn interval(&self) -> Duration {
        self.interval
    }
    async fn run_once(&self) -> Result<String, SatelliteError> {
        let now = now_unix();
        let mut expired = 0;
        let mut abandoned = 0;
        loop {
            let batch = object::Entity::find()
                .filter(
                    Condition::any()
                        .add(object::Column::ExpiresAt.lte(now))
                        .add(
                            Condition::all()
                                .add(object::Column::Status.eq(object::STATUS_PENDING))
                                .add(object::Column::ZombieDeadline.lte(now)),
                        ),
                )
                .limit(self.batch)
                .all(&self.db)
                .await?;
            if batch.is_empty() {
                break;
            }
            for o in &batch {
                if o.status == object::STATUS_PENDING {
                    abandoned += 1;
                } else {
                    expired += 1;
                }
            }
            delete_objects(&self.db, &batch).await?;
            if (batch.len() as u64) < self.batch {
                break;
            }
        }
        Ok(format!(
            "removed {expired} expired objects and {abandoned} abandoned uploads"
        ))
    }
}
