//! Concurrency primitives.
pub mod notify;
