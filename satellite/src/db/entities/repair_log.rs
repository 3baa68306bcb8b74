use sea_orm::entity::prelude::*;

/// One completed repair, for "repaired per hour".
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "repair_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub repaired_at: i64,
    pub pieces_uploaded: i32,
    pub bytes_transferred: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
