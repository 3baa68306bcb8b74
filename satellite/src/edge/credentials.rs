//! Registered grants of the hosted edge services, behind one small domain layer.
//!
//! A registration hands the satellite an access grant (the price of a hosted gateway:
//! it can read what the grant can) and returns an S3 access key id and secret. The row
//! keeps neither the id nor anything readable: it is found by a keyed hash of the id and
//! holds the grant and secret sealed under a key derived from the id, so a copy of the
//! database opens nothing without the ids its users hold.

use rand::RngCore;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde::{Deserialize, Serialize};
use uplink_core::crypto::Key;
use uplink_core::crypto::content::{open, seal};
use uplink_core::protocol::metainfo::Sealed;
use uplink_core::protocol::now_unix;
use zeroize::Zeroizing;

use crate::db::Db;
use crate::db::entities::edge_credential;
use crate::error::{Result, SatelliteError};

/// Characters of access key ids (upper-case base32, as S3 ids look).
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const ID_LEN: usize = 28;

/// What a registration stores, sealed.
#[derive(Serialize, Deserialize)]
struct SealedGrant {
    grant: String,
    secret: String,
}

/// A registered grant, opened with its access key id.
#[derive(Clone)]
pub struct Registered {
    pub grant: String,
    pub secret: Zeroizing<String>,
    pub public: bool,
    pub project_id: String,
    pub not_after: Option<i64>,
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("public", &self.public)
            .field("project_id", &self.project_id)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// New credentials: what the user is told once.
#[derive(Clone)]
pub struct Issued {
    pub access_key_id: String,
    pub secret: Zeroizing<String>,
}

fn id_hash(access_key_id: &str) -> Vec<u8> {
    blake3::derive_key(
        "storj-rs edge credential lookup v1",
        access_key_id.as_bytes(),
    )
    .to_vec()
}

fn sealing_key(access_key_id: &str) -> Key {
    Key::from_bytes(blake3::derive_key(
        "storj-rs edge credential sealing v1",
        access_key_id.as_bytes(),
    ))
}

fn random_id() -> String {
    let mut bytes = [0u8; ID_LEN];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

/// Whether a string could be an access key id we issued (cheap check before a lookup).
pub fn plausible_id(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(|b| ALPHABET.contains(&b))
}

/// Stores `grant` (already checked by the caller) and returns its new credentials.
pub async fn register(
    db: &Db,
    grant: &str,
    project_id: &str,
    public: bool,
    not_after: Option<i64>,
) -> Result<Issued> {
    let access_key_id = random_id();
    let mut secret_bytes = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut secret_bytes);
    let secret = Zeroizing::new(hex::encode(secret_bytes));
    let plain = Zeroizing::new(
        serde_json::to_vec(&SealedGrant {
            grant: grant.to_string(),
            secret: secret.to_string(),
        })
        .expect("serializes"),
    );
    let sealed = seal(&sealing_key(&access_key_id), &plain);
    edge_credential::ActiveModel {
        id_hash: Set(id_hash(&access_key_id)),
        sealed_grant: Set(sealed.ciphertext),
        sealed_grant_nonce: Set(sealed.nonce),
        public: Set(public),
        project_id: Set(project_id.to_string()),
        created_at: Set(now_unix()),
        not_after: Set(not_after),
    }
    .insert(db)
    .await?;
    Ok(Issued {
        access_key_id,
        secret,
    })
}

/// The registration behind `access_key_id`, unless there is none or it has passed its
/// not-after time.
pub async fn lookup(db: &Db, access_key_id: &str) -> Result<Option<Registered>> {
    if !plausible_id(access_key_id) {
        return Ok(None);
    }
    let Some(row) = edge_credential::Entity::find_by_id(id_hash(access_key_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if row.not_after.is_some_and(|t| t <= now_unix()) {
        return Ok(None);
    }
    let plain = Zeroizing::new(
        open(
            &sealing_key(access_key_id),
            &Sealed {
                ciphertext: row.sealed_grant,
                nonce: row.sealed_grant_nonce,
            },
        )
        .map_err(|e| SatelliteError::Internal(format!("an edge credential does not open: {e}")))?,
    );
    let opened: SealedGrant = serde_json::from_slice(&plain)
        .map_err(|e| SatelliteError::Internal(format!("an edge credential is malformed: {e}")))?;
    Ok(Some(Registered {
        grant: opened.grant,
        secret: Zeroizing::new(opened.secret),
        public: row.public,
        project_id: row.project_id,
        not_after: row.not_after,
    }))
}
