//! Admission of growing writes: the one place that decides whether a command that
//! makes the node hold more may run.
//!
//! Two limits, both checked on the owner worker before the write:
//! - `performance.memory_limit_mb`, against the last memory sample (the sampler in
//!   `runtime/sampler.rs` refreshes it every `performance.memory_sample_interval_ms`).
//!   Over it, every growing write is refused with 503 `memory_limit`: agent
//!   registrations, session opens, bids, orders, votes, variable creates, updates and
//!   coordinations (each adds a history version) and subscriptions. Reads, deletes,
//!   closes and lifecycle changes still run, so the node can shed what it holds.
//! - `performance.process_limit`, a hard cap on live agents plus live sessions: one
//!   unit of an engine-wide count is reserved with one atomic add before an agent is
//!   registered or a session opened, and given back when the agent is deregistered or
//!   the session finishes. At the cap: 503 `process_limit`.

use crate::api::EngineError;
use crate::runtime::shared::LiveCounters;
use crate::runtime::worker::Worker;
use crate::telemetry::RejectReason;

impl Worker {
    /// Refuses a growing write while the node is over `performance.memory_limit_mb`
    /// (by the last sample); counted as a `memory` rejection.
    pub(crate) fn admit_growth(&mut self) -> Result<(), EngineError> {
        let limit_mb = self.shared.config.performance.memory_limit_mb;
        if self.shared.telemetry.memory_over_limit(limit_mb) {
            self.rec.record_rejection(RejectReason::Memory);
            return Err(EngineError::OverMemory { limit_mb });
        }
        Ok(())
    }

    /// A new agent or session: [`Worker::admit_growth`], then one unit of
    /// `performance.process_limit`. The caller gives the unit back with
    /// [`Worker::release_processes`] when the create fails or the thing goes away.
    pub(crate) fn admit_process(&mut self) -> Result<(), EngineError> {
        self.admit_growth()?;
        let limit = self.shared.config.performance.process_limit;
        if !LiveCounters::reserve(&self.shared.live.processes, limit) {
            self.rec.record_rejection(RejectReason::Capacity);
            return Err(EngineError::ProcessLimit { limit });
        }
        Ok(())
    }

    /// Gives back `n` units of `performance.process_limit`.
    pub(crate) fn release_processes(&self, n: usize) {
        LiveCounters::release(&self.shared.live.processes, n);
    }
}
