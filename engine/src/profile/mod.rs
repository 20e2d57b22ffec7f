//! Profiles: TOML files -> a validated [`Config`].
//!
//! Two stages, as in the architecture notes. A profile is read into a [`ProfileSpec`] (serde,
//! every key optional, unknown keys refused), then overlaid on the built-in defaults and
//! validated into a [`Config`] of plain values (durations as [`std::time::Duration`]). Limits
//! are checked (non-zero where zero makes no sense, upper bounds that keep start-up
//! preallocation sane) and consistency rules enforced (degraded <= unhealthy, batch <= inbox,
//! TLS cert and key together, ...).
//!
//! Precedence: built-in defaults < profile file < `MABEAM_*` environment (< CLI flags, applied
//! by the binary). [`load`] records where every value came from, and
//! [`LoadedProfile::render`] prints the table `mabeam check-profile FILE` shows.
//!
//! ```
//! use mabeam_engine::profile::{load, Source};
//! use std::time::Duration;
//!
//! let env = vec![("MABEAM_ENGINE__WORKERS".to_owned(), "2".to_owned())];
//! let loaded = load(None, env).expect("defaults plus a valid override");
//! assert_eq!(loaded.config.engine.workers, 2);
//! assert_eq!(loaded.source_of("engine.workers"), Some(&Source::Env("MABEAM_ENGINE__WORKERS".into())));
//! assert_eq!(loaded.config.core.coordination_timeout, Duration::from_millis(5_000));
//! ```
//!
//! Every error names the file (or variable), the key path and the fix; misspelt names come
//! with the closest known one. See `README.md` beside this module for the design.

#![forbid(unsafe_code)]

mod codec;
mod config;
mod derived;
mod document;
mod env;
mod error;
mod load;
mod rules;
mod schema;
mod suggest;
mod tokens;
mod types;
mod validate;

pub use config::{
    AgentRegistryConfig, AgentRegistrySpec, BudgetsConfig, BudgetsSpec, ConcurrencyConfig,
    ConcurrencySpec, Config, CoordinationConfig, CoordinationSpec, CoreConfig, CoreSpec,
    EngineConfig, EngineSpec, HealthMonitoringConfig, HealthMonitoringSpec, PerformanceConfig,
    PerformanceSpec, ProfileSpec, SecurityConfig, SecuritySpec, ServerConfig, ServerSpec,
    TelemetryConfig, TelemetrySpec,
};
pub use env::RESERVED_ENV_VARS;
pub use error::{Location, Problem, ProfileError};
pub use load::{LoadedProfile, Setting, Source, load, load_from_process_env};
pub use tokens::{TokenConfig, TokenRole, TokenSpec};
pub use types::{AuditLevel, LogFormat, LogLevel, RestartStrategy};

/// Every key path of the schema (`core.max_variables`, ...), in declaration order.
pub fn key_paths() -> impl Iterator<Item = String> {
    schema::all_paths().map(|(section, key)| format!("{}.{}", section.name, key.name))
}
