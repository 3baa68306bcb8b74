//! Faults to inject into a running network, each made by wrapping a real component.
//!
//! Per node, through one shared handle ([`NodeFaults`]) that every wrapper reads on
//! every operation, so faults change while the network runs: offline and slow links
//! ([`link`], timed by [`shape`]), refused uploads, a full disk, corrupted and lost
//! pieces ([`node_store`]); described as data ([`spec`]), in plan files ([`plan`])
//! with churn over time ([`churn`]), and changeable over a small HTTP API
//! ([`control`]).
//!
//! Finer tools for single tests: a disk that looks full or runs out mid-write
//! ([`disk`]), a piece store that is slow or breaks mid-transfer ([`store`]), and a
//! satellite that answers some calls with errors ([`proxy`]).

pub mod churn;
pub mod control;
pub mod disk;
mod error;
pub mod link;
pub mod node;
pub mod node_store;
pub mod plan;
pub mod proxy;
pub mod shape;
pub mod spec;
pub mod store;

pub use churn::{ChurnAction, ChurnEvent, ChurnSchedule, ChurnSpec};
pub use control::{ControlServer, ControlToken};
pub use disk::{FillingDisk, LimitedSpace};
pub use error::FaultError;
pub use link::{Facing, Link, Target};
pub use node::{Direction, FaultCounts, FaultRegistry, NodeFaults};
pub use node_store::{NodeFaultSpace, NodeFaultStore};
pub use plan::{FaultPlan, PlanFormat};
pub use proxy::FaultyProxy;
pub use spec::{Corrupt, CorruptOn, FaultSpec, Lose, Shape, Slow};
pub use store::{Faults, FaultyStore};
