use sea_orm::entity::prelude::*;

/// A node's request to leave the network, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "graceful_exits")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub node_id: Vec<u8>,
    pub initiated_at: i64,
    pub finished_at: Option<i64>,
    pub success: Option<bool>,
    pub pieces_at_start: i64,
    pub reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
