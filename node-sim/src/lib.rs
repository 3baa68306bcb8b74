//! The storage node, and a simulator that runs whole networks on one machine.
//!
//! - [`node`]: a real storage node (piece store, order verification, HTTP API, check-in).
//! - [`sim`]: local networks of a satellite and many nodes, and the benchmark.

pub mod node;
pub mod sim;
