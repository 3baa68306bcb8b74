//! Harness (in progress)
