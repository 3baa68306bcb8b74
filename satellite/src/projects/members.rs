//! Who may manage a project from the console. Owners manage members and settings;
//! members see usage, buckets and keys, and create keys.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::Serialize;
use uplink_core::protocol::now_unix;

use crate::db::Db;
use crate::db::entities::{project_member, user};
use crate::error::{Result, SatelliteError, is_unique_violation};

#[derive(Clone, Debug, Serialize)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub full_name: String,
    pub role: String,
    pub added_at: i64,
}

/// The user's role in the project, if they belong to it.
pub async fn role_of(db: &Db, project_id: &str, user_id: &str) -> Result<Option<String>> {
    Ok(
        project_member::Entity::find_by_id((project_id.to_string(), user_id.to_string()))
            .one(db)
            .await?
            .map(|m| m.role),
    )
}

pub async fn list_members(db: &Db, project_id: &str) -> Result<Vec<Member>> {
    let rows = project_member::Entity::find()
        .filter(project_member::Column::ProjectId.eq(project_id))
        .order_by_asc(project_member::Column::CreatedAt)
        .all(db)
        .await?;
    let ids: Vec<String> = rows.iter().map(|m| m.user_id.clone()).collect();
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|m| {
            let u = users.iter().find(|u| u.id == m.user_id)?;
            Some(Member {
                user_id: m.user_id,
                email: u.email.clone(),
                full_name: u.full_name.clone(),
                role: m.role,
                added_at: m.created_at,
            })
        })
        .collect())
}

/// Adds the account with this email as a member.
pub async fn add_member(db: &Db, project_id: &str, email: &str) -> Result<Member> {
    let email = email.trim().to_lowercase();
    let account = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(db)
        .await?
        .ok_or_else(|| {
            SatelliteError::NotFound(format!(
                "there is no account for {email}; ask them to sign up first"
            ))
        })?;
    let now = now_unix();
    project_member::ActiveModel {
        project_id: Set(project_id.to_string()),
        user_id: Set(account.id.clone()),
        role: Set(project_member::ROLE_MEMBER.into()),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            SatelliteError::Conflict(format!("{email} is already a member of this project"))
        } else {
            e.into()
        }
    })?;
    Ok(Member {
        user_id: account.id,
        email: account.email,
        full_name: account.full_name,
        role: project_member::ROLE_MEMBER.into(),
        added_at: now,
    })
}

/// Removes a member; the owner cannot be removed.
pub async fn remove_member(db: &Db, project_id: &str, user_id: &str) -> Result<()> {
    match role_of(db, project_id, user_id).await?.as_deref() {
        None => Err(SatelliteError::NotFound(
            "that user is not a member of this project".into(),
        )),
        Some(project_member::ROLE_OWNER) => Err(SatelliteError::Conflict(
            "the project's owner cannot be removed".into(),
        )),
        Some(_) => {
            project_member::Entity::delete_by_id((project_id.to_string(), user_id.to_string()))
                .exec(db)
                .await?;
            Ok(())
        }
    }
}
