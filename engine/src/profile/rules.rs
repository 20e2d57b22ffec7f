//! Rules for the sections mabeam adds to the deployment guide's: engine, server, security,
//! budgets. The guide's sections are checked in [`validate`](super::validate).

use super::Config;
use super::validate::{Checks, HOUR_MS, ms};
use std::time::Duration;

pub(crate) fn engine(config: &Config, c: &mut Checks) {
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

/// Rotation sizes of the server log and the audit log: a file of at least a few lines,
/// at most 1 TiB; at least one rotated file kept.
pub(crate) fn logs(config: &Config, c: &mut Checks) {
    const FILE_MAX: u64 = 1 << 40;
    c.count(
        "core.log_file_max_bytes",
        config.core.log_file_max_bytes,
        4_096,
        FILE_MAX,
    );
    c.count("core.log_files_max", config.core.log_files_max, 1, 1_000);
    let s = &config.security;
    c.count(
        "security.audit_file_max_bytes",
        s.audit_file_max_bytes,
        4_096,
        FILE_MAX,
    );
    c.count("security.audit_files_max", s.audit_files_max, 1, 1_000);
    c.duration(
        "security.audit_refusals_interval_ms",
        s.audit_refusals_interval_ms,
        ms(10),
        ms(HOUR_MS),
    );
}

pub(crate) fn server(config: &Config, c: &mut Checks) {
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
    c.duration(
        "server.drain_grace_ms",
        s.drain_grace_ms,
        ms(0),
        ms(HOUR_MS),
    );
    if s.probe_listen
        .is_some_and(|p| p == s.listen && p.port() != 0)
    {
        c.fail(
            "server.probe_listen",
            format!(
                "{:?}",
                s.probe_listen.map(|p| p.to_string()).unwrap_or_default()
            ),
            "is the same address as server.listen".to_owned(),
            "give the probes their own port, or remove the key".to_owned(),
        );
    }
}

pub(crate) fn security(config: &Config, c: &mut Checks) {
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
    c.count(
        "security.rate_limit_per_second",
        s.rate_limit_per_second,
        0,
        10_000_000,
    );
    c.count(
        "security.rate_limit_burst",
        s.rate_limit_burst,
        1,
        10_000_000,
    );
    c.count(
        "security.auth_failures_per_second",
        s.auth_failures_per_second,
        0,
        10_000_000,
    );
    c.count(
        "security.auth_failures_burst",
        s.auth_failures_burst,
        1,
        10_000_000,
    );
    c.count(
        "security.trusted_proxies",
        s.trusted_proxies.len(),
        0,
        1_000,
    );
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

pub(crate) fn budgets(config: &Config, c: &mut Checks) {
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
