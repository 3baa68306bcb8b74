//! Who may manage a project from the console. Owners manage members and settings;
//! members see usage, buckets and keys, and create keys.
//!
//! A member's API keys leave with the member: a key is a credential its creator may
//! have copied anywhere, so keeping it alive after the creator lost access would keep
//! the creator's access alive too. The owner may instead take the keys over (they are
//! then listed as the owner's), when something depends on them.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use uplink_core::protocol::now_unix;

use crate::db::entities::{api_key, project, project_member, revocation, user};
use crate::db::{Db, write_txn};
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

/// What happens to the API keys a removed member created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberKeys {
    /// Delete them: every grant made from them stops working at once.
    #[default]
    Delete,
    /// Keep them working, recorded as created by the project's owner.
    Reassign,
}

/// What removing a member did to their keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RemovedMember {
    pub keys_deleted: u64,
    pub keys_reassigned: u64,
}

/// Removes a member and deletes or reassigns the API keys they created, in one
/// transaction; the owner cannot be removed.
pub async fn remove_member(
    db: &Db,
    project_id: &str,
    user_id: &str,
    keys: MemberKeys,
) -> Result<RemovedMember> {
    write_txn!(db, |txn| {
        // Under the project's row lock, so no key of the member is created meanwhile
        // (creating a key takes the same lock and checks membership).
        let project = project::Entity::find_by_id(project_id.to_string())
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or_else(|| SatelliteError::NotFound(format!("project {project_id} not found")))?;
        let membership =
            project_member::Entity::find_by_id((project_id.to_string(), user_id.to_string()))
                .one(&txn)
                .await?;
        match membership.as_ref().map(|m| m.role.as_str()) {
            None => {
                return Err(SatelliteError::NotFound(
                    "that user is not a member of this project".into(),
                ));
            }
            Some(project_member::ROLE_OWNER) => {
                return Err(SatelliteError::Conflict(
                    "the project's owner cannot be removed".into(),
                ));
            }
            Some(_) => {}
        }
        project_member::Entity::delete_by_id((project_id.to_string(), user_id.to_string()))
            .exec(&txn)
            .await?;
        let theirs = api_key::Column::ProjectId
            .eq(project_id)
            .and(api_key::Column::CreatedBy.eq(user_id));
        let mut removed = RemovedMember::default();
        match keys {
            MemberKeys::Delete => {
                let ids: Vec<String> = api_key::Entity::find()
                    .select_only()
                    .column(api_key::Column::Id)
                    .filter(theirs.clone())
                    .into_tuple()
                    .all(&txn)
                    .await?;
                if !ids.is_empty() {
                    revocation::Entity::delete_many()
                        .filter(revocation::Column::ApiKeyId.is_in(ids))
                        .exec(&txn)
                        .await?;
                    removed.keys_deleted = api_key::Entity::delete_many()
                        .filter(theirs)
                        .exec(&txn)
                        .await?
                        .rows_affected;
                }
            }
            MemberKeys::Reassign => {
                removed.keys_reassigned = api_key::Entity::update_many()
                    .col_expr(api_key::Column::CreatedBy, Expr::value(project.owner_id))
                    .filter(theirs)
                    .exec(&txn)
                    .await?
                    .rows_affected;
            }
        }
        Ok(removed)
    })
}
