//! State every thread of one engine shares: read-mostly, written with atomics.

use crate::coord::{ClearingPool, Limits};
use crate::profile::Config;
use crate::registry::Registry;
use crate::runtime::agent::AgentKinds;
use crate::runtime::command::Command;
use crate::runtime::inbox::Inbox;
use crate::telemetry::Telemetry;
use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Per-worker facts others read: a heartbeat and whether pinning took.
#[derive(Debug, Default)]
pub(crate) struct WorkerStatus {
    /// Wall-clock ms of the worker's last tick.
    pub(crate) heartbeat_ms: AtomicU64,
    /// Whether the worker is pinned to a CPU.
    pub(crate) pinned: AtomicBool,
    /// Whether the worker thread has exited.
    pub(crate) exited: AtomicBool,
}

pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) registry: Registry,
    pub(crate) inboxes: Box<[Inbox<Command>]>,
    pub(crate) status: Box<[CachePadded<WorkerStatus>]>,
    pub(crate) kinds: AgentKinds,
    pub(crate) pool: ClearingPool,
    pub(crate) limits: Limits,
    pub(crate) telemetry: Telemetry,
    /// Set at the start of shutdown: workers drain and stop their agents.
    pub(crate) draining: AtomicBool,
    /// Set when the shutdown deadline passes: workers abandon what is left.
    pub(crate) hard_stop: AtomicBool,
    /// Set once every worker has started and the engine accepts commands.
    pub(crate) ready: AtomicBool,
}

impl Shared {
    /// Workers in this engine.
    pub(crate) fn workers(&self) -> usize {
        self.inboxes.len()
    }

    /// The worker that owns the shard of `key`.
    pub(crate) fn worker_of(&self, key: &str) -> usize {
        self.registry.shard_of(key) % self.workers()
    }
}

/// Wall-clock milliseconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl WorkerStatus {
    pub(crate) fn beat(&self, now_ms: u64) {
        self.heartbeat_ms.store(now_ms, Ordering::Relaxed);
    }
}
