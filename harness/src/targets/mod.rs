//! Targets: an HTTP deployment or an in-process engine, and what is watched on them.

pub mod embedded;
pub mod http;
pub mod monitor;
pub mod prom;
