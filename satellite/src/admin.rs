//! Operator actions on projects and API keys (the console arrives later and will use
//! the same functions).

use rand::RngCore;
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set};
use uplink_core::access::apikey::ApiKey;
use uplink_core::protocol::now_unix;

use crate::db::entities::{api_key, project};
use crate::error::{Result, SatelliteError};

/// A newly created API key; `serialized` is shown once and never stored.
#[derive(Debug)]
pub struct NewApiKey {
    pub id: String,
    pub project_id: String,
    pub serialized: String,
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

pub async fn create_project(db: &DatabaseConnection, name: &str) -> Result<project::Model> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(SatelliteError::BadRequest(
            "project name must be 1 to 100 characters".into(),
        ));
    }
    Ok(project::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        name: Set(name.to_string()),
        salt: Set(random::<16>().to_vec()),
        created_at: Set(now_unix()),
    }
    .insert(db)
    .await?)
}

pub async fn create_api_key(
    db: &DatabaseConnection,
    project_id: &str,
    name: &str,
) -> Result<NewApiKey> {
    project::Entity::find_by_id(project_id.to_string())
        .one(db)
        .await?
        .ok_or_else(|| SatelliteError::NotFound(format!("project {project_id} does not exist")))?;
    let head = random::<32>();
    let secret = random::<32>();
    let key = ApiKey::new(&head, &secret)
        .map_err(|e| SatelliteError::Internal(format!("creating API key: {e}")))?;
    let row = api_key::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        project_id: Set(project_id.to_string()),
        name: Set(name.to_string()),
        head: Set(head.to_vec()),
        secret: Set(secret.to_vec()),
        created_at: Set(now_unix()),
    }
    .insert(db)
    .await?;
    Ok(NewApiKey {
        id: row.id,
        project_id: row.project_id,
        serialized: key.serialize(),
    })
}

pub async fn list_projects(db: &DatabaseConnection) -> Result<Vec<project::Model>> {
    Ok(project::Entity::find().all(db).await?)
}
