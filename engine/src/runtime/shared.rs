//! State every thread of one engine shares: read-mostly, written with atomics.

use crate::coord::{ClearingPool, Limits};
use crate::profile::Config;
use crate::registry::Registry;
use crate::runtime::agent::AgentKinds;
use crate::runtime::command::Command;
use crate::runtime::inbox::Inbox;
use crate::telemetry::Telemetry;
use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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
    /// Whether the worker is parked (idle, waiting for a command or a timer).
    pub(crate) parked: AtomicBool,
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
    /// Engine-wide counts behind the session and variable limits.
    pub(crate) live: LiveCounters,
}

/// Engine-wide counts for limits that span workers (each reserved with one atomic
/// add before the owner worker creates the thing, released when it goes away),
/// and the delivery counters of variable subscriptions.
#[derive(Debug, Default)]
pub(crate) struct LiveCounters {
    /// Sessions open or closing (`coordination.max_concurrent_coordinations`).
    pub(crate) sessions_open: AtomicUsize,
    /// Live agents plus live sessions (`performance.process_limit`).
    pub(crate) processes: AtomicUsize,
    /// Shared variables held (`core.max_variables`).
    pub(crate) variables_held: AtomicUsize,
    /// Clearing jobs handed to the pool and not yet back
    /// (`concurrency.coordination_pool_size`).
    pub(crate) clearings_in_flight: AtomicUsize,
    /// Sequence of generated session ids.
    pub(crate) session_seq: AtomicU64,
    /// Variable changes handed to a subscribed agent.
    pub(crate) deliveries_sent: AtomicU64,
    /// Variable changes dropped because the subscriber's worker inbox was full
    /// (or the engine was shutting down).
    pub(crate) deliveries_dropped: AtomicU64,
    /// Variable changes the subscriber did not take (not running, unknown, or its
    /// handler refused or crashed).
    pub(crate) deliveries_refused: AtomicU64,
}

impl LiveCounters {
    /// Reserves one unit of `counter` under `max`; false (and nothing taken) when
    /// `max` are taken already.
    pub(crate) fn reserve(counter: &AtomicUsize, max: usize) -> bool {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }

    /// Reserves up to `want` units of `counter` under `max`; returns how many.
    pub(crate) fn reserve_up_to(counter: &AtomicUsize, want: usize, max: usize) -> usize {
        let mut got = 0;
        let _ = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            got = want.min(max.saturating_sub(n));
            (got > 0).then_some(n + got)
        });
        got
    }

    /// Gives back `n` units of `counter`.
    pub(crate) fn release(counter: &AtomicUsize, n: usize) {
        let _ = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
            Some(c.saturating_sub(n))
        });
    }
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
pub fn unix_ms() -> u64 {
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
