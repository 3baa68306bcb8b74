use sea_orm::entity::prelude::*;

/// A node that timed out on an audit, and the piece it must still answer for.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "containment")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub node_id: Vec<u8>,
    pub object_id: String,
    /// `SegmentPosition::encode`: part << 32 | index.
    pub position: i64,
    pub piece_num: i16,
    pub attempts: i32,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
