//! End-to-end tests: whole networks started in this process, driven through the uplink
//! library; and one test that runs the real binaries as a user would.
//!
//! One test binary with modules keeps link time down.

mod access;
mod accounting;
mod audit;
mod binaries;
mod concurrency;
mod console_api;
mod console_client;
mod data_path;
mod edge;
mod faults;
mod gateway;
mod gc;
mod graceful_exit;
mod keeping;
mod lifecycle;
mod links;
mod listing;
mod load;
mod multipart;
mod order_limits;
mod plain_names;
mod privacy;
mod repair;
mod resilience;
mod security;
mod segment_loop;
mod server_copy;
mod sharing;
mod transport;
mod two_satellites;
