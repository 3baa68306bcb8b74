use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "edge_credentials")]
pub struct Model {
    /// Keyed hash of the access key id (the id itself is never stored).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id_hash: Vec<u8>,
    /// The grant and the S3 secret, sealed under a key derived from the access key id;
    /// read and written only through `crate::edge::credentials`.
    pub sealed_grant: Vec<u8>,
    pub sealed_grant_nonce: Vec<u8>,
    pub public: bool,
    pub project_id: String,
    pub created_at: i64,
    pub not_after: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
