//! Values computed from several keys, so callers do not each re-derive them.

use super::{Config, EngineConfig};
use std::num::NonZeroUsize;

impl Config {
    /// Agent slots to preallocate: `min(agent_registry.max_agents,
    /// concurrency.max_agents_per_node)`.
    pub fn effective_max_agents(&self) -> usize {
        self.agent_registry
            .max_agents
            .min(self.concurrency.max_agents_per_node)
    }

    /// Telemetry is recorded only when both `core.telemetry_enabled` and
    /// `telemetry.telemetry_enabled` are on.
    pub fn telemetry_on(&self) -> bool {
        self.core.telemetry_enabled && self.telemetry.telemetry_enabled
    }

    /// Coordination telemetry events: the global switches and `coordination.telemetry_enabled`.
    pub fn coordination_telemetry_on(&self) -> bool {
        self.telemetry_on() && self.coordination.telemetry_enabled
    }

    /// Coordination metrics are kept when both `coordination.metrics_enabled` and
    /// `telemetry.metrics_enabled` are on.
    pub fn coordination_metrics_on(&self) -> bool {
        self.coordination.metrics_enabled && self.telemetry.metrics_enabled
    }

    /// Whether the server terminates TLS (both paths are set; validation refuses just one).
    pub fn tls_enabled(&self) -> bool {
        self.security.tls_cert_path.is_some() && self.security.tls_key_path.is_some()
    }
}

impl EngineConfig {
    /// Worker threads to start given `available` cores: `workers`, or `available` when
    /// `workers` is 0.
    pub fn effective_workers(&self, available: NonZeroUsize) -> usize {
        if self.workers == 0 {
            available.get()
        } else {
            self.workers
        }
    }

    /// Threads of the clearing pool given `available` cores: `clearing_threads`, or
    /// `available - 1` (at least 1) when it is 0, so long clearings never take every core
    /// from request serving and probes.
    pub fn effective_clearing_threads(&self, available: NonZeroUsize) -> usize {
        if self.clearing_threads == 0 {
            available.get().saturating_sub(1).max(1)
        } else {
            self.clearing_threads
        }
    }

    /// Total shards: effective workers times `shards_per_worker`.
    pub fn shard_count(&self, available: NonZeroUsize) -> usize {
        self.effective_workers(available)
            .saturating_mul(self.shards_per_worker)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cores(n: usize) -> NonZeroUsize {
        NonZeroUsize::new(n).expect("non-zero")
    }

    #[test]
    fn max_agents_is_capped_per_node() {
        let mut config = Config::default();
        config.agent_registry.max_agents = 500;
        config.concurrency.max_agents_per_node = 200;
        assert_eq!(config.effective_max_agents(), 200);
        config.concurrency.max_agents_per_node = 900;
        assert_eq!(config.effective_max_agents(), 500);
    }

    #[test]
    fn zero_workers_means_one_per_core() {
        let mut engine = Config::default().engine;
        engine.workers = 0;
        engine.clearing_threads = 0;
        engine.shards_per_worker = 4;
        assert_eq!(engine.effective_workers(cores(6)), 6);
        assert_eq!(engine.effective_clearing_threads(cores(6)), 5);
        assert_eq!(engine.effective_clearing_threads(cores(1)), 1);
        assert_eq!(engine.shard_count(cores(6)), 24);
        engine.workers = 2;
        engine.clearing_threads = 1;
        assert_eq!(engine.effective_workers(cores(6)), 2);
        assert_eq!(engine.effective_clearing_threads(cores(6)), 1);
    }

    #[test]
    fn telemetry_switches_combine() {
        let mut config = Config::default();
        assert!(config.telemetry_on() && config.coordination_telemetry_on());
        config.core.telemetry_enabled = false;
        assert!(!config.telemetry_on() && !config.coordination_telemetry_on());
        config.telemetry.metrics_enabled = false;
        assert!(!config.coordination_metrics_on());
        assert!(!config.tls_enabled());
    }
}
