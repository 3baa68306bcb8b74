use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "piece_deletions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub node_id: Vec<u8>,
    pub piece_id: Vec<u8>,
    pub created_at: i64,
    pub attempts: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
