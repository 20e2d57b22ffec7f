//! Engine health, resource monitoring and the profile switches they read.

use mabeam_engine::api::ErrorClass;
use mabeam_engine::api::{Engine, HealthStatus, ServiceHealth};
use mabeam_engine::profile::Config;
use mabeam_engine::registry::AgentSpec;
use mabeam_engine::runtime::agent::{Agent, AgentContext, AgentError};
use mabeam_engine::telemetry::Window;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn config(workers: usize) -> Config {
    let mut c = Config::test_min();
    c.engine.workers = workers;
    c.performance.memory_limit_mb = 0;
    c
}

/// Sleeps `ms` per message, or blocks until released on `"block"`.
struct Slow(Arc<AtomicBool>);

impl Agent for Slow {
    fn handle(&mut self, msg: Value, _ctx: &mut AgentContext<'_>) -> Result<Value, AgentError> {
        if msg == json!("block") {
            while !self.0.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(1));
            }
        } else if let Some(ms) = msg.as_u64() {
            std::thread::sleep(Duration::from_millis(ms));
        } else {
            return Err(AgentError::new("bad", "send a number of ms"));
        }
        Ok(Value::Null)
    }
}

#[test]
fn a_healthy_engine_reports_every_service_up() {
    let engine = Engine::start(config(2)).unwrap();
    let h = engine.handle();
    let health = h.health();
    assert_eq!(health.status, HealthStatus::Healthy, "{health:?}");
    assert!(health.ready);
    for s in [
        "core",
        "agent_registry",
        "coordination",
        "telemetry",
        "memory",
    ] {
        assert_eq!(health.services[s], ServiceHealth::Up, "{s}: {health:?}");
    }
    assert_eq!(health.workers.len(), 2);
    let json = serde_json::to_value(&health).unwrap();
    assert_eq!(json["status"], "healthy");
    assert_eq!(json["services"]["core"], "up");
}

#[test]
fn a_stuck_worker_with_queued_work_is_reported_stalled() {
    let release = Arc::new(AtomicBool::new(false));
    let r = Arc::clone(&release);
    let mut c = config(1);
    c.health_monitoring.global_health_check_interval = Duration::from_millis(20);
    c.health_monitoring.health_check_timeout = Duration::from_millis(5);
    let engine = Engine::builder(c)
        .kind("slow", move |_| Slow(Arc::clone(&r)))
        .start()
        .unwrap();
    let h = engine.handle();
    h.register(AgentSpec::new("s", "slow")).wait().unwrap();
    h.start("s").wait().unwrap();
    let blocked = h.send("s", json!("block"));
    let queued = h.ping(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let health = h.health();
        if health.workers[0].state == ServiceHealth::Stalled {
            assert_eq!(health.status, HealthStatus::Unhealthy);
            assert_eq!(health.services["core"], ServiceHealth::Down);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never reported stalled: {health:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    release.store(true, Ordering::Release);
    blocked.wait().unwrap();
    queued.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.health().status != HealthStatus::Healthy {
        assert!(Instant::now() < deadline, "never recovered");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn resource_monitoring_measures_each_agent() {
    let flag = Arc::new(AtomicBool::new(true));
    for monitored in [true, false] {
        let mut c = config(1);
        c.agent_registry.resource_monitoring = monitored;
        let f = Arc::clone(&flag);
        let engine = Engine::builder(c)
            .kind("slow", move |_| Slow(Arc::clone(&f)))
            .start()
            .unwrap();
        let h = engine.handle();
        h.register(AgentSpec::new("m", "slow")).wait().unwrap();
        h.start("m").wait().unwrap();
        h.send("m", json!(3)).wait().unwrap();
        h.send("m", json!(1)).wait().unwrap();
        h.send("m", json!("x")).wait().unwrap_err();
        let stats = h.agent_stats("m").wait().unwrap();
        if monitored {
            assert!(stats.monitored);
            assert_eq!((stats.messages, stats.errors), (3, 1));
            assert!(stats.busy_us >= 4_000, "{stats:?}");
            assert!(stats.max_message_us >= 3_000, "{stats:?}");
        } else {
            assert!(!stats.monitored);
            assert_eq!((stats.messages, stats.busy_us), (0, 0));
        }
        assert_eq!(
            h.agent_stats("nobody").wait().unwrap_err().class(),
            ErrorClass::NotFound
        );
    }
}

#[test]
fn the_dashboard_switch_gates_coordination_summaries() {
    let engine = Engine::start(config(1)).unwrap();
    let summary = engine
        .handle()
        .coordination_metrics(None, Window::OneMinute)
        .unwrap();
    assert_eq!(summary.count, 0);
    let err = engine
        .handle()
        .coordination_metrics(Some("telepathy"), Window::OneHour)
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Invalid);

    let mut c = config(1);
    c.telemetry.dashboard_enabled = false;
    let engine = Engine::start(c).unwrap();
    let err = engine
        .handle()
        .coordination_metrics(None, Window::OneMinute)
        .unwrap_err();
    assert_eq!(
        (err.code(), err.class()),
        ("disabled", ErrorClass::NotFound)
    );
}

/// Takes 50 ms to terminate.
struct SlowStop;

impl Agent for SlowStop {
    fn handle(&mut self, _m: Value, _c: &mut AgentContext<'_>) -> Result<Value, AgentError> {
        Ok(Value::Null)
    }
    fn terminate(&mut self, _ctx: &mut AgentContext<'_>) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn agents_get_their_shutdown_budget_and_no_more() {
    let mut c = config(1);
    c.agent_registry.graceful_shutdown_timeout = Duration::from_millis(60);
    c.core.graceful_shutdown_timeout = Duration::from_secs(5);
    let engine = Engine::builder(c)
        .kind("slowstop", |_| SlowStop)
        .start()
        .unwrap();
    let h = engine.handle();
    for i in 0..6 {
        let id = format!("z{i}");
        h.register(AgentSpec::new(id.as_str(), "slowstop"))
            .wait()
            .unwrap();
        h.start(&id).wait().unwrap();
    }
    let started = Instant::now();
    let report = engine.shutdown();
    // Six agents at 50 ms each would take 300 ms; the budget cuts it short.
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.agents_stopped, 6);
    for i in 0..6 {
        let rec = h.agent(&format!("z{i}")).unwrap();
        assert_eq!(rec.state, mabeam_engine::registry::AgentState::Stopped);
    }
}
