//! Engine-wide health, evaluated from what workers publish, and the periodic
//! telemetry export. Worker 0 runs the timers; any thread may compute health.

use crate::api::{EngineHealth, HealthStatus, ServiceHealth, WorkerHealth};
use crate::profile::Config;
use crate::runtime::shared::{Shared, unix_ms};
use crate::telemetry::Window;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Worker 0's engine timers: health evaluation every `core.health_check_interval`
/// (transitions are logged), telemetry summary every `telemetry.export_interval`.
#[derive(Debug)]
pub(crate) struct EngineTimers {
    pub(crate) next_check: Instant,
    pub(crate) next_export: Instant,
    last: HealthStatus,
}

impl EngineTimers {
    pub(crate) fn new(cfg: &Config, now: Instant) -> Self {
        Self {
            next_check: now + cfg.core.health_check_interval,
            next_export: now + cfg.telemetry.export_interval,
            last: HealthStatus::Healthy,
        }
    }
}

impl crate::runtime::worker::Worker {
    pub(crate) fn engine_timers(&mut self, now: Instant) {
        let cfg = &self.shared.config;
        let (check_every, export_every) = (
            cfg.core.health_check_interval,
            cfg.telemetry.export_interval,
        );
        let Some(timers) = self.engine_timers.as_mut() else {
            return;
        };
        if now >= timers.next_check {
            timers.next_check = now + check_every;
            let health = evaluate(&self.shared);
            if health.status != timers.last {
                tracing::warn!(from = ?timers.last, to = ?health.status, services = ?health.services, "engine health changed");
                timers.last = health.status;
            }
        }
        if now >= timers.next_export {
            timers.next_export = now + export_every;
            export(&self.shared, self.now_ms);
        }
    }
}

/// Logs one line of telemetry summary (the export to logs).
fn export(shared: &Shared, now_ms: u64) {
    let summary = shared
        .telemetry
        .coordination_metrics(None, Window::OneMinute, now_ms);
    let Ok(s) = summary else { return };
    tracing::info!(
        agents = shared.registry.count(),
        sessions_open = shared.live.sessions_open.load(Ordering::Relaxed),
        coordinations_1m = s.count,
        success_rate_1m = s.success_rate.unwrap_or(1.0),
        p99_seconds_1m = s.p99_seconds.unwrap_or(0.0),
        "telemetry export"
    );
}

/// Engine health from published state: worker heartbeats, readiness, memory
/// and saturation. Never waits for a worker, so it answers even when they are stuck.
pub(crate) fn evaluate(shared: &Shared) -> EngineHealth {
    let cfg = &shared.config;
    let now = unix_ms();
    let stale_ms = u64::try_from(
        cfg.health_monitoring
            .global_health_check_interval
            .as_millis(),
    )
    .unwrap_or(u64::MAX);
    let workers: Vec<WorkerHealth> = shared
        .status
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let beat = s.heartbeat_ms.load(Ordering::Relaxed);
            let exited = s.exited.load(Ordering::Acquire);
            let parked = s.parked.load(Ordering::Acquire);
            let queued = shared.inboxes[i].len();
            let age = now.saturating_sub(beat);
            let state = if exited {
                ServiceHealth::Down
            } else if !parked && queued > 0 && age > stale_ms {
                ServiceHealth::Stalled
            } else {
                ServiceHealth::Up
            };
            WorkerHealth {
                worker: i,
                state,
                heartbeat_age_ms: age,
                inbox_depth: queued,
                pinned: s.pinned.load(Ordering::Relaxed),
            }
        })
        .collect();
    let up = workers
        .iter()
        .filter(|w| w.state == ServiceHealth::Up)
        .count();
    let draining = shared.draining.load(Ordering::Acquire);
    let over_memory = shared
        .telemetry
        .memory_over_limit(cfg.performance.memory_limit_mb);
    let sessions = shared.live.sessions_open.load(Ordering::Relaxed);
    let saturated = sessions >= cfg.coordination.max_concurrent_coordinations;

    let mut services = BTreeMap::new();
    let core = if up == 0 {
        ServiceHealth::Down
    } else if draining {
        ServiceHealth::Draining
    } else if up == workers.len() {
        ServiceHealth::Up
    } else {
        ServiceHealth::Degraded
    };
    services.insert("core", core);
    let registry_full = shared.registry.count() >= cfg.effective_max_agents();
    services.insert(
        "agent_registry",
        if registry_full {
            ServiceHealth::Saturated
        } else {
            core.or_up()
        },
    );
    services.insert(
        "coordination",
        if saturated {
            ServiceHealth::Saturated
        } else {
            core.or_up()
        },
    );
    services.insert(
        "telemetry",
        if cfg.telemetry_on() {
            ServiceHealth::Up
        } else {
            ServiceHealth::Disabled
        },
    );
    services.insert(
        "memory",
        if over_memory {
            ServiceHealth::Degraded
        } else {
            ServiceHealth::Up
        },
    );

    let status = if up == 0 {
        HealthStatus::Unhealthy
    } else if up < workers.len() || over_memory || saturated || registry_full || draining {
        HealthStatus::Degraded
    } else {
        HealthStatus::Healthy
    };
    EngineHealth {
        status,
        ready: shared.ready.load(Ordering::Acquire) && !draining && !over_memory,
        services,
        workers,
    }
}

impl ServiceHealth {
    /// A service that depends on the core shares its trouble, else is up.
    fn or_up(self) -> ServiceHealth {
        match self {
            ServiceHealth::Up | ServiceHealth::Draining => self,
            _ => ServiceHealth::Degraded,
        }
    }
}
