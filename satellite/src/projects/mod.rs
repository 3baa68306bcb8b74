//! Projects, their members and their API keys: shared by the console API and the
//! operator's `satellite admin` commands, so both enforce the same rules.

mod api_keys;
mod members;

pub use api_keys::{
    KeyCreator, ListedApiKey, NewApiKey, create_api_key, create_api_key_by, delete_api_key,
    list_api_keys,
};
pub use members::{
    Member, MemberKeys, RemovedMember, add_member, list_members, remove_member, role_of,
};

use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uplink_core::protocol::now_unix;

use crate::db::Db;
use crate::db::entities::{api_key, bucket, project, project_member, revocation, user};
use crate::db::write_txn;
use crate::error::{Result, SatelliteError};

pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

fn clean_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(SatelliteError::BadRequest(
            "project name must be 1 to 100 characters".into(),
        ));
    }
    Ok(name.to_string())
}

fn clean_description(description: &str) -> Result<String> {
    let description = description.trim();
    if description.chars().count() > 500 {
        return Err(SatelliteError::BadRequest(
            "project description must be at most 500 characters".into(),
        ));
    }
    Ok(description.to_string())
}

/// Who creates a project from the console, and how many they may own.
#[derive(Clone, Copy, Debug)]
pub struct Owner<'a> {
    pub user_id: &'a str,
    pub max_owned: u64,
}

/// Creates a project; with an owner, the owner becomes its first member, provided they
/// own fewer than `max_owned` projects (counted and inserted atomically, so racing
/// creations cannot exceed the limit).
pub async fn create_project(
    db: &Db,
    name: &str,
    description: &str,
    owner: Option<Owner<'_>>,
) -> Result<project::Model> {
    let now = now_unix();
    let model = project::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        name: Set(clean_name(name)?),
        salt: Set(random::<16>().to_vec()),
        created_at: Set(now),
        owner_id: Set(owner.map(|o| o.user_id.to_string())),
        description: Set(clean_description(description)?),
        max_buckets: Set(None),
        max_storage_bytes: Set(None),
        max_egress_bytes: Set(None),
        max_segments: Set(None),
        max_requests_per_second: Set(None),
    };
    write_txn!(db, |txn| {
        if let Some(owner) = owner {
            // The owner's row lock serialises their creations on PostgreSQL.
            user::Entity::find_by_id(owner.user_id.to_string())
                .lock_exclusive()
                .one(&txn)
                .await?
                .ok_or_else(|| SatelliteError::NotFound("the account does not exist".into()))?;
            let max = owner.max_owned;
            if owned_count(&txn, owner.user_id).await? >= max {
                return Err(SatelliteError::LimitExceeded(format!(
                    "you already own {max} projects, the most this satellite allows"
                )));
            }
        }
        let project = model.clone().insert(&txn).await?;
        if let Some(owner) = owner {
            project_member::ActiveModel {
                project_id: Set(project.id.clone()),
                user_id: Set(owner.user_id.to_string()),
                role: Set(project_member::ROLE_OWNER.into()),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
        Ok(project)
    })
}

pub async fn get_project(db: &Db, project_id: &str) -> Result<project::Model> {
    project::Entity::find_by_id(project_id.to_string())
        .one(db)
        .await?
        .ok_or_else(|| SatelliteError::NotFound(format!("project {project_id} does not exist")))
}

/// Projects the user belongs to, with the user's role in each, oldest first.
pub async fn projects_of_user(db: &Db, user_id: &str) -> Result<Vec<(project::Model, String)>> {
    let memberships = project_member::Entity::find()
        .filter(project_member::Column::UserId.eq(user_id))
        .all(db)
        .await?;
    let ids: Vec<String> = memberships.iter().map(|m| m.project_id.clone()).collect();
    let projects = project::Entity::find()
        .filter(project::Column::Id.is_in(ids))
        .order_by_asc(project::Column::CreatedAt)
        .order_by_asc(project::Column::Id)
        .all(db)
        .await?;
    Ok(projects
        .into_iter()
        .filter_map(|p| {
            let role = memberships
                .iter()
                .find(|m| m.project_id == p.id)?
                .role
                .clone();
            Some((p, role))
        })
        .collect())
}

/// How many projects a user owns.
pub async fn owned_count<C: ConnectionTrait>(db: &C, user_id: &str) -> Result<u64> {
    Ok(project_member::Entity::find()
        .filter(project_member::Column::UserId.eq(user_id))
        .filter(project_member::Column::Role.eq(project_member::ROLE_OWNER))
        .count(db)
        .await?)
}

pub async fn update_project(
    db: &Db,
    project_id: &str,
    name: Option<&str>,
    description: Option<&str>,
) -> Result<project::Model> {
    let mut active: project::ActiveModel = get_project(db, project_id).await?.into();
    if let Some(name) = name {
        active.name = Set(clean_name(name)?);
    }
    if let Some(description) = description {
        active.description = Set(clean_description(description)?);
    }
    Ok(active.update(db).await?)
}

/// Deletes a project with no buckets, with its keys, revocations and memberships.
pub async fn delete_project(db: &Db, project_id: &str) -> Result<()> {
    write_txn!(db, |txn| {
        let buckets = bucket::Entity::find()
            .filter(bucket::Column::ProjectId.eq(project_id))
            .count(&txn)
            .await?;
        if buckets > 0 {
            return Err(SatelliteError::Conflict(format!(
                "the project still has {buckets} bucket(s); delete them first"
            )));
        }
        let keys: Vec<String> = api_key::Entity::find()
            .filter(api_key::Column::ProjectId.eq(project_id))
            .all(&txn)
            .await?
            .into_iter()
            .map(|k| k.id)
            .collect();
        revocation::Entity::delete_many()
            .filter(revocation::Column::ApiKeyId.is_in(keys))
            .exec(&txn)
            .await?;
        api_key::Entity::delete_many()
            .filter(api_key::Column::ProjectId.eq(project_id))
            .exec(&txn)
            .await?;
        project_member::Entity::delete_many()
            .filter(project_member::Column::ProjectId.eq(project_id))
            .exec(&txn)
            .await?;
        project::Entity::delete_by_id(project_id.to_string())
            .exec(&txn)
            .await?;
        Ok(())
    })
}

/// Sets a project's own limits; `None` leaves a value as it is.
#[derive(Clone, Copy, Debug, Default)]
pub struct LimitsUpdate {
    pub buckets: Option<u64>,
    pub storage_bytes: Option<u64>,
    pub egress_bytes: Option<u64>,
    pub segments: Option<u64>,
    pub requests_per_second: Option<u64>,
}

pub async fn set_limits(db: &Db, project_id: &str, update: LimitsUpdate) -> Result<project::Model> {
    let mut active: project::ActiveModel = get_project(db, project_id).await?.into();
    let as_i64 = |v: u64| Some(i64::try_from(v).unwrap_or(i64::MAX));
    if let Some(v) = update.buckets {
        active.max_buckets = Set(as_i64(v));
    }
    if let Some(v) = update.storage_bytes {
        active.max_storage_bytes = Set(as_i64(v));
    }
    if let Some(v) = update.egress_bytes {
        active.max_egress_bytes = Set(as_i64(v));
    }
    if let Some(v) = update.segments {
        active.max_segments = Set(as_i64(v));
    }
    if let Some(v) = update.requests_per_second {
        active.max_requests_per_second = Set(as_i64(v));
    }
    Ok(active.update(db).await?)
}
