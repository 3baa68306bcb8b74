//! Operator actions on projects, API keys and administrator accounts. The rules live in [`crate::projects`],
//! shared with the console.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::db::Db;
use crate::db::entities::{project, user};
use crate::error::{Result, SatelliteError};

pub use crate::projects::{LimitsUpdate, NewApiKey, create_api_key, set_limits};

/// A project without an owner, managed by the operator.
pub async fn create_project(db: &Db, name: &str) -> Result<project::Model> {
    crate::projects::create_project(db, name, "", None).await
}

pub async fn list_projects(db: &Db) -> Result<Vec<project::Model>> {
    Ok(project::Entity::find().all(db).await?)
}

/// Makes the account with `email` an administrator of this satellite's console (or, with
/// `admin` false, no longer one). Its open sessions see the change on their next request.
pub async fn set_admin(db: &Db, email: &str, admin: bool) -> Result<user::Model> {
    let email = email.trim().to_lowercase();
    let found = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(db)
        .await?
        .ok_or_else(|| {
            SatelliteError::NotFound(format!(
                "no account with the email {email}: sign up in the console first"
            ))
        })?;
    let mut active: user::ActiveModel = found.into();
    active.is_admin = Set(admin);
    Ok(active.update(db).await?)
}
