use sea_orm::entity::prelude::*;

/// Consecutive failed logins per email address (stored as a hash: attempts on
/// addresses without an account are throttled the same way, and not recorded in clear).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_failures")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub email_hash: String,
    pub failures: i32,
    pub last_failure_at: i64,
    pub locked_until: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
