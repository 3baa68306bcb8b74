//! sea-orm entities, one file per table of the `migrations` crate.

pub mod api_key;
pub mod bucket;
pub mod login_failure;
pub mod node;
pub mod object;
pub mod piece_deletion;
pub mod project;
pub mod project_egress;
pub mod project_member;
pub mod project_usage;
pub mod revocation;
pub mod segment;
pub mod session;
pub mod user;
