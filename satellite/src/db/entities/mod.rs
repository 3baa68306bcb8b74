//! sea-orm entities, one file per table of the `migrations` crate.

pub mod api_key;
pub mod bucket;
pub mod node;
pub mod object;
pub mod piece_deletion;
pub mod project;
pub mod segment;
