//! mabeam-engine: a lock-free multi-agent coordination engine.
//!
//! The problem: many agents must coordinate -- register and be supervised, bid in
//! auctions, trade in markets, vote, share variables -- with latency low enough to
//! sit inside other latency-critical programs, and with outcomes that are exact
//! and reproducible. This crate is the engine; the `mabeam` binary serves it over
//! HTTP, and `mabeam-load` measures it.
//!
//! # Data path
//!
//! ```text
//! Handle call (any thread) --> key -> shard -> owning worker
//!    one-shot coordination: cleared right here, on the calling thread (coord is pure),
//!      or on the clearing pool with a deadline that cancels it (Handle::coordinate_on_pool)
//!    reads (agent, agents): lock-free from the registry, never wait for a worker
//!    stateful command: pushed to the owner's bounded inbox (full -> Overloaded)
//! worker tick: drain <= batch_max commands -> registry / agents (single writer)
//!            -> timers (health checks, maintenance sweep) -> reply (Pending: wait or .await)
//! every stage records into the worker's own telemetry; readers merge on demand
//! ```
//!
//! # Embedding
//!
//! ```
//! use mabeam_engine::api::Engine;
//! use mabeam_engine::profile::Config;
//! use mabeam_engine::registry::{AgentSpec, AgentState};
//!
//! let engine = Engine::start(Config::test_min()).unwrap();
//! let h = engine.handle();
//! h.register(AgentSpec::new("alice", "trader")).wait().unwrap();
//! assert_eq!(h.start("alice").wait().unwrap().state, AgentState::Running);
//! let req = serde_json::from_str(r#"{"protocol":"auction","auction":{"type":"first_price",
//!     "bids":[{"agent_id":"alice","amount":15},{"agent_id":"bob","amount":12}]}}"#).unwrap();
//! println!("{}", serde_json::to_string(&h.coordinate(&req).unwrap()).unwrap());
//! let report = engine.shutdown();
//! assert!(report.clean);
//! ```
//!
//! # Tour
//! - [`api`]: [`api::Engine`] (start, shutdown) and [`api::Handle`] (every operation).
//! - [`runtime`]: pinned workers, bounded inboxes, ticks, agents and their supervisors.
//! - [`registry`]: the sharded agent table: one writer per shard, lock-free readers.
//! - [`coord`]: auctions, markets, consensus, allocation; pure and deterministic.
//! - [`variables`], [`session`]: shared variables and multi-round coordinations.
//! - [`telemetry`]: per-worker counters and HDR histograms, Prometheus text, anomalies.
//! - [`profile`]: TOML profiles and `MABEAM_*` overrides, validated into a [`profile::Config`].
//! - [`sync`]: the only `unsafe` in the crate, each block justified and loom-checked.
//! - [`error`]: the error vocabulary every module error is described in.
//!
//! # Errors
//! Each module keeps its own error type ([`coord::CoordError`], [`session::SessionError`],
//! [`variables::VariableError`], [`registry::RegistryError`], [`api::EngineError`]) and
//! describes it once through [`error::Describe`]: a stable snake_case code clients switch
//! on (`book_full`, `version_conflict`), an [`error::ErrorClass`] (invalid, not_found,
//! conflict, overloaded, ...) and an [`error::Retry`] hint. A code means one class
//! wherever it comes from. A transport answers by the class alone: for HTTP,
//! [`api::http_status`] is the one table, used by the `mabeam` server and by
//! `mabeam-load`'s embedded target.
//!
//! Limitations: one process; scaling past one machine is by key-affine routing in
//! front of several engines (see the project README).

#![deny(missing_docs)]

pub mod api;
pub mod coord;
pub mod error;
pub mod profile;
pub mod registry;
pub mod runtime;
pub mod session;
pub mod sync;
pub mod telemetry;
pub mod variables;
