//! sea-orm entities, one file per table of the `migrations` crate.

pub mod api_key;
pub mod bucket;
pub mod containment;
pub mod edge_credential;
pub mod graceful_exit;
pub mod lease;
pub mod login_failure;
pub mod node;
pub mod object;
pub mod piece_deletion;
pub mod project;
pub mod project_egress;
pub mod project_member;
pub mod project_usage;
pub mod repair_log;
pub mod repair_queue;
pub mod reputation;
pub mod revocation;
pub mod segment;
pub mod service_report;
pub mod session;
pub mod user;
