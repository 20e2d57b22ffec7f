//! Agents that run inside the engine.
//!
//! An embedder implements [`Agent`] and registers a factory for a kind with
//! [`AgentKinds`]. Every message to an agent goes to the inbox of the worker that
//! owns the agent's shard, and its callbacks run on that worker, one at a time.
//! A panic in a callback is caught by the worker: the agent is marked failed and
//! its supervisor decides whether a fresh instance (from the factory) takes its
//! place.

use crate::registry::AgentRecord;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// An error an agent returns from a callback. It is answered to the caller; it
/// does not crash the agent (a panic does).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AgentError {
    /// A short snake_case code.
    pub code: String,
    /// What went wrong, for the caller.
    pub message: String,
}

impl AgentError {
    /// An error with a code and a message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// What an agent sees of the engine while one of its callbacks runs.
#[derive(Debug)]
pub struct AgentContext<'a> {
    record: &'a AgentRecord,
    now_ms: u64,
    stop: bool,
}

impl<'a> AgentContext<'a> {
    pub(crate) fn new(record: &'a AgentRecord, now_ms: u64) -> Self {
        Self {
            record,
            now_ms,
            stop: false,
        }
    }

    /// The agent's id.
    pub fn id(&self) -> &str {
        self.record.id()
    }

    /// The agent's registry record (kind, capabilities, config, counters).
    pub fn record(&self) -> &AgentRecord {
        self.record
    }

    /// The agent's `config` as registered.
    pub fn config(&self) -> &Value {
        &self.record.spec.config
    }

    /// Wall-clock milliseconds since the Unix epoch, read once per worker tick.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Ask to stop after this callback: a normal exit (a `permanent` agent is
    /// restarted; `transient` and `temporary` ones stay stopped).
    pub fn stop(&mut self) {
        self.stop = true;
    }

    pub(crate) fn stop_requested(&self) -> bool {
        self.stop
    }
}

/// Behaviour of an agent. Every callback runs on the agent's owner worker.
///
/// Keep callbacks short: a worker runs the callbacks of all its agents, and a
/// tick over `engine.tick_budget_us` is counted as a stall.
pub trait Agent: Send + 'static {
    /// Called when the agent starts (and on every restart, on a fresh instance).
    /// An error fails the start, and the supervisor treats it as a crash.
    fn init(&mut self, _ctx: &mut AgentContext<'_>) -> Result<(), AgentError> {
        Ok(())
    }

    /// Handles one message and returns the answer to its sender.
    fn handle(&mut self, msg: Value, ctx: &mut AgentContext<'_>) -> Result<Value, AgentError>;

    /// Called when the agent stops, normally or not (never after a panic, whose
    /// instance is discarded).
    fn terminate(&mut self, _ctx: &mut AgentContext<'_>) {}

    /// A health check, every `agent_registry.health_check_interval`. `false`, a
    /// panic or a check slower than `health_monitoring.health_check_timeout`
    /// counts as a failed check.
    fn health_check(&mut self, _ctx: &mut AgentContext<'_>) -> bool {
        true
    }
}

/// What an agent's worker measured of it (`agent_registry.resource_monitoring`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct AgentStats {
    /// Whether measuring is on; when off, the other fields stay zero.
    pub monitored: bool,
    /// Messages handled by this registration (across restarts).
    pub messages: u64,
    /// Messages answered with an error.
    pub errors: u64,
    /// Time spent in the agent's callbacks, in microseconds.
    pub busy_us: u64,
    /// The slowest single message, in microseconds.
    pub max_message_us: u64,
    /// Failed health checks in a row now.
    pub failed_checks: u32,
}

/// Builds a fresh agent instance for a record (at start and at every restart).
pub type AgentFactory = Arc<dyn Fn(&AgentRecord) -> Box<dyn Agent> + Send + Sync>;

/// The agent behaviours the engine knows, by kind. Fixed when the engine is
/// built, then shared read-only by every worker.
#[derive(Clone, Default)]
pub struct AgentKinds {
    factories: HashMap<String, AgentFactory>,
    fallback: Option<AgentFactory>,
}

impl std::fmt::Debug for AgentKinds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kinds: Vec<&String> = self.factories.keys().collect();
        kinds.sort();
        f.debug_struct("AgentKinds")
            .field("kinds", &kinds)
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

impl AgentKinds {
    /// Kinds with [`Passive`] as the behaviour of every kind not registered: the
    /// agent is a registry entry for an external participant (for example a
    /// client bidding over HTTP).
    pub fn new() -> Self {
        Self {
            factories: HashMap::new(),
            fallback: Some(Arc::new(|_| Box::new(Passive::default()))),
        }
    }

    /// Kinds that refuse to register an agent of an unknown kind.
    pub fn strict() -> Self {
        Self::default()
    }

    /// From now on, refuse agents whose kind has no factory.
    pub fn clear_fallback(&mut self) {
        self.fallback = None;
    }

    /// Adds (or replaces) the behaviour of `kind`.
    pub fn insert<F, A>(&mut self, kind: impl Into<String>, factory: F)
    where
        F: Fn(&AgentRecord) -> A + Send + Sync + 'static,
        A: Agent,
    {
        self.factories
            .insert(kind.into(), Arc::new(move |r| Box::new(factory(r))));
    }

    /// Whether an agent of `kind` can be built.
    pub fn knows(&self, kind: &str) -> bool {
        self.factories.contains_key(kind) || self.fallback.is_some()
    }

    /// A fresh instance for `record`, if its kind is known.
    pub fn build(&self, record: &AgentRecord) -> Option<Box<dyn Agent>> {
        self.factories
            .get(record.kind())
            .or(self.fallback.as_ref())
            .map(|f| f(record))
    }
}

/// The behaviour of agents whose kind has no factory: it answers every message
/// with a receipt (`{"agent_id", "received": n}`) and is always healthy.
#[derive(Debug, Default)]
pub struct Passive {
    received: u64,
}

impl Agent for Passive {
    fn handle(&mut self, _msg: Value, ctx: &mut AgentContext<'_>) -> Result<Value, AgentError> {
        self.received += 1;
        Ok(serde_json::json!({"agent_id": ctx.id(), "received": self.received}))
    }
}
