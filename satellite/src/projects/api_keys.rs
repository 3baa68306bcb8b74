//! API keys: macaroons whose root secret stays in the satellite database.
//!
//! Deleting a key's row makes every grant derived from it unknown at once, since a
//! derived key carries the same head and can only be verified with that secret.
//!
//! A key made in the console records its creator, so that a member's keys leave with
//! the member (see [`super::remove_member`]); keys made by operators have none.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::Serialize;
use uplink_core::access::apikey::ApiKey;
use uplink_core::protocol::now_unix;

use super::random;
use crate::db::Db;
use crate::db::entities::{api_key, project, project_member, revocation, user};
use crate::db::write_txn;
use crate::error::{Result, SatelliteError};

/// A newly created API key; `serialized` is shown once and never stored.
#[derive(Debug)]
pub struct NewApiKey {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub created_at: i64,
    pub created_by: Option<String>,
    pub serialized: String,
}

/// Creates a key with no creator, as operators do (`satellite admin`).
pub async fn create_api_key(db: &Db, project_id: &str, name: &str) -> Result<NewApiKey> {
    create_api_key_by(db, project_id, name, None).await
}

/// Creates a key; with `creator`, that user must be a member of the project when the
/// key is inserted (checked under the project's row lock, so a key cannot slip in
/// beside a concurrent removal of its creator).
pub async fn create_api_key_by(
    db: &Db,
    project_id: &str,
    name: &str,
    creator: Option<&str>,
) -> Result<NewApiKey> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(SatelliteError::BadRequest(
            "API key name must be 1 to 100 characters".into(),
        ));
    }
    let head = random::<32>();
    let secret = random::<32>();
    let key = ApiKey::new(&head, &secret)
        .map_err(|e| SatelliteError::Internal(format!("creating API key: {e}")))?;
    let row = write_txn!(db, |txn| {
        // Names are unique per project: check and insert under the project's row lock.
        project::Entity::find_by_id(project_id.to_string())
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or_else(|| {
                SatelliteError::NotFound(format!("project {project_id} does not exist"))
            })?;
        if let Some(user_id) = creator {
            project_member::Entity::find_by_id((project_id.to_string(), user_id.to_string()))
                .one(&txn)
                .await?
                .ok_or_else(|| {
                    SatelliteError::NotFound(format!("project {project_id} not found"))
                })?;
        }
        let existing = api_key::Entity::find()
            .filter(api_key::Column::ProjectId.eq(project_id))
            .filter(api_key::Column::Name.eq(name))
            .count(&txn)
            .await?;
        if existing > 0 {
            return Err(SatelliteError::Conflict(format!(
                "the project already has an API key named {name:?}"
            )));
        }
        Ok(api_key::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            project_id: Set(project_id.to_string()),
            name: Set(name.to_string()),
            head: Set(head.to_vec()),
            secret: Set(secret.to_vec()),
            created_at: Set(now_unix()),
            created_by: Set(creator.map(str::to_string)),
        }
        .insert(&txn)
        .await?)
    })?;
    Ok(NewApiKey {
        id: row.id,
        project_id: row.project_id,
        name: row.name,
        created_at: row.created_at,
        created_by: row.created_by,
        serialized: key.serialize(),
    })
}

/// Who created a key, as the console shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyCreator {
    pub user_id: String,
    /// `None` only if the account no longer exists.
    pub email: Option<String>,
}

/// A key as listed: never its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListedApiKey {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    /// `None` for keys made by operators.
    pub created_by: Option<KeyCreator>,
}

/// One page (1-based) of a project's keys, newest first, with their creators, and the
/// total count.
pub async fn list_api_keys(
    db: &Db,
    project_id: &str,
    page: u64,
    per_page: u64,
) -> Result<(Vec<ListedApiKey>, u64)> {
    let paginator = api_key::Entity::find()
        .filter(api_key::Column::ProjectId.eq(project_id))
        .order_by_desc(api_key::Column::CreatedAt)
        .order_by_asc(api_key::Column::Id)
        .paginate(db, per_page.max(1));
    let total = paginator.num_items().await?;
    let items = paginator.fetch_page(page.max(1) - 1).await?;
    let creator_ids: Vec<String> = items.iter().filter_map(|k| k.created_by.clone()).collect();
    let creators = if creator_ids.is_empty() {
        Vec::new()
    } else {
        user::Entity::find()
            .filter(user::Column::Id.is_in(creator_ids))
            .all(db)
            .await?
    };
    let listed = items
        .into_iter()
        .map(|k| ListedApiKey {
            created_by: k.created_by.map(|user_id| KeyCreator {
                email: creators
                    .iter()
                    .find(|u| u.id == user_id)
                    .map(|u| u.email.clone()),
                user_id,
            }),
            id: k.id,
            name: k.name,
            created_at: k.created_at,
        })
        .collect();
    Ok((listed, total))
}

/// Deletes a key of the project; every grant made from it is refused from then on.
pub async fn delete_api_key(db: &Db, project_id: &str, key_id: &str) -> Result<()> {
    write_txn!(db, |txn| {
        let deleted = api_key::Entity::delete_many()
            .filter(api_key::Column::Id.eq(key_id))
            .filter(api_key::Column::ProjectId.eq(project_id))
            .exec(&txn)
            .await?;
        if deleted.rows_affected == 0 {
            return Err(SatelliteError::NotFound(format!(
                "API key {key_id} does not exist in this project"
            )));
        }
        revocation::Entity::delete_many()
            .filter(revocation::Column::ApiKeyId.eq(key_id))
            .exec(&txn)
            .await?;
        Ok(())
    })
}
