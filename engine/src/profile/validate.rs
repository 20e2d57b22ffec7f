//! Limits and consistency rules a [`Config`] must meet.
//!
//! Upper bounds keep start-up preallocation sane (a typo of three extra zeros must not make
//! the engine try to reserve terabytes); lower bounds refuse zero where zero makes no sense.

use super::Config;
use super::rules;
use std::fmt::Display;
use std::time::Duration;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    /// `section.key` the rule is attached to.
    pub(crate) key: &'static str,
    /// The value, with its unit.
    pub(crate) value: String,
    /// What is wrong.
    pub(crate) problem: String,
    /// How to fix it.
    pub(crate) fix: String,
}

/// The most agents, variables, bids ... a node preallocates room for.
pub(crate) const COUNT_MAX: usize = 10_000_000;
pub(crate) const HOUR_MS: u64 = 3_600_000;
pub(crate) const DAY_MS: u64 = 24 * HOUR_MS;
pub(crate) const YEAR_MS: u64 = 365 * DAY_MS;

#[derive(Default)]
pub(crate) struct Checks {
    found: Vec<Violation>,
}

impl Checks {
    pub(crate) fn fail(
        &mut self,
        key: &'static str,
        value: impl Display,
        problem: String,
        fix: String,
    ) {
        self.found.push(Violation {
            key,
            value: value.to_string(),
            problem,
            fix,
        });
    }

    /// `lo <= value <= hi` for counts.
    pub(crate) fn count<T: Copy + PartialOrd + Display>(
        &mut self,
        key: &'static str,
        value: T,
        lo: T,
        hi: T,
    ) {
        if value < lo || value > hi {
            let problem = if value < lo {
                format!("must be at least {lo}")
            } else {
                format!("must be at most {hi}")
            };
            self.fail(key, value, problem, format!("set it between {lo} and {hi}"));
        }
    }

    /// `lo <= value <= hi` for durations written in `unit`.
    pub(crate) fn duration(
        &mut self,
        key: &'static str,
        value: Duration,
        lo: Duration,
        hi: Duration,
    ) {
        if value < lo || value > hi {
            let (scale, unit) = unit_of(key);
            let show = |d: Duration| d.as_micros() / scale;
            let problem = if value < lo {
                format!("must be at least {} {unit}", show(lo))
            } else {
                format!("must be at most {} {unit}", show(hi))
            };
            self.fail(
                key,
                format!("{} {unit}", show(value)),
                problem,
                format!("set it between {} and {} ({unit})", show(lo), show(hi)),
            );
        }
    }

    /// `small <= large` for two durations of the same unit.
    pub(crate) fn ordered(
        &mut self,
        small: (&'static str, Duration),
        large: (&'static str, Duration),
    ) {
        if small.1 > large.1 {
            let (scale, unit) = unit_of(small.0);
            let show = |d: Duration| d.as_micros() / scale;
            self.fail(
                small.0,
                format!("{} {unit}", show(small.1)),
                format!("must not exceed `{}` = {} {unit}", large.0, show(large.1)),
                format!(
                    "lower `{}` or raise `{}` so that it is the smaller",
                    small.0, large.0
                ),
            );
        }
    }
}

/// (micros per unit, unit name) for a duration key, from the schema's naming rule.
fn unit_of(key: &str) -> (u128, &'static str) {
    if key.ends_with("_us") {
        (1, "us")
    } else if key.ends_with("_minutes") {
        (60_000_000, "min")
    } else {
        (1_000, "ms")
    }
}

pub(crate) const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Every rule `config` breaks, in key order.
pub(crate) fn violations(config: &Config) -> Vec<Violation> {
    let mut c = Checks::default();
    let core = &config.core;
    c.count("core.max_variables", core.max_variables, 1, COUNT_MAX);
    c.duration(
        "core.coordination_timeout",
        core.coordination_timeout,
        ms(1),
        ms(HOUR_MS),
    );
    c.count(
        "core.history_retention",
        core.history_retention,
        1,
        1_000_000,
    );
    c.duration(
        "core.health_check_interval",
        core.health_check_interval,
        ms(1),
        ms(DAY_MS),
    );
    c.duration(
        "core.graceful_shutdown_timeout",
        core.graceful_shutdown_timeout,
        ms(0),
        ms(HOUR_MS),
    );

    let reg = &config.agent_registry;
    c.count("agent_registry.max_agents", reg.max_agents, 1, COUNT_MAX);
    c.duration(
        "agent_registry.health_check_interval",
        reg.health_check_interval,
        ms(1),
        ms(DAY_MS),
    );
    c.duration(
        "agent_registry.graceful_shutdown_timeout",
        reg.graceful_shutdown_timeout,
        ms(0),
        ms(HOUR_MS),
    );
    c.ordered(
        (
            "agent_registry.graceful_shutdown_timeout",
            reg.graceful_shutdown_timeout,
        ),
        (
            "core.graceful_shutdown_timeout",
            core.graceful_shutdown_timeout,
        ),
    );

    let co = &config.coordination;
    c.duration(
        "coordination.default_timeout",
        co.default_timeout,
        ms(1),
        ms(HOUR_MS),
    );
    c.count(
        "coordination.max_concurrent_coordinations",
        co.max_concurrent_coordinations,
        1,
        1_000_000,
    );
    c.duration(
        "coordination.protocol_timeout",
        co.protocol_timeout,
        ms(1),
        ms(HOUR_MS),
    );
    c.ordered(
        ("coordination.default_timeout", co.default_timeout),
        ("coordination.protocol_timeout", co.protocol_timeout),
    );
    c.duration(
        "coordination.session_deadline_max_ms",
        co.session_deadline_max_ms,
        ms(1),
        ms(YEAR_MS),
    );
    c.duration(
        "coordination.auction_cleanup_interval",
        co.auction_cleanup_interval,
        ms(1),
        ms(DAY_MS),
    );
    c.duration(
        "coordination.market_update_frequency",
        co.market_update_frequency,
        ms(1),
        ms(DAY_MS),
    );
    c.count(
        "coordination.bids_per_auction_max",
        co.bids_per_auction_max,
        1,
        COUNT_MAX,
    );
    c.count(
        "coordination.orders_per_market_max",
        co.orders_per_market_max,
        1,
        COUNT_MAX,
    );
    c.count(
        "coordination.combinatorial_node_limit",
        co.combinatorial_node_limit,
        1,
        100_000_000,
    );
    c.count(
        "coordination.idempotency_keys_max",
        co.idempotency_keys_max,
        1,
        COUNT_MAX,
    );

    let t = &config.telemetry;
    c.duration(
        "telemetry.retention_minutes",
        t.retention_minutes,
        ms(60_000),
        ms(YEAR_MS),
    );
    c.duration(
        "telemetry.cleanup_interval_ms",
        t.cleanup_interval_ms,
        ms(1),
        ms(DAY_MS),
    );
    c.ordered(
        ("telemetry.cleanup_interval_ms", t.cleanup_interval_ms),
        ("telemetry.retention_minutes", t.retention_minutes),
    );
    if !(t.anomaly_threshold.is_finite() && t.anomaly_threshold > 0.0) {
        c.fail(
            "telemetry.anomaly_threshold",
            t.anomaly_threshold,
            "must be a finite number greater than 0".to_owned(),
            "set it to a positive number of standard deviations, e.g. 1.5 or 3.0".to_owned(),
        );
    }
    c.duration(
        "telemetry.export_interval",
        t.export_interval,
        ms(1),
        ms(DAY_MS),
    );
    c.count(
        "telemetry.anomaly_window_samples",
        t.anomaly_window_samples,
        1,
        1_000_000,
    );
    c.count(
        "telemetry.anomaly_min_samples",
        t.anomaly_min_samples,
        1,
        1_000_000,
    );
    if t.anomaly_min_samples > t.anomaly_window_samples {
        c.fail(
            "telemetry.anomaly_min_samples",
            t.anomaly_min_samples,
            format!(
                "must not exceed `telemetry.anomaly_window_samples` = {} (the window never \
                 holds that many samples)",
                t.anomaly_window_samples
            ),
            "lower anomaly_min_samples or raise anomaly_window_samples".to_owned(),
        );
    }

    let p = &config.performance;
    c.count(
        "performance.memory_limit_mb",
        p.memory_limit_mb,
        1,
        1_048_576,
    );
    c.duration(
        "performance.gc_frequency",
        p.gc_frequency,
        ms(1),
        ms(DAY_MS),
    );
    c.duration(
        "performance.metrics_retention",
        p.metrics_retention,
        ms(1),
        ms(YEAR_MS),
    );
    c.duration(
        "performance.memory_sample_interval_ms",
        p.memory_sample_interval_ms,
        ms(1),
        ms(60_000),
    );
    c.count("performance.process_limit", p.process_limit, 1, COUNT_MAX);

    let cc = &config.concurrency;
    c.count(
        "concurrency.max_agents_per_node",
        cc.max_agents_per_node,
        1,
        COUNT_MAX,
    );
    c.count(
        "concurrency.coordination_pool_size",
        cc.coordination_pool_size,
        1,
        1_000_000,
    );
    c.count(
        "concurrency.telemetry_buffer_size",
        cc.telemetry_buffer_size,
        1,
        1_048_576,
    );

    let h = &config.health_monitoring;
    c.duration(
        "health_monitoring.global_health_check_interval",
        h.global_health_check_interval,
        ms(1),
        ms(DAY_MS),
    );
    c.duration(
        "health_monitoring.health_check_timeout",
        h.health_check_timeout,
        ms(1),
        ms(HOUR_MS),
    );
    c.ordered(
        (
            "health_monitoring.health_check_timeout",
            h.health_check_timeout,
        ),
        (
            "health_monitoring.global_health_check_interval",
            h.global_health_check_interval,
        ),
    );
    c.count(
        "health_monitoring.unhealthy_threshold",
        h.unhealthy_threshold,
        1,
        1_000,
    );
    c.count(
        "health_monitoring.degraded_threshold",
        h.degraded_threshold,
        1,
        1_000,
    );
    if h.degraded_threshold > h.unhealthy_threshold {
        c.fail(
            "health_monitoring.degraded_threshold",
            h.degraded_threshold,
            format!(
                "must not exceed `health_monitoring.unhealthy_threshold` = {} (a component is \
                 degraded before it is unhealthy)",
                h.unhealthy_threshold
            ),
            "lower degraded_threshold or raise unhealthy_threshold".to_owned(),
        );
    }

    rules::engine(config, &mut c);
    rules::logs(config, &mut c);
    rules::server(config, &mut c);
    rules::security(config, &mut c);
    rules::budgets(config, &mut c);
    c.found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_test_min_pass() {
        assert_eq!(violations(&Config::default()), Vec::new());
        assert_eq!(violations(&Config::test_min()), Vec::new());
    }

    #[test]
    fn zero_agents_is_refused_with_a_range() {
        let mut config = Config::default();
        config.agent_registry.max_agents = 0;
        let found = violations(&config);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key, "agent_registry.max_agents");
        assert_eq!(found[0].fix, "set it between 1 and 10000000");
    }

    #[test]
    fn durations_are_shown_in_their_unit() {
        let mut config = Config::default();
        config.engine.tick_budget_us = Duration::from_secs(5);
        let found = violations(&config);
        assert_eq!(found[0].value, "5000000 us");
        assert_eq!(found[0].problem, "must be at most 1000000 us");
        let mut config = Config::default();
        config.telemetry.retention_minutes = Duration::ZERO;
        let found = violations(&config);
        assert_eq!(found[0].key, "telemetry.retention_minutes");
        assert_eq!(found[0].value, "0 min");
    }

    #[test]
    fn nan_threshold_and_bad_fraction_are_refused() {
        let mut config = Config::default();
        config.telemetry.anomaly_threshold = f64::NAN;
        config.budgets.error_rate = 1.5;
        let keys: Vec<_> = violations(&config).into_iter().map(|v| v.key).collect();
        assert_eq!(keys, ["telemetry.anomaly_threshold", "budgets.error_rate"]);
    }

    #[test]
    fn shard_total_is_bounded() {
        let mut config = Config::default();
        config.engine.workers = 1_024;
        config.engine.shards_per_worker = 4_096;
        let found = violations(&config);
        assert!(found.iter().any(|v| v.problem.contains("65536 shards")));
    }
}
