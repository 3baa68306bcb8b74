//! Accounts and console sessions: who may manage which projects from the web console.
//!
//! API keys authorise data access; console sessions authorise managing projects.
//! They are separate on purpose: a session never reaches object data, and a leaked API
//! key cannot create more keys or change members.

mod accounts;
mod passwords;
mod sessions;

pub use accounts::{Accounts, LoginOutcome};
pub use sessions::{Session, SessionSigner};

use serde::Serialize;

use crate::db::entities::user;

/// A user as the console API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct UserInfo {
    pub id: String,
    pub email: String,
    pub full_name: String,
    pub created_at: i64,
    /// May open the nodes and repair pages.
    pub admin: bool,
}

impl From<&user::Model> for UserInfo {
    fn from(u: &user::Model) -> Self {
        Self {
            id: u.id.clone(),
            email: u.email.clone(),
            full_name: u.full_name.clone(),
            created_at: u.created_at,
            admin: u.is_admin,
        }
    }
}
