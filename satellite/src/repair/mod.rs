//! Repair: keeping every segment at its scheme's `optimal` piece count.
//!
//! The checker (an observer of the segment loop) counts each segment's healthy pieces
//! by the rules of [`health`] and queues those at or below the repair threshold; repair
//! workers take queued segments under a lease, rebuild the missing pieces from `k`
//! verified ones without decrypting anything, upload them to new nodes and swap the
//! segment's piece set only if it did not change meanwhile.

pub mod config;
pub mod health;

pub use config::RepairConfig;
pub mod checker;
pub mod queue;
pub mod worker;

pub use worker::{Outcome, RepairWorker, Repairer};
