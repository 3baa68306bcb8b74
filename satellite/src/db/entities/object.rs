use sea_orm::entity::prelude::*;

pub const STATUS_PENDING: i16 = 1;
pub const STATUS_COMMITTED: i16 = 2;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "objects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub project_id: String,
    pub bucket_name: String,
    /// Encrypted object key (ASCII ciphertext; compared bytewise).
    pub object_key: Vec<u8>,
    pub status: i16,
    pub created_at: i64,
    pub committed_at: Option<i64>,
    /// When the object disappears (user-set TTL).
    pub expires_at: Option<i64>,
    /// When a pending object that was never committed is removed.
    pub zombie_deadline: Option<i64>,
    pub plain_size: i64,
    pub segment_count: i32,
    pub encrypted_metadata: Option<Vec<u8>>,
    pub encrypted_metadata_nonce: Option<Vec<u8>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
