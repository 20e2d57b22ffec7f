//! The embedding API: start an [`Engine`], talk to it through a [`Handle`].
//!
//! Every operation fails with an [`EngineError`], described in the engine's error
//! vocabulary ([`Describe`]: code, [`ErrorClass`], [`Retry`] hint). [`http_status`] is the
//! one class -> HTTP status table; the server and the load generator both answer by it.
#![forbid(unsafe_code)]

mod clearing;
mod engine;
mod error;
mod footprint;
mod handle;
mod health;
mod live;
mod pending;
mod status;

pub use crate::error::{Describe, Description, ErrorClass, Retry};
pub use crate::runtime::shared::unix_ms;
pub use clearing::Clearing;
pub use engine::{Engine, EngineBuilder, ShutdownReport};
pub use error::EngineError;
pub use footprint::{Footprint, FootprintItem};
pub use handle::Handle;
pub use health::{EngineHealth, HealthStatus, ServiceHealth, WorkerHealth};
pub use live::DeliveryStats;
pub use pending::Pending;
pub use status::http_status;
