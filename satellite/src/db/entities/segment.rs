use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "segments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub object_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    /// `SegmentPosition::encode`: part << 32 | index.
    pub position: i64,
    pub root_piece_id: Option<Vec<u8>>,
    pub encrypted_key: Vec<u8>,
    pub encrypted_key_nonce: Vec<u8>,
    pub plain_offset: i64,
    pub plain_size: i64,
    pub piece_size: i64,
    pub rs_k: i16,
    pub rs_repair: i16,
    pub rs_optimal: i16,
    pub rs_total: i16,
    pub rs_share_size: i32,
    pub inline_data: Option<Vec<u8>>,
    /// postcard-encoded piece list; read and written only through `crate::metabase`.
    pub pieces: Vec<u8>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub repaired_at: Option<i64>,
    /// A multipart part's ETag, sealed by the uplink; on the part's last segment only.
    pub encrypted_etag: Option<Vec<u8>>,
    pub encrypted_etag_nonce: Option<Vec<u8>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
