//! Faults to inject into a running network, each made by wrapping a real component:
//! a disk that looks full or runs out mid-write ([`disk`]), a piece store that is slow
//! or breaks mid-transfer ([`store`]), and a satellite that answers some calls with
//! errors ([`proxy`]).

pub mod disk;
pub mod proxy;
pub mod store;

pub use disk::{FillingDisk, LimitedSpace};
pub use proxy::FaultyProxy;
pub use store::{Faults, FaultyStore};
