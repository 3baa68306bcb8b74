//! Buckets, objects and segments: the metadata half of every upload and download.
//!
//! The satellite only ever sees encrypted object keys, sealed segment keys and sealed
//! metadata; it decides where pieces go, signs the limits that let uplinks move them,
//! and verifies the nodes' receipts before it records a piece.

mod abort;
mod buckets;
mod copy;
mod delete;
mod download;
mod listing;
mod multipart;
mod retry;
mod upload;

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uplink_core::protocol::metainfo::{NameMode, ObjectInfo, ObjectStatus, Sealed};
use uplink_core::protocol::{RedundancyScheme, now_unix};

use crate::auth::Caller;
use crate::db::Db;
use crate::db::entities::{bucket, object, piece_deletion};
use crate::error::{Result, SatelliteError};
use crate::metabase::{Segment, segments};
use crate::metrics::Metrics;
use crate::orders::OrderSigner;
use crate::overlay::Overlay;
use crate::tokens::TokenSigner;

pub(crate) use abort::queue_assigned_pieces;
pub use delete::delete_objects;

/// The parts of the configuration metainfo needs.
#[derive(Clone, Debug)]
pub struct MetainfoConfig {
    pub redundancy: RedundancyScheme,
    pub max_segment_size: u64,
    pub max_inline_size: u64,
    pub pending_object_expiration: Duration,
    /// Lifetime of upload and download tokens.
    pub token_expiration: Duration,
    pub download_extra: Option<u16>,
}

impl MetainfoConfig {
    fn download_extra(&self, k: u16) -> u16 {
        self.download_extra.unwrap_or((k / 3).max(2))
    }
}

pub struct Metainfo {
    db: Db,
    overlay: Arc<Overlay>,
    orders: OrderSigner,
    tokens: TokenSigner,
    config: MetainfoConfig,
    metrics: Metrics,
}

impl std::fmt::Debug for Metainfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metainfo")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Longest encrypted object key accepted.
const MAX_ENCRYPTED_KEY_LEN: usize = 4096;

impl Metainfo {
    pub fn new(
        db: Db,
        overlay: Arc<Overlay>,
        orders: OrderSigner,
        tokens: TokenSigner,
        config: MetainfoConfig,
        metrics: Metrics,
    ) -> Self {
        Self {
            db,
            overlay,
            orders,
            tokens,
            config,
            metrics,
        }
    }

    pub fn config(&self) -> &MetainfoConfig {
        &self.config
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    fn token_expiration(&self) -> i64 {
        now_unix() + self.config.token_expiration.as_secs() as i64
    }

    async fn require_bucket(&self, project_id: &str, name: &str) -> Result<bucket::Model> {
        bucket::Entity::find_by_id((project_id.to_string(), name.to_string()))
            .one(&self.db)
            .await?
            .ok_or_else(|| SatelliteError::BucketNotFound(name.to_string()))
    }

    /// How a project's bucket keeps its object names (for the console, whose session
    /// was checked against the project's members).
    pub async fn bucket_names_of(&self, project_id: &str, name: &str) -> Result<NameMode> {
        Ok(bucket_names(&self.require_bucket(project_id, name).await?))
    }

    /// The bucket of a request that names objects in it: the request must write names
    /// the way the bucket keeps them.
    async fn require_names(&self, caller: &Caller, name: &str) -> Result<bucket::Model> {
        let row = self.require_bucket(&caller.project_id, name).await?;
        check_names(caller.names, &row)?;
        Ok(row)
    }

    /// The committed, unexpired object at a key.
    async fn committed_object(
        &self,
        project_id: &str,
        bucket: &str,
        encrypted_key: &str,
    ) -> Result<object::Model> {
        let obj = object::Entity::find()
            .filter(object::Column::ProjectId.eq(project_id))
            .filter(object::Column::BucketName.eq(bucket))
            .filter(object::Column::ObjectKey.eq(encrypted_key.as_bytes().to_vec()))
            .filter(object::Column::Status.eq(object::STATUS_COMMITTED))
            .one(&self.db)
            .await?
            .ok_or(SatelliteError::ObjectNotFound)?;
        if obj.expires_at.is_some_and(|t| t <= now_unix()) {
            return Err(SatelliteError::ObjectNotFound);
        }
        Ok(obj)
    }
}

/// Every committed object at a key (on `conn`, inside the caller's transaction): what a
/// commit or a copy to that key replaces.
async fn committed_at<C: ConnectionTrait>(
    conn: &C,
    project_id: &str,
    bucket: &str,
    encrypted_key: &[u8],
) -> Result<Vec<object::Model>> {
    Ok(object::Entity::find()
        .filter(object::Column::ProjectId.eq(project_id))
        .filter(object::Column::BucketName.eq(bucket))
        .filter(object::Column::ObjectKey.eq(encrypted_key.to_vec()))
        .filter(object::Column::Status.eq(object::STATUS_COMMITTED))
        .all(conn)
        .await?)
}

/// Checks an S3-style bucket name, so that names also work in gateways and URLs.
pub fn validate_bucket_name(name: &str) -> Result<()> {
    let bad =
        |why: &str| SatelliteError::BadRequest(format!("invalid bucket name {name:?}: {why}"));
    if name.len() < 3 || name.len() > 63 {
        return Err(bad("must be 3 to 63 characters long"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        return Err(bad(
            "only lowercase letters, digits, '-' and '.' are allowed",
        ));
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[name.len() - 1];
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Err(bad("must start and end with a letter or digit"));
    }
    if name.contains("..") {
        return Err(bad("must not contain '..'"));
    }
    Ok(())
}

fn validate_encrypted_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(SatelliteError::BadRequest(
            "object key must not be empty".into(),
        ));
    }
    if key.len() > MAX_ENCRYPTED_KEY_LEN {
        return Err(SatelliteError::BadRequest(format!(
            "encrypted object key of {} bytes exceeds the maximum of {MAX_ENCRYPTED_KEY_LEN}",
            key.len()
        )));
    }
    Ok(())
}

fn validate_sealed(what: &str, sealed: &Sealed, max: usize) -> Result<()> {
    if sealed.ciphertext.len() > max || sealed.nonce.len() > 64 {
        return Err(SatelliteError::BadRequest(format!("{what} is too large")));
    }
    Ok(())
}

fn object_info(obj: &object::Model) -> ObjectInfo {
    ObjectInfo {
        bucket: obj.bucket_name.clone(),
        encrypted_key: String::from_utf8_lossy(&obj.object_key).into_owned(),
        object_id: obj.id.clone(),
        status: if obj.status == object::STATUS_COMMITTED {
            ObjectStatus::Committed
        } else {
            ObjectStatus::Pending
        },
        created_at: obj.created_at,
        expires_at: obj.expires_at,
        plain_size: obj.plain_size.max(0) as u64,
        segment_count: obj.segment_count.max(0) as u32,
        encrypted_metadata: sealed_metadata(obj),
    }
}

fn sealed_metadata(obj: &object::Model) -> Option<Sealed> {
    match (&obj.encrypted_metadata, &obj.encrypted_metadata_nonce) {
        (Some(c), Some(n)) => Some(Sealed {
            ciphertext: c.clone(),
            nonce: n.clone(),
        }),
        _ => None,
    }
}

/// Queues the remote pieces of `segments` (rows being deleted) for deletion on their
/// nodes, except where a segment of another object still names the same root piece
/// id: a server-side copy shares its source's pieces.
async fn queue_piece_deletions<C: ConnectionTrait>(
    conn: &C,
    segments: &[Segment],
) -> Result<usize> {
    let now = now_unix();
    let owners: Vec<String> = segments
        .iter()
        .map(|s| s.key.object_id.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let roots: Vec<_> = segments
        .iter()
        .filter_map(|s| Some(s.remote()?.root_piece_id))
        .collect();
    let shared = segments::roots_named_elsewhere(conn, &roots, &owners).await?;
    let kept: Vec<Segment> = segments
        .iter()
        .filter(|s| {
            s.remote()
                .is_some_and(|r| !shared.contains(&r.root_piece_id))
        })
        .cloned()
        .collect();
    let rows: Vec<piece_deletion::ActiveModel> = segments::piece_ids(&kept)
        .map(|(piece, id)| piece_deletion::ActiveModel {
            node_id: Set(piece.node.0.to_vec()),
            piece_id: Set(id.0.to_vec()),
            created_at: Set(now),
            attempts: Set(0),
            ..Default::default()
        })
        .collect();
    let count = rows.len();
    // Insert in chunks to stay under bind-parameter limits.
    for chunk in rows.chunks(500) {
        piece_deletion::Entity::insert_many(chunk.to_vec())
            .exec(conn)
            .await?;
    }
    Ok(count)
}

/// How a bucket keeps its object names.
pub(crate) fn bucket_names(row: &bucket::Model) -> NameMode {
    if row.plain_names_tag.is_some() {
        NameMode::Plain
    } else {
        NameMode::Encrypted
    }
}

/// Refuses a request whose names are written `names` in a bucket that keeps them the
/// other way: stored, such a name would be unreadable (or, in clear, disclosed).
pub(crate) fn check_names(names: NameMode, row: &bucket::Model) -> Result<()> {
    let kept = bucket_names(row);
    if kept == names {
        return Ok(());
    }
    Err(SatelliteError::NameModeMismatch(format!(
        "the bucket keeps its object names {}, but this request's names are {}; nothing was \
         done (was the bucket made again since this client last looked?)",
        kept.describe(),
        names.describe()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for good in ["abc", "my-bucket.2026", "a1b"] {
            validate_bucket_name(good).unwrap();
        }
        for bad in [
            "ab",
            "Upper",
            "-abc",
            "abc-",
            "a..b",
            "a_b",
            &"x".repeat(64),
        ] {
            assert!(validate_bucket_name(bad).is_err(), "{bad}");
        }
    }
}
