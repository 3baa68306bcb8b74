//! Mirrors of the console's JSON request bodies.
//!
//! The satellite's body types are private to its HTTP handlers, so these copy their
//! fields and serde attributes (`satellite/src/api/console.rs`); they must change with
//! them. Fuzzing them checks the decoding the console relies on, not the handlers.

use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct SignupBody {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub full_name: String,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct PasswordBody {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectBody {
    pub name: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberBody {
    pub email: String,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyBody {
    pub name: String,
}

/// As the console's listing pages.
pub const MAX_PAGE: u64 = 1_000_000;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Paging {
    pub page: Option<u64>,
    pub limit: Option<u64>,
}

impl Paging {
    /// As the console resolves it.
    pub fn resolve(&self) -> (u64, u64) {
        (
            self.page.unwrap_or(1).clamp(1, MAX_PAGE),
            self.limit.unwrap_or(20).clamp(1, 100),
        )
    }
}
