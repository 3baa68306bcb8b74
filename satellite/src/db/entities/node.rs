use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "nodes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Vec<u8>,
    pub public_key: Vec<u8>,
    pub address: String,
    /// The node's /24 (IPv4) or /64 (IPv6) network: one piece per segment per network.
    pub last_net: String,
    pub free_bytes: i64,
    pub used_bytes: i64,
    pub version: String,
    pub created_at: i64,
    pub last_contact_success: i64,
    pub last_contact_failure: Option<i64>,
    pub vetted_at: Option<i64>,
    pub disqualified_at: Option<i64>,
    pub suspended_at: Option<i64>,
    pub exit_initiated_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
