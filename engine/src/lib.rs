//! mabeam-engine: a lock-free multi-agent coordination engine.
//!
//! (Crate documentation is written as the layers land.)

#![deny(missing_docs)]

pub mod api;
pub mod coord;
pub mod profile;
pub mod registry;
pub mod runtime;
pub mod session;
pub mod sync;
pub mod telemetry;
pub mod variables;
