use sea_orm::entity::prelude::*;

/// Audit reputation of one node (beta model: alpha and beta with forgetting).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "reputations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub node_id: Vec<u8>,
    pub audit_alpha: f64,
    pub audit_beta: f64,
    pub unknown_alpha: f64,
    pub unknown_beta: f64,
    pub audits_total: i64,
    pub audits_success: i64,
    pub audits_failed: i64,
    pub audits_offline: i64,
    pub audits_unknown: i64,
    pub last_audit_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
