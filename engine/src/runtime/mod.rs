//! The thread-per-core runtime.
#![forbid(unsafe_code)]

pub mod inbox;
pub mod reply;
pub mod supervisor;
