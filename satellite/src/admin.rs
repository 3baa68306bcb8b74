//! Operator actions on projects and API keys. The rules live in [`crate::projects`],
//! shared with the console.

use sea_orm::{DatabaseConnection, EntityTrait};

use crate::db::entities::project;
use crate::error::Result;

pub use crate::projects::{LimitsUpdate, NewApiKey, create_api_key, set_limits};

/// A project without an owner, managed by the operator.
pub async fn create_project(db: &DatabaseConnection, name: &str) -> Result<project::Model> {
    crate::projects::create_project(db, name, "", None).await
}

pub async fn list_projects(db: &DatabaseConnection) -> Result<Vec<project::Model>> {
    Ok(project::Entity::find().all(db).await?)
}
