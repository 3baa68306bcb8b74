//! Operator actions on projects and API keys. The rules live in [`crate::projects`],
//! shared with the console.

use sea_orm::EntityTrait;

use crate::db::Db;
use crate::db::entities::project;
use crate::error::Result;

pub use crate::projects::{LimitsUpdate, NewApiKey, create_api_key, set_limits};

/// A project without an owner, managed by the operator.
pub async fn create_project(db: &Db, name: &str) -> Result<project::Model> {
    crate::projects::create_project(db, name, "", None).await
}

pub async fn list_projects(db: &Db) -> Result<Vec<project::Model>> {
    Ok(project::Entity::find().all(db).await?)
}
