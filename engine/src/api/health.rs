//! What `/health` and `/ready` report, as the embedding API sees it.

use serde::Serialize;
use std::collections::BTreeMap;

/// The engine's overall health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Everything is up.
    Healthy,
    /// Serving, with trouble: a stalled worker, memory over its limit, a
    /// saturated limit, or draining.
    Degraded,
    /// Not serving: no worker is up.
    Unhealthy,
}

/// The state of one service or worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceHealth {
    /// Working.
    Up,
    /// Working with trouble.
    Degraded,
    /// At a configured limit: new work of this kind is refused.
    Saturated,
    /// Shutting down.
    Draining,
    /// Work is queued but the worker has not ticked for longer than
    /// `health_monitoring.global_health_check_interval`.
    Stalled,
    /// Switched off in the profile.
    Disabled,
    /// Not running.
    Down,
}

/// One worker as health sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerHealth {
    /// The worker's index.
    pub worker: usize,
    /// Its state.
    pub state: ServiceHealth,
    /// Milliseconds since its last tick (large while it is parked idle: fine).
    pub heartbeat_age_ms: u64,
    /// Commands waiting in its inbox.
    pub inbox_depth: usize,
    /// Whether it is pinned to a CPU.
    pub pinned: bool,
}

/// The engine's health report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineHealth {
    /// Overall status.
    pub status: HealthStatus,
    /// Whether the engine should receive traffic: started, not draining, not
    /// over `performance.memory_limit_mb`.
    pub ready: bool,
    /// Per service: `core`, `agent_registry`, `coordination`, `telemetry`, `memory`.
    pub services: BTreeMap<&'static str, ServiceHealth>,
    /// Per worker.
    pub workers: Vec<WorkerHealth>,
}
