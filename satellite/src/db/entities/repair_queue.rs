use sea_orm::entity::prelude::*;

/// A segment waiting for repair; `leased_by`/`leased_until` while a worker has it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "repair_queue")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub object_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    /// `SegmentPosition::encode`: part << 32 | index.
    pub position: i64,
    pub healthy: i16,
    pub inserted_at: i64,
    pub updated_at: i64,
    pub leased_by: Option<String>,
    pub leased_until: Option<i64>,
    pub attempts: i32,
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
