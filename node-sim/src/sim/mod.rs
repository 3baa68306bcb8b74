//! Whole networks on one machine: a satellite and many storage nodes, node `i` on
//! `127.0.i.1` so that the one-node-per-/24 selection rule holds locally.
//!
//! The same [`Network`] serves `node-sim network up`, the end-to-end tests and the
//! benchmark, so what the tests exercise is what users run.

pub mod bench;
pub mod bench_keeping;
pub mod durability;
pub mod faults;
pub mod load;
pub mod network;

pub use network::{Network, NetworkConfig, NodeSlot, SimError};
