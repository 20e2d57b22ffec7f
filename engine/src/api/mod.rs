//! The embedding API: start an [`Engine`], talk to it through a [`Handle`].
#![forbid(unsafe_code)]

mod clearing;
mod engine;
mod error;
mod footprint;
mod handle;
mod health;
mod live;
mod pending;

pub use crate::runtime::shared::unix_ms;
pub use clearing::Clearing;
pub use engine::{Engine, EngineBuilder, ShutdownReport};
pub use error::EngineError;
pub use footprint::{Footprint, FootprintItem};
pub use handle::Handle;
pub use health::{EngineHealth, HealthStatus, ServiceHealth, WorkerHealth};
pub use live::DeliveryStats;
pub use pending::Pending;
