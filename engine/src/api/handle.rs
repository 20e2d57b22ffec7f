//! The embedding API: what any thread can ask of a running engine.

use crate::api::{Clearing, EngineError, Pending};
use crate::coord::{CoordError, CoordinationOutcome, CoordinationRequest};
use crate::registry::{AgentFilter, AgentRecord, AgentSpec, AgentStatus};
use crate::runtime::command::{Command, LifecycleOp};
use crate::runtime::reply::reply_channel;
use crate::runtime::shared::Shared;
use crate::telemetry::Telemetry;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// A cheap, cloneable handle to a running engine, usable from any thread.
///
/// Reads (`agent`, `agents`, `agent_count`) go straight to the lock-free
/// registry and never wait for a worker. Writes and messages go to the inbox of
/// the worker that owns the key and return a [`Pending`] answer. One-shot
/// coordination ([`Handle::coordinate`]) is cleared on the calling thread.
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.shared.workers())
            .finish_non_exhaustive()
    }
}

impl Handle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Registers an agent (state `registered`; start it with [`Handle::start`]).
    /// A spec without `supervision.strategy` gets the profile's
    /// `agent_registry.restart_strategy`.
    pub fn register(&self, spec: AgentSpec) -> Pending<AgentRecord> {
        let worker = self.shared.worker_of(&spec.id);
        self.submit(worker, |reply| Command::Register { spec, reply })
    }

    /// Removes an agent, stopping it first if it runs.
    pub fn deregister(&self, id: &str) -> Pending<AgentRecord> {
        self.lifecycle_cmd(id, None)
    }

    /// Starts an agent: `registered`/`stopped`/`failed` -> `running`.
    pub fn start(&self, id: &str) -> Pending<AgentRecord> {
        self.lifecycle_cmd(id, Some(LifecycleOp::Start))
    }

    /// Stops an agent: `running` -> `stopped` (an operator stop: never restarted).
    pub fn stop(&self, id: &str) -> Pending<AgentRecord> {
        self.lifecycle_cmd(id, Some(LifecycleOp::Stop))
    }

    /// Restarts an agent with a fresh instance.
    pub fn restart(&self, id: &str) -> Pending<AgentRecord> {
        self.lifecycle_cmd(id, Some(LifecycleOp::Restart))
    }

    /// Sends `msg` to a running agent; the answer is its handler's.
    pub fn send(&self, id: &str, msg: Value) -> Pending<Value> {
        let worker = self.shared.worker_of(id);
        let id = id.to_owned();
        self.submit(worker, |reply| Command::Send { id, msg, reply })
    }

    /// A round trip to worker `worker % workers` that does nothing: the
    /// engine's latency floor, and a liveness probe.
    pub fn ping(&self, worker: usize) -> Pending<usize> {
        let worker = worker % self.shared.workers();
        self.submit(worker, |reply| Command::Ping { reply })
    }

    /// An agent's published record. Lock-free; never waits for a worker.
    pub fn agent(&self, id: &str) -> Option<AgentRecord> {
        self.shared.registry.get(id)
    }

    /// An agent's live status (handle, state, health, counters): the cheapest lookup, read
    /// without pinning or locking and never waiting for a worker (see
    /// [`crate::registry::Registry::status`]).
    pub fn agent_status(&self, id: &str) -> Option<AgentStatus> {
        self.shared.registry.status(id)
    }

    /// Agents matching `filter`, ordered by id. Lock-free.
    pub fn agents(&self, filter: &AgentFilter) -> Vec<AgentRecord> {
        self.shared.registry.list(filter)
    }

    /// Agents registered now.
    pub fn agent_count(&self) -> usize {
        self.shared.registry.count()
    }

    /// Clears a one-shot coordination on the calling thread (pure: no worker,
    /// no lock), within its work budget but with no deadline. Servers use
    /// [`Handle::coordinate_on_pool`] for requests that are not
    /// [`crate::coord::clears_inline`].
    pub fn coordinate(&self, req: &CoordinationRequest) -> Result<CoordinationOutcome, CoordError> {
        crate::coord::clear(req, &self.shared.limits)
    }

    /// Clears a one-shot coordination on the clearing pool, off the calling thread, with
    /// the one-shot deadline (`coordination.default_timeout`); dropping the [`Clearing`]
    /// stops it.
    pub fn coordinate_on_pool(
        &self,
        req: Arc<CoordinationRequest>,
    ) -> Clearing<CoordinationOutcome> {
        let shared = Arc::clone(&self.shared);
        Clearing::spawn(&self.shared, move |cancel| {
            crate::coord::clear_cancellable(&req, &shared.limits, cancel)
        })
    }

    /// [`Handle::coordinate_batch`] off the calling thread, with the one-shot deadline
    /// for the whole batch; dropping the [`Clearing`] stops every request still clearing.
    pub fn coordinate_batch_on_pool(
        &self,
        reqs: Arc<[CoordinationRequest]>,
    ) -> Clearing<Vec<Result<CoordinationOutcome, CoordError>>> {
        let shared = Arc::clone(&self.shared);
        Clearing::spawn(&self.shared, move |cancel| {
            let results = shared
                .pool
                .clear_batch_cancellable(&reqs, &shared.limits, cancel);
            // A cancelled batch is cancelled as a whole.
            cancel.check()?;
            Ok(results)
        })
    }

    /// Clears independent coordinations together on the clearing pool; results
    /// in input order, identical to clearing them one by one.
    pub fn coordinate_batch(
        &self,
        reqs: &[CoordinationRequest],
    ) -> Vec<Result<CoordinationOutcome, CoordError>> {
        self.shared.pool.clear_batch(reqs, &self.shared.limits)
    }

    /// The engine's telemetry (Prometheus text, coordination summaries, memory).
    pub fn telemetry(&self) -> &Telemetry {
        &self.shared.telemetry
    }

    /// The configuration the engine runs with.
    pub fn config(&self) -> &crate::profile::Config {
        &self.shared.config
    }

    /// Workers in this engine.
    pub fn workers(&self) -> usize {
        self.shared.workers()
    }

    /// Whether the engine accepts work (false while starting or shutting down).
    pub fn is_ready(&self) -> bool {
        self.shared.ready.load(Ordering::Acquire)
    }

    /// The engine's health, computed from what the workers publish (never waits
    /// for a worker, so it answers even when they are stuck).
    pub fn health(&self) -> crate::api::EngineHealth {
        crate::runtime::watch::evaluate(&self.shared)
    }

    /// The worker's measurements of one agent (`agent_registry.resource_monitoring`).
    pub fn agent_stats(&self, id: &str) -> Pending<crate::runtime::agent::AgentStats> {
        let worker = self.shared.worker_of(id);
        let id = id.to_owned();
        self.submit(worker, |reply| Command::AgentStats { id, reply })
    }

    /// How long a caller should wait for an answer before giving up
    /// (`core.coordination_timeout`); the HTTP layer answers 504 past it.
    pub fn answer_timeout(&self) -> std::time::Duration {
        self.shared.config.core.coordination_timeout
    }

    /// The coordination summary over `window` (the JSON dashboard), for one
    /// protocol or all. Refused when `telemetry.dashboard_enabled` is off.
    pub fn coordination_metrics(
        &self,
        protocol: Option<&str>,
        window: crate::telemetry::Window,
    ) -> Result<crate::telemetry::CoordinationSummary, EngineError> {
        if !self.shared.config.telemetry.dashboard_enabled {
            return Err(EngineError::Disabled {
                what: "the coordination dashboard (telemetry.dashboard_enabled = false)",
            });
        }
        self.shared
            .telemetry
            .coordination_metrics(protocol, window, crate::runtime::shared::unix_ms())
            .map_err(|e| EngineError::InvalidInput(e.to_string()))
    }

    /// Per worker: `(pinned, last heartbeat ms, exited)`.
    pub fn worker_status(&self) -> Vec<(bool, u64, bool)> {
        self.shared
            .status
            .iter()
            .map(|s| {
                (
                    s.pinned.load(Ordering::Relaxed),
                    s.heartbeat_ms.load(Ordering::Relaxed),
                    s.exited.load(Ordering::Acquire),
                )
            })
            .collect()
    }

    fn lifecycle_cmd(&self, id: &str, op: Option<LifecycleOp>) -> Pending<AgentRecord> {
        let worker = self.shared.worker_of(id);
        let id = id.to_owned();
        match op {
            Some(op) => self.submit(worker, |reply| Command::Lifecycle { id, op, reply }),
            None => self.submit(worker, |reply| Command::Deregister { id, reply }),
        }
    }

    fn submit<T>(
        &self,
        worker: usize,
        make: impl FnOnce(crate::runtime::command::Answer<T>) -> Command,
    ) -> Pending<T> {
        let (tx, rx) = reply_channel();
        match self.shared.inboxes[worker].push(make(tx)) {
            Ok(()) => Pending::new(rx),
            Err(e) => {
                let err = EngineError::refused(&e, worker);
                // Dropping the refused command would resolve `rx` to Canceled;
                // answer it with the real reason instead.
                let (tx2, rx2) = reply_channel();
                tx2.send(Err(err));
                Pending::new(rx2)
            }
        }
    }
}
