//! Limits and consistency rules a [`Config`] must meet.
//!
//! Upper bounds keep start-up preallocation sane (a typo of three extra zeros must not make
//! the engine try to reserve terabytes); lower bounds refuse zero where zero makes no sense.

use super::Config;
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
const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;
const YEAR_MS: u64 = 365 * DAY_MS;

#[derive(Default)]
struct Checks {
    found: Vec<Violation>,
}

impl Checks {
    fn fail(&mut self, key: &'static str, value: impl Display, problem: String, fix: String) {
        self.found.push(Violation {
            key,
            value: value.to_string(),
            problem,
            fix,
        });
    }

    /// `lo <= value <= hi` for counts.
    fn count<T: Copy + PartialOrd + Display>(&mut self, key: &'static str, value: T, lo: T, hi: T) {
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
    fn duration(&mut self, key: &'static str, value: Duration, lo: Duration, hi: Duration) {
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
    fn ordered(&mut self, small: (&'static str, Duration), large: (&'static str, Duration)) {
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

const fn ms(n: u64) -> Duration {
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

    engine_rules(config, &mut c);
    server_rules(config, &mut c);
    security_rules(config, &mut c);
    budget_rules(config, &mut c);
    c.found
}

fn engine_rules(config: &Config, c: &mut Checks) {
    let e = &config.engine;
    c.count("engine.workers", e.workers, 0, 1_024);
    c.count("engine.shards_per_worker", e.shards_per_worker, 1, 4_096);
    if e.workers.saturating_mul(e.shards_per_worker) > 65_536 {
        c.fail(
            "engine.shards_per_worker",
            e.shards_per_worker,
            format!(
                "workers x shards_per_worker = {} exceeds 65536 shards",
                e.workers.saturating_mul(e.shards_per_worker)
            ),
            "lower engine.shards_per_worker or engine.workers".to_owned(),
        );
    }
    c.count("engine.inbox_depth_max", e.inbox_depth_max, 1, 16_777_216);
    c.count("engine.batch_max", e.batch_max, 1, 16_777_216);
    if e.batch_max > e.inbox_depth_max {
        c.fail(
            "engine.batch_max",
            e.batch_max,
            format!(
                "must not exceed `engine.inbox_depth_max` = {} (a tick cannot drain more than \
                 an inbox holds)",
                e.inbox_depth_max
            ),
            "lower batch_max or raise inbox_depth_max".to_owned(),
        );
    }
    c.duration(
        "engine.tick_budget_us",
        e.tick_budget_us,
        Duration::from_micros(1),
        ms(1_000),
    );
    c.duration(
        "engine.idle_spin_us",
        e.idle_spin_us,
        Duration::ZERO,
        ms(1_000),
    );
    c.count("engine.clearing_threads", e.clearing_threads, 0, 1_024);
}

fn server_rules(config: &Config, c: &mut Checks) {
    let s = &config.server;
    if let Some(node) = &s.node_id {
        let valid = !node.is_empty()
            && node.len() <= 64
            && node
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid {
            c.fail(
                "server.node_id",
                format!("{node:?}"),
                "must be 1 to 64 characters of A-Z a-z 0-9 - _ .".to_owned(),
                "use a short name such as \"mabeam-0\", or remove the key".to_owned(),
            );
        }
    }
    c.count("server.body_max_bytes", s.body_max_bytes, 1, 67_108_864);
    c.count(
        "server.header_max_bytes",
        s.header_max_bytes,
        8_192,
        1_048_576,
    );
    c.duration(
        "server.request_timeout_ms",
        s.request_timeout_ms,
        ms(1),
        ms(HOUR_MS),
    );
    c.duration(
        "server.header_read_timeout_ms",
        s.header_read_timeout_ms,
        ms(1),
        ms(HOUR_MS),
    );
    c.ordered(
        ("server.header_read_timeout_ms", s.header_read_timeout_ms),
        ("server.request_timeout_ms", s.request_timeout_ms),
    );
    c.count(
        "server.connections_per_core_max",
        s.connections_per_core_max,
        1,
        1_000_000,
    );
}

fn security_rules(config: &Config, c: &mut Checks) {
    let s = &config.security;
    match (&s.tls_cert_path, &s.tls_key_path) {
        (Some(cert), None) => c.fail(
            "security.tls_key_path",
            "(unset)",
            format!(
                "tls_cert_path is set ({}) but tls_key_path is not",
                cert.display()
            ),
            "set both tls_cert_path and tls_key_path, or neither (plain HTTP)".to_owned(),
        ),
        (None, Some(key)) => c.fail(
            "security.tls_cert_path",
            "(unset)",
            format!(
                "tls_key_path is set ({}) but tls_cert_path is not",
                key.display()
            ),
            "set both tls_cert_path and tls_key_path, or neither (plain HTTP)".to_owned(),
        ),
        _ => {}
    }
    if s.audit_enabled && s.audit_path.is_none() {
        c.fail(
            "security.audit_path",
            "(unset)",
            "audit_enabled is true but no audit_path is given".to_owned(),
            "set audit_path to a writable file, or set audit_enabled = false".to_owned(),
        );
    }
    c.count("security.tokens", s.tokens.len(), 0, 10_000);
    for (index, token) in s.tokens.iter().enumerate() {
        if s.tokens[..index]
            .iter()
            .any(|t| t.token_sha256 == token.token_sha256)
        {
            c.fail(
                "security.tokens",
                format!("entry {index}"),
                format!("token entry {index} repeats the token_sha256 of an earlier entry"),
                "give each token one entry".to_owned(),
            );
        }
    }
}

fn budget_rules(config: &Config, c: &mut Checks) {
    let b = &config.budgets;
    c.duration(
        "budgets.latency_p50_ms",
        b.latency_p50_ms,
        ms(1),
        ms(HOUR_MS),
    );
    c.duration(
        "budgets.latency_p99_ms",
        b.latency_p99_ms,
        ms(1),
        ms(HOUR_MS),
    );
    c.duration(
        "budgets.latency_p999_ms",
        b.latency_p999_ms,
        ms(1),
        ms(HOUR_MS),
    );
    c.ordered(
        ("budgets.latency_p50_ms", b.latency_p50_ms),
        ("budgets.latency_p99_ms", b.latency_p99_ms),
    );
    c.ordered(
        ("budgets.latency_p99_ms", b.latency_p99_ms),
        ("budgets.latency_p999_ms", b.latency_p999_ms),
    );
    if !(b.error_rate.is_finite() && (0.0..=1.0).contains(&b.error_rate)) {
        c.fail(
            "budgets.error_rate",
            b.error_rate,
            "must be a fraction between 0.0 and 1.0".to_owned(),
            "write a fraction, e.g. 0.001 for 0.1 %".to_owned(),
        );
    }
    c.count("budgets.memory_growth_mb", b.memory_growth_mb, 0, 1_048_576);
    c.duration(
        "budgets.gc_pause_p99_ms",
        b.gc_pause_p99_ms,
        ms(1),
        ms(HOUR_MS),
    );
    c.duration(
        "budgets.gc_pause_max_ms",
        b.gc_pause_max_ms,
        ms(1),
        ms(HOUR_MS),
    );
    c.ordered(
        ("budgets.gc_pause_p99_ms", b.gc_pause_p99_ms),
        ("budgets.gc_pause_max_ms", b.gc_pause_max_ms),
    );
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
