//! Every section and key: type, unit, built-in default and `test_min` value.
//!
//! Key names follow the deployment guide; durations are milliseconds unless the name ends in
//! another unit (`_us`, `_minutes`). Keys added by mabeam put the unit last in the name.

use super::codec::{
    Addr, Audit, Count, Flag, Format, Int, Level, Micros, Millis, Minutes, Networks, OptAddr,
    OptPath, OptText, Real, Restart, Small,
};
use super::schema::settings;
use super::tokens::{TokenConfig, TokenSpec, Tokens};
use super::types::{AuditLevel, LogFormat, LogLevel, RestartStrategy};
use ipnet::IpNet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

const fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

settings! {
    /// `[core]`: engine-wide limits and timers.
    [core] CoreConfig / CoreSpec {
        /// Most shared variables held at once (count).
        max_variables: usize as u64 => Count = 10_000, 4;
        /// Deadline of one coordination (written in ms).
        coordination_timeout: Duration as u64 => Millis = ms(5_000), ms(50);
        /// History entries kept per shared variable (count).
        history_retention: usize as u64 => Count = 100, 4;
        /// Interval between engine self health checks (written in ms).
        health_check_interval: Duration as u64 => Millis = ms(30_000), ms(10);
        /// Time the engine gives in-flight work to finish on shutdown (written in ms).
        graceful_shutdown_timeout: Duration as u64 => Millis = ms(5_000), ms(100);
        /// Master switch for telemetry recording.
        telemetry_enabled: bool as bool => Flag = true, true;
        /// Least severe log events written (`MABEAM_LOG` / `RUST_LOG` filters win).
        log_level: LogLevel as String => Level = LogLevel::Info, LogLevel::Info;
        /// Server log file, rotated by size (unset: logs go to stderr).
        log_file: Option<PathBuf> as String => OptPath = None, None;
        /// Size at which the log file is rotated (bytes).
        log_file_max_bytes: u64 as u64 => Int = 104_857_600, 4_096;
        /// Rotated log files kept besides the live one (count).
        log_files_max: usize as u64 => Count = 5, 2;
    }

    /// `[agent_registry]`: agent table capacity and supervision.
    [agent_registry] AgentRegistryConfig / AgentRegistrySpec {
        /// Agent slots preallocated at start-up (count).
        max_agents: usize as u64 => Count = 10_000, 8;
        /// Interval between agent health checks (written in ms).
        health_check_interval: Duration as u64 => Millis = ms(30_000), ms(10);
        /// Restart failed agents per their restart strategy.
        auto_restart: bool as bool => Flag = true, true;
        /// Track per-agent resource use (message counts, handler time).
        resource_monitoring: bool as bool => Flag = false, true;
        /// Default restart strategy of a newly registered agent.
        restart_strategy: RestartStrategy as String => Restart =
            RestartStrategy::Permanent, RestartStrategy::Permanent;
        /// Time an agent gets to stop cleanly (written in ms).
        graceful_shutdown_timeout: Duration as u64 => Millis = ms(5_000), ms(100);
    }

    /// `[coordination]`: auctions, markets, consensus.
    [coordination] CoordinationConfig / CoordinationSpec {
        /// Deadline of a one-shot coordination (written in ms).
        default_timeout: Duration as u64 => Millis = ms(5_000), ms(50);
        /// Coordinations open at once (count).
        max_concurrent_coordinations: usize as u64 => Count = 1_000, 4;
        /// Deadline of one protocol step, such as one round or one clearing (written in ms).
        protocol_timeout: Duration as u64 => Millis = ms(10_000), ms(100);
        /// Longest deadline a live session (auction, market, consensus round) may ask for
        /// (written in ms); a session that names none stays open until closed.
        session_deadline_max_ms: Duration as u64 => Millis = ms(86_400_000), ms(10_000);
        /// Interval between sweeps of closed and expired auctions (written in ms).
        auction_cleanup_interval: Duration as u64 => Millis = ms(60_000), ms(10);
        /// Interval between market price updates (written in ms).
        market_update_frequency: Duration as u64 => Millis = ms(5_000), ms(10);
        /// Record coordination telemetry events.
        telemetry_enabled: bool as bool => Flag = true, true;
        /// Keep coordination metrics (counts, clearing latencies).
        metrics_enabled: bool as bool => Flag = true, true;
        /// Bids one auction accepts (count).
        bids_per_auction_max: usize as u64 => Count = 10_000, 16;
        /// Resting orders one market holds (count).
        orders_per_market_max: usize as u64 => Count = 100_000, 16;
        /// Work one combinatorial clearing may spend, VCG re-solves included (bids examined, count).
        combinatorial_node_limit: usize as u64 => Count = 100_000, 64;
        /// Idempotency keys remembered for retried submissions (count).
        idempotency_keys_max: usize as u64 => Count = 100_000, 16;
    }

    /// `[telemetry]`: retention, export and anomaly detection.
    [telemetry] TelemetryConfig / TelemetrySpec {
        /// How long telemetry is kept (written in minutes).
        retention_minutes: Duration as u64 => Minutes = minutes(60), minutes(1);
        /// Interval between telemetry retention sweeps (written in ms).
        cleanup_interval_ms: Duration as u64 => Millis = ms(60_000), ms(10);
        /// Deviations from the moving mean, in standard deviations, that flag an anomaly.
        anomaly_threshold: f64 as f64 => Real = 3.0, 1.5;
        /// Interval between telemetry exports (written in ms).
        export_interval: Duration as u64 => Millis = ms(60_000), ms(10);
        /// Serve the dashboard data endpoint.
        dashboard_enabled: bool as bool => Flag = true, true;
        /// Record telemetry events.
        telemetry_enabled: bool as bool => Flag = true, true;
        /// Export metrics (`/metrics`).
        metrics_enabled: bool as bool => Flag = true, true;
        /// Samples a series needs before anomalies are judged (count).
        anomaly_min_samples: usize as u64 => Count = 30, 4;
        /// Samples in the moving window anomalies are judged against (count).
        anomaly_window_samples: usize as u64 => Count = 1_000, 8;
    }

    /// `[performance]`: memory limit and maintenance ("GC") sweeps.
    [performance] PerformanceConfig / PerformanceSpec {
        /// Memory the process should stay under (MiB).
        memory_limit_mb: u64 as u64 => Int = 1_024, 64;
        /// Interval between maintenance sweeps (written in ms).
        gc_frequency: Duration as u64 => Millis = ms(30_000), ms(10);
        /// How long metrics history is kept (written in ms).
        metrics_retention: Duration as u64 => Millis = ms(3_600_000), ms(1_000);
        /// Interval between memory samples for admission control: one read of the
        /// resident set size (written in ms).
        memory_sample_interval_ms: Duration as u64 => Millis = ms(10), ms(10);
        /// Live agents plus live sessions one node holds at once (count); past it
        /// registrations and session opens are refused with 503 `process_limit`.
        process_limit: usize as u64 => Count = 50_000, 1_024;
    }

    /// `[concurrency]`: node capacity and pool sizes.
    [concurrency] ConcurrencyConfig / ConcurrencySpec {
        /// Agents one node hosts (count); caps `agent_registry.max_agents`.
        max_agents_per_node: usize as u64 => Count = 10_000, 8;
        /// Most clearings queued to the rayon pool at once (count).
        coordination_pool_size: usize as u64 => Count = 64, 4;
        /// Per-worker telemetry event buffer (events).
        telemetry_buffer_size: usize as u64 => Count = 1_024, 4;
    }

    /// `[health_monitoring]`: node health checks.
    [health_monitoring] HealthMonitoringConfig / HealthMonitoringSpec {
        /// Interval between node-wide health checks (written in ms).
        global_health_check_interval: Duration as u64 => Millis = ms(30_000), ms(10);
        /// Time one health check may take (written in ms).
        health_check_timeout: Duration as u64 => Millis = ms(5_000), ms(5);
        /// Consecutive failed checks before a component is unhealthy (count).
        unhealthy_threshold: u32 as u64 => Small = 3, 2;
        /// Consecutive failed checks before a component is degraded (count, <= unhealthy).
        degraded_threshold: u32 as u64 => Small = 1, 1;
    }

    /// `[engine]`: workers, shards, inboxes and ticks.
    [engine] EngineConfig / EngineSpec {
        /// Worker threads; 0 = one per available core but one (at least one): a core stays free to serve.
        workers: usize as u64 => Count = 0, 2;
        /// Pin each worker to a core (refused pinning is logged, not fatal).
        pin_workers: bool as bool => Flag = true, false;
        /// Shards each worker owns (count).
        shards_per_worker: usize as u64 => Count = 4, 2;
        /// Commands one worker's inbox holds; a full inbox hands the command back (count).
        inbox_depth_max: usize as u64 => Count = 4_096, 4;
        /// Commands drained per tick (count, <= inbox_depth_max).
        batch_max: usize as u64 => Count = 256, 2;
        /// A tick longer than this is reported as a stall (written in us).
        tick_budget_us: Duration as u64 => Micros = us(1_000), us(200);
        /// Time an idle worker spins before parking (written in us; 0 = park at once).
        idle_spin_us: Duration as u64 => Micros = us(50), us(10);
        /// Threads of the clearing (rayon) pool; 0 = one per available core but one (at least one): a core stays free to serve.
        clearing_threads: usize as u64 => Count = 0, 1;
    }

    /// `[server]`: the HTTP front end.
    [server] ServerConfig / ServerSpec {
        /// Address the server listens on (IP:PORT).
        listen: SocketAddr as String => Addr = loopback(4000), loopback(0);
        /// This node's name in a multi-node deployment (unset on a single node).
        node_id: Option<String> as String => OptText = None, None;
        /// Largest request body accepted (bytes).
        body_max_bytes: usize as u64 => Count = 1_048_576, 1_024;
        /// Largest request head accepted (bytes, at least 8192).
        header_max_bytes: usize as u64 => Count = 16_384, 8_192;
        /// Time a client has to send the request head (ms).
        header_read_timeout_ms: Duration as u64 => Millis = ms(5_000), ms(100);
        /// Time a whole request may take (ms).
        request_timeout_ms: Duration as u64 => Millis = ms(30_000), ms(500);
        /// Open connections per core (count).
        connections_per_core_max: usize as u64 => Count = 1_024, 4;
        /// Log line format.
        log_format: LogFormat as String => Format = LogFormat::Text, LogFormat::Text;
        /// Time `/ready` answers false after SIGTERM while requests are still served, so
        /// load balancers stop sending before the listeners close (ms).
        drain_grace_ms: Duration as u64 => Millis = ms(5_000), ms(0);
        /// Address of a listener that serves only `/health` and `/ready`, apart from the
        /// API's connection cap (IP:PORT; unset: probes use `listen` only).
        probe_listen: Option<SocketAddr> as String => OptAddr = None, None;
    }

    /// `[security]`: authentication, TLS and audit.
    [security] SecurityConfig / SecuritySpec {
        /// Require a bearer token on API requests.
        auth_enabled: bool as bool => Flag = false, false;
        /// Serve `/metrics` without a token.
        metrics_public: bool as bool => Flag = true, true;
        /// Accepted bearer tokens (`[[security.tokens]]` entries).
        tokens: Vec<TokenConfig> as Vec<TokenSpec> => Tokens = Vec::new(), Vec::new();
        /// TLS certificate chain (PEM file); set together with `tls_key_path`.
        tls_cert_path: Option<PathBuf> as String => OptPath = None, None;
        /// TLS private key (PEM file); set together with `tls_cert_path`.
        tls_key_path: Option<PathBuf> as String => OptPath = None, None;
        /// Write an audit log of authenticated writes.
        audit_enabled: bool as bool => Flag = false, false;
        /// Audit log file (required when `audit_enabled`).
        audit_path: Option<PathBuf> as String => OptPath = None, None;
        /// API requests per second one client may make (0 = no limit): a client is a
        /// bearer token's agent (or role) when `auth_enabled`, else an IP address. Past
        /// it the server answers 429 with `Retry-After`.
        rate_limit_per_second: u64 as u64 => Int = 0, 0;
        /// Requests one client may make at once above its rate (the token bucket's size).
        rate_limit_burst: u64 as u64 => Int = 100, 10;
        /// Which requests get an audit line each: `writes` or `all` (refusals are always
        /// counted per client address and interval instead).
        audit_level: AuditLevel as String => Audit = AuditLevel::Writes, AuditLevel::Writes;
        /// Size at which the audit log is rotated (bytes).
        audit_file_max_bytes: u64 as u64 => Int = 104_857_600, 4_096;
        /// Rotated audit files kept besides the live one (count).
        audit_files_max: usize as u64 => Count = 10, 2;
        /// Interval over which refusals are counted per client address, one audit line
        /// per address per interval (ms).
        audit_refusals_interval_ms: Duration as u64 => Millis = ms(10_000), ms(100);
        /// Failed authentications per second one client address may make before its
        /// requests are refused with 429 without looking at the token (0 = no limit).
        auth_failures_per_second: u64 as u64 => Int = 10, 10;
        /// Failed authentications one address may make at once above that rate.
        auth_failures_burst: u64 as u64 => Int = 20, 20;
        /// Proxies whose `X-Forwarded-For` names the client (comma-separated addresses
        /// or CIDR networks); from any other peer the header is ignored.
        trusted_proxies: Vec<IpNet> as String => Networks = Vec::new(), Vec::new();
    }

    /// `[budgets]`: what the harness holds a run to.
    [budgets] BudgetsConfig / BudgetsSpec {
        /// Median request latency budget (ms).
        latency_p50_ms: Duration as u64 => Millis = ms(2), ms(1);
        /// 99th percentile request latency budget (ms).
        latency_p99_ms: Duration as u64 => Millis = ms(20), ms(10);
        /// 99.9th percentile request latency budget (ms).
        latency_p999_ms: Duration as u64 => Millis = ms(100), ms(50);
        /// Largest acceptable fraction of failed requests (0.0 ..= 1.0).
        error_rate: f64 as f64 => Real = 0.001, 0.01;
        /// Largest acceptable memory growth over a run (MiB).
        memory_growth_mb: u64 as u64 => Int = 64, 16;
        /// 99th percentile maintenance pause budget (ms).
        gc_pause_p99_ms: Duration as u64 => Millis = ms(10), ms(5);
        /// Longest acceptable maintenance pause (ms).
        gc_pause_max_ms: Duration as u64 => Millis = ms(50), ms(20);
    }
}
