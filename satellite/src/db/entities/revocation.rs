use sea_orm::entity::prelude::*;

/// A revoked API key, named by its macaroon signature (its "tail"). A key is refused
/// when any tail along its chain of restrictions is revoked.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "revocations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tail: Vec<u8>,
    pub api_key_id: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
