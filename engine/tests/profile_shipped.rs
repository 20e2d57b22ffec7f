//! The shipped profiles: each loads, `default.toml` is the built-in defaults, `test-min.toml`
//! is `Config::test_min()`, `prod.toml` carries the deployment guide's production values.

use mabeam_engine::profile::{Config, LogFormat, RestartStrategy, Source, key_paths, load};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn profiles_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles")
}

fn profile(name: &str) -> PathBuf {
    profiles_dir().join(format!("{name}.toml"))
}

fn load_profile(name: &str) -> Config {
    match load(Some(&profile(name)), Vec::new()) {
        Ok(loaded) => loaded.config,
        Err(err) => panic!("{name}.toml must load: {err}"),
    }
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn every_shipped_profile_loads() {
    let mut names: Vec<String> = std::fs::read_dir(profiles_dir())
        .expect("profiles/ exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            let loaded = load(Some(&p), Vec::new())
                .unwrap_or_else(|err| panic!("{} must load: {err}", p.display()));
            assert!(loaded.render().contains("SOURCE"));
            p.file_stem()
                .expect("a name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["default", "low-latency", "prod", "test-min", "throughput"]
    );
}

#[test]
fn default_toml_is_the_built_in_defaults_and_writes_every_set_key() {
    let loaded = load(Some(&profile("default")), Vec::new()).expect("loads");
    assert_eq!(loaded.config, Config::default());
    // Every key with a value is written out; only the optional, unset ones are left default.
    let defaulted: Vec<&str> = loaded
        .sources
        .iter()
        .filter(|s| s.source == Source::Default)
        .map(|s| s.key)
        .collect();
    assert_eq!(
        defaulted,
        [
            "core.log_file",
            "server.node_id",
            "server.probe_listen",
            "security.tls_cert_path",
            "security.tls_key_path",
            "security.audit_path"
        ]
    );
    assert_eq!(loaded.sources.len(), key_paths().count());
}

#[test]
fn test_min_toml_is_config_test_min() {
    assert_eq!(load_profile("test-min"), Config::test_min());
}

#[test]
fn test_min_has_tiny_limits() {
    let c = Config::test_min();
    assert_eq!(c.agent_registry.max_agents, 8);
    assert_eq!(c.engine.inbox_depth_max, 4);
    assert_eq!(c.core.max_variables, 4);
    assert_eq!(c.coordination.max_concurrent_coordinations, 4);
    assert_eq!(c.coordination.bids_per_auction_max, 16);
    assert_eq!(c.core.history_retention, 4);
    assert!(c.core.coordination_timeout <= ms(100));
    assert_ne!(c, Config::default());
}

#[test]
fn prod_carries_the_guide_values() {
    let c = load_profile("prod");
    // core
    assert_eq!(c.core.max_variables, 5000);
    assert_eq!(c.core.coordination_timeout, ms(10_000));
    assert_eq!(c.core.history_retention, 1000);
    assert_eq!(c.core.health_check_interval, ms(15_000));
    assert_eq!(c.core.graceful_shutdown_timeout, ms(10_000));
    assert!(c.core.telemetry_enabled);
    // agent_registry
    assert_eq!(c.agent_registry.max_agents, 10_000);
    assert_eq!(c.agent_registry.health_check_interval, ms(20_000));
    assert!(c.agent_registry.auto_restart);
    assert!(c.agent_registry.resource_monitoring);
    assert_eq!(
        c.agent_registry.restart_strategy,
        RestartStrategy::Permanent
    );
    assert_eq!(c.agent_registry.graceful_shutdown_timeout, ms(10_000));
    // coordination
    assert_eq!(c.coordination.default_timeout, ms(10_000));
    assert_eq!(c.coordination.max_concurrent_coordinations, 500);
    assert_eq!(c.coordination.protocol_timeout, ms(15_000));
    assert_eq!(c.coordination.auction_cleanup_interval, ms(60_000));
    assert_eq!(c.coordination.market_update_frequency, ms(5_000));
    assert!(c.coordination.telemetry_enabled && c.coordination.metrics_enabled);
    // telemetry
    assert_eq!(
        c.telemetry.retention_minutes,
        Duration::from_secs(1440 * 60)
    );
    assert_eq!(c.telemetry.cleanup_interval_ms, ms(300_000));
    assert_eq!(c.telemetry.anomaly_threshold, 1.5);
    assert_eq!(c.telemetry.export_interval, ms(60_000));
    assert!(c.telemetry.dashboard_enabled);
    assert!(c.telemetry.telemetry_enabled && c.telemetry.metrics_enabled);
    // performance
    assert_eq!(c.performance.memory_limit_mb, 512);
    assert_eq!(c.performance.gc_frequency, ms(30_000));
    assert_eq!(c.performance.metrics_retention, ms(86_400_000));
    // concurrency
    assert_eq!(c.concurrency.max_agents_per_node, 10_000);
    assert_eq!(c.concurrency.coordination_pool_size, 100);
    assert_eq!(c.concurrency.telemetry_buffer_size, 1_000);
    // health_monitoring
    assert_eq!(c.health_monitoring.global_health_check_interval, ms(30_000));
    assert_eq!(c.health_monitoring.health_check_timeout, ms(5_000));
    assert_eq!(c.health_monitoring.unhealthy_threshold, 3);
    assert_eq!(c.health_monitoring.degraded_threshold, 1);
    // what mabeam adds
    assert_eq!(c.server.log_format, LogFormat::Json);
    assert!(c.security.auth_enabled && c.security.audit_enabled);
    assert!(c.security.audit_path.is_some());
    assert_eq!(c.effective_max_agents(), 10_000);
}

#[test]
fn tuning_profiles_lean_the_way_their_names_say() {
    let low = load_profile("low-latency");
    let thr = load_profile("throughput");
    let def = Config::default();
    assert!(low.engine.batch_max < def.engine.batch_max);
    assert!(thr.engine.batch_max > def.engine.batch_max);
    assert!(low.engine.tick_budget_us < thr.engine.tick_budget_us);
    assert!(low.engine.idle_spin_us > thr.engine.idle_spin_us);
    assert!(low.engine.inbox_depth_max < thr.engine.inbox_depth_max);
    assert!(low.budgets.latency_p99_ms < thr.budgets.latency_p99_ms);
}
