//! The agent registry: who the agents are, where they are in their lifecycle, and how
//! healthy they are.
//!
//! The registry is split into shards; an id belongs to the shard [`shard_of`] names (a
//! stable hash). Each shard has exactly one [`ShardWriter`], owned by one worker thread,
//! and every thread may read through the shared [`Registry`] handle without taking a lock:
//!
//! ```
//! use mabeam_engine::registry::{AgentFilter, AgentSpec, AgentState, Registry};
//!
//! let (registry, mut writers) = Registry::new(2, 1_000)?;
//! let spec = AgentSpec::new("agent-1", "worker").with_capability("nlp");
//! let shard = registry.shard_of(&spec.id);
//! let handle = writers[shard].register(spec, 0)?;
//! writers[shard].transition("agent-1", AgentState::Starting, 1)?;
//!
//! assert_eq!(registry.with("agent-1", |a| a.state), Some(AgentState::Starting));
//! // The cheapest lookup: a copy of the live status, read without pinning.
//! assert_eq!(registry.status("agent-1").map(|s| s.agent_ref), Some(handle));
//! assert_eq!(registry.get_ref(handle).map(|a| a.restarts), Some(0));
//! assert_eq!(registry.list(&AgentFilter::default()).len(), 1);
//! # Ok::<(), mabeam_engine::registry::RegistryError>(())
//! ```
//!
//! Each agent lives in a preallocated slot as an entry whose fixed part (spec, handle,
//! registration time) never changes; its live status (state, health, counters, last
//! change) sits in the entry under a two-copy sequence latch, which the shard's writer
//! updates in place, so a status change allocates and retires nothing and a reader always
//! sees one write's status, never a mix. A new spec publishes a new entry and retires the
//! old one (freed once no reader can hold it). [`Registry::with`] hands out an
//! [`AgentView`] that borrows the spec. Handles ([`AgentRef`]) carry the slot's generation
//! and never reach a later agent in the same slot. Capacity (`max_agents`) is enforced
//! exactly by an atomic reservation shared by all shards. Each shard also mirrors every
//! agent's status (handle, state, health, counters) in a fixed table of one cache line per
//! agent, which [`Registry::status`] reads under sequence counters without pinning the
//! epoch collector. The lock-free machinery lives in
//! [`crate::sync`]; its design note is `engine/src/sync/README.md`.

#![forbid(unsafe_code)]

mod entry;
mod error;
mod id;
mod record;
mod spec;
mod state;
mod table;
mod writer;

#[cfg(test)]
mod tests;

pub use error::RegistryError;
pub use id::{
    NAME_LEN_MAX, hash_bytes, hash_id, is_valid_name, shard_for_hash, shard_of, validate_id,
};
pub use record::{
    AgentFilter, AgentRecord, AgentRef, AgentStatus, AgentView, GENERATION_MAX, SHARDS_MAX,
    SLOTS_MAX,
};
pub use spec::{
    AgentSpec, CAPABILITIES_MAX, MAX_RESTARTS_MAX, MAX_SECONDS_MAX, METADATA_ENTRIES_MAX,
    METADATA_VALUE_LEN_MAX, RestartStrategy, Supervision,
};
pub use state::{AgentState, Health};
pub use table::Registry;
pub use writer::ShardWriter;
