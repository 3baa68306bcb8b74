use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    /// Salt for passphrase-derived root keys; not secret.
    pub salt: Vec<u8>,
    pub created_at: i64,
    /// The console user who owns it; `None` for projects made with `satellite admin`.
    pub owner_id: Option<String>,
    pub description: String,
    /// Per-project limits; `None` = the satellite's configured default.
    pub max_buckets: Option<i64>,
    pub max_storage_bytes: Option<i64>,
    pub max_egress_bytes: Option<i64>,
    pub max_segments: Option<i64>,
    pub max_requests_per_second: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
