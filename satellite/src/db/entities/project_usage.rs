use sea_orm::entity::prelude::*;

/// Live counters of a project's committed segments and their plaintext bytes (pending
/// uploads included), changed in the transactions that add and remove segments.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "project_usage")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: String,
    pub storage_bytes: i64,
    pub segments: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
