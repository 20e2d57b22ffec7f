//! The thread-per-core runtime: pinned workers, bounded inboxes, ticks.
//!
//! See `README.md` in this directory for the tick, parking and back-pressure.
#![forbid(unsafe_code)]

pub(crate) mod admission;
pub(crate) mod affinity;
pub mod agent;
pub(crate) mod command;
pub mod inbox;
pub(crate) mod lifecycle;
pub mod reply;
pub(crate) mod sampler;
pub(crate) mod sessions;
pub(crate) mod shared;
pub mod supervisor;
pub(crate) mod variables;
pub(crate) mod watch;
pub(crate) mod worker;

pub use command::LifecycleOp;
pub use worker::WorkerExit;
