use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "buckets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub created_at: i64,
    /// The cross-origin rules as JSON ([`uplink_core::protocol::cors::CorsRule`]s).
    pub cors: Option<String>,
    /// Set when the bucket keeps object names in clear: its creator's tag
    /// (`uplink_core::crypto::names`).
    pub plain_names_tag: Option<Vec<u8>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
