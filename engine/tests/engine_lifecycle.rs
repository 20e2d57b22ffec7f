//! The runtime through the public embedding API: lifecycle, supervision,
//! health, back-pressure and shutdown.

use mabeam_engine::api::ErrorClass;
use mabeam_engine::api::{Engine, EngineError};
use mabeam_engine::profile::Config;
use mabeam_engine::registry::{
    AgentFilter, AgentSpec, AgentState, AgentStatus, Health, RestartStrategy,
};
use mabeam_engine::runtime::agent::{Agent, AgentContext, AgentError};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn config(workers: usize) -> Config {
    let mut c = Config::test_min();
    c.engine.workers = workers;
    c.performance.memory_limit_mb = 0;
    c.core.graceful_shutdown_timeout = Duration::from_secs(5);
    c.agent_registry.graceful_shutdown_timeout = Duration::from_secs(5);
    c
}

/// Counts messages; `"panic"` panics, `"stop"` asks to stop, `"sick"` fails health checks.
#[derive(Default)]
struct Counter {
    n: u64,
    sick: bool,
}

impl Agent for Counter {
    fn handle(&mut self, msg: Value, ctx: &mut AgentContext<'_>) -> Result<Value, AgentError> {
        match msg.as_str() {
            Some("panic") => panic!("asked to panic"),
            Some("stop") => ctx.stop(),
            Some("sick") => self.sick = true,
            Some("err") => return Err(AgentError::new("refused", "asked to refuse")),
            _ => {}
        }
        self.n += 1;
        Ok(json!(self.n))
    }

    fn health_check(&mut self, _ctx: &mut AgentContext<'_>) -> bool {
        !self.sick
    }
}

fn spec(id: &str, strategy: Option<RestartStrategy>, max_restarts: u32) -> AgentSpec {
    let mut s = AgentSpec::new(id, "counter");
    s.supervision.strategy = strategy;
    s.supervision.max_restarts = max_restarts;
    s.supervision.max_seconds = 60;
    s
}

fn engine(workers: usize) -> Engine {
    Engine::builder(config(workers))
        .kind("counter", |_| Counter::default())
        .start()
        .expect("engine starts")
}

#[test]
fn register_start_send_stop_deregister_at_one_and_two_workers() {
    for workers in [1, 2] {
        let engine = engine(workers);
        let h = engine.handle();
        assert_eq!(h.workers(), workers);
        for i in 0..4 {
            let rec = h.register(spec(&format!("a{i}"), None, 3)).wait().unwrap();
            assert_eq!(rec.state, AgentState::Registered);
            // The profile's default strategy fills in an omitted one.
            assert_eq!(
                rec.spec.supervision.strategy,
                Some(RestartStrategy::Permanent)
            );
        }
        assert_eq!(h.agent_count(), 4);
        assert_eq!(h.start("a1").wait().unwrap().state, AgentState::Running);
        assert_eq!(h.send("a1", json!("hi")).wait().unwrap(), json!(1));
        assert_eq!(h.send("a1", json!("hi")).wait().unwrap(), json!(2));
        let running = h.agents(&AgentFilter {
            state: Some(AgentState::Running),
            ..AgentFilter::default()
        });
        assert_eq!(running.len(), 1);
        assert_eq!(running[0].id(), "a1");
        assert_eq!(h.agent("a1").unwrap().health, Health::Healthy);
        let status = h.agent_status("a1").unwrap();
        assert_eq!(status, AgentStatus::of(&h.agent("a1").unwrap()));
        assert_eq!(
            (status.state, status.health),
            (AgentState::Running, Health::Healthy)
        );
        // An agent error is answered, and the agent keeps running.
        match h.send("a1", json!("err")).wait() {
            Err(EngineError::Agent(e)) => assert_eq!(e.code, "refused"),
            other => panic!("expected an agent error, got {other:?}"),
        }
        assert_eq!(h.send("a1", json!("x")).wait().unwrap(), json!(3));
        // Messages to a registered (not running) agent are refused.
        let err = h.send("a0", json!("hi")).wait().unwrap_err();
        assert_eq!(err.code(), "agent_not_running");
        assert_eq!(err.class(), ErrorClass::Conflict);
        // Starting a running agent is an invalid transition.
        let err = h.start("a1").wait().unwrap_err();
        assert_eq!(err.code(), "invalid_transition");
        assert_eq!(h.stop("a1").wait().unwrap().state, AgentState::Stopped);
        assert_eq!(h.deregister("a1").wait().unwrap().id(), "a1");
        assert!(h.agent("a1").is_none());
        assert!(h.agent_status("a1").is_none());
        assert_eq!(
            h.deregister("a1").wait().unwrap_err().class(),
            ErrorClass::NotFound
        );
        assert_eq!(
            h.register(spec("a0", None, 3)).wait().unwrap_err().class(),
            ErrorClass::Conflict
        );
        let report = engine.shutdown();
        assert!(report.clean, "{report:?}");
    }
}

#[test]
fn capacity_refusal_disturbs_nothing() {
    let engine = engine(2);
    let h = engine.handle();
    for i in 0..8 {
        h.register(spec(&format!("c{i}"), None, 3)).wait().unwrap();
    }
    let err = h.register(spec("c8", None, 3)).wait().unwrap_err();
    assert_eq!(err.code(), "capacity");
    assert_eq!(h.agent_count(), 8);
    h.start("c3").wait().unwrap();
    assert_eq!(h.send("c3", json!(1)).wait().unwrap(), json!(1));
    h.deregister("c0").wait().unwrap();
    h.register(spec("c8", None, 3)).wait().unwrap();
}

#[test]
fn permanent_agent_restarts_after_a_crash_with_fresh_state() {
    let engine = engine(2);
    let h = engine.handle();
    h.register(spec("p", Some(RestartStrategy::Permanent), 3))
        .wait()
        .unwrap();
    h.start("p").wait().unwrap();
    h.send("p", json!("x")).wait().unwrap();
    h.send("p", json!("x")).wait().unwrap();
    let err = h.send("p", json!("panic")).wait().unwrap_err();
    assert_eq!(err.code(), "agent_crashed");
    let rec = h.agent("p").unwrap();
    assert_eq!(rec.state, AgentState::Running);
    assert_eq!(rec.restarts, 1);
    assert_eq!(rec.failures, 1);
    // A fresh instance: its count starts again.
    assert_eq!(h.send("p", json!("x")).wait().unwrap(), json!(1));
}

#[test]
fn strategies_decide_what_follows_crashes_and_normal_exits() {
    let engine = engine(1);
    let h = engine.handle();
    for (id, strategy) in [
        ("perm", RestartStrategy::Permanent),
        ("trans", RestartStrategy::Transient),
        ("temp", RestartStrategy::Temporary),
    ] {
        h.register(spec(id, Some(strategy), 5)).wait().unwrap();
        h.start(id).wait().unwrap();
    }
    // Crash: permanent and transient come back; temporary stays failed.
    for id in ["perm", "trans", "temp"] {
        h.send(id, json!("panic")).wait().unwrap_err();
    }
    assert_eq!(h.agent("perm").unwrap().state, AgentState::Running);
    assert_eq!(h.agent("trans").unwrap().state, AgentState::Running);
    assert_eq!(h.agent("temp").unwrap().state, AgentState::Failed);
    // Normal exit: only permanent comes back.
    h.send("perm", json!("stop")).wait().unwrap();
    h.send("trans", json!("stop")).wait().unwrap();
    assert_eq!(h.agent("perm").unwrap().state, AgentState::Running);
    assert_eq!(h.agent("trans").unwrap().state, AgentState::Stopped);
    // An operator stop is never undone by the supervisor.
    h.stop("perm").wait().unwrap();
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(h.agent("perm").unwrap().state, AgentState::Stopped);
}

#[test]
fn restart_intensity_exhausted_leaves_the_agent_failed_and_counts_it() {
    let engine = engine(1);
    let h = engine.handle();
    h.register(spec("flaky", Some(RestartStrategy::Permanent), 2))
        .wait()
        .unwrap();
    h.start("flaky").wait().unwrap();
    h.send("flaky", json!("panic")).wait().unwrap_err();
    h.send("flaky", json!("panic")).wait().unwrap_err();
    assert_eq!(h.agent("flaky").unwrap().state, AgentState::Running);
    h.send("flaky", json!("panic")).wait().unwrap_err();
    let rec = h.agent("flaky").unwrap();
    assert_eq!(rec.state, AgentState::Failed);
    assert_eq!(rec.restarts, 2);
    assert_eq!(rec.failures, 3);
    assert_eq!(
        h.telemetry()
            .counter(mabeam_engine::telemetry::Counter::RestartIntensityExceeded),
        1
    );
    // An operator may still start it again.
    assert_eq!(h.start("flaky").wait().unwrap().state, AgentState::Running);
    drop(engine);
}

#[test]
fn auto_restart_off_turns_restarts_off() {
    let mut c = config(1);
    c.agent_registry.auto_restart = false;
    let engine = Engine::builder(c)
        .kind("counter", |_| Counter::default())
        .start()
        .unwrap();
    let h = engine.handle();
    h.register(spec("x", Some(RestartStrategy::Permanent), 5))
        .wait()
        .unwrap();
    h.start("x").wait().unwrap();
    h.send("x", json!("panic")).wait().unwrap_err();
    assert_eq!(h.agent("x").unwrap().state, AgentState::Failed);
}

#[test]
fn failed_health_checks_degrade_then_make_unhealthy() {
    // test-min: checks every 10 ms, degraded after 1 failure, unhealthy after 2.
    let engine = engine(1);
    let h = engine.handle();
    h.register(spec("h", None, 3)).wait().unwrap();
    h.start("h").wait().unwrap();
    assert_eq!(h.agent("h").unwrap().health, Health::Healthy);
    h.send("h", json!("sick")).wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen_degraded = false;
    loop {
        match h.agent("h").unwrap().health {
            Health::Degraded => seen_degraded = true,
            Health::Unhealthy => break,
            _ => {}
        }
        assert!(Instant::now() < deadline, "never became unhealthy");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(seen_degraded || h.config().health_monitoring.degraded_threshold == 2);
}

/// Blocks its worker until released: lets a test fill the inbox.
struct Blocker(Arc<AtomicBool>);

impl Agent for Blocker {
    fn handle(&mut self, _msg: Value, _ctx: &mut AgentContext<'_>) -> Result<Value, AgentError> {
        while !self.0.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(Value::Null)
    }
}

#[test]
fn a_full_inbox_refuses_with_overloaded_and_loses_nothing_accepted() {
    let release = Arc::new(AtomicBool::new(false));
    let r = Arc::clone(&release);
    let engine = Engine::builder(config(1))
        .kind("blocker", move |_| Blocker(Arc::clone(&r)))
        .start()
        .unwrap();
    let h = engine.handle();
    h.register(AgentSpec::new("b", "blocker")).wait().unwrap();
    h.start("b").wait().unwrap();
    let blocked = h.send("b", json!("block"));
    std::thread::sleep(Duration::from_millis(20));
    let mut accepted = Vec::new();
    let mut refused = 0;
    for _ in 0..20 {
        let p = h.ping(0);
        accepted.push(p);
    }
    let mut answered = 0;
    // Release the worker, then collect every answer.
    release.store(true, Ordering::Release);
    blocked.wait().unwrap();
    for p in accepted {
        match p.wait() {
            Ok(0) => answered += 1,
            Err(EngineError::Overloaded { worker: 0 }) => refused += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    // inbox_depth_max is 4 in test-min: at most 4 waited, the rest were refused.
    assert!(refused >= 16, "refused {refused}");
    assert_eq!(answered + refused, 20);
    assert!(answered >= 1);
    let err = EngineError::Overloaded { worker: 0 };
    assert_eq!(
        (err.class(), err.code(), err.is_retryable()),
        (ErrorClass::Overloaded, "overloaded", true)
    );
}

#[test]
fn shutdown_answers_everything_queued_and_stops_agents() {
    let engine = engine(2);
    let h = engine.handle();
    h.register(spec("s", None, 3)).wait().unwrap();
    h.start("s").wait().unwrap();
    let answered = Arc::new(AtomicU64::new(0));
    let pending: Vec<_> = (0..3).map(|_| h.send("s", json!("x"))).collect();
    let report = engine.shutdown();
    for p in pending {
        if p.wait().is_ok() {
            answered.fetch_add(1, Ordering::Relaxed);
        }
    }
    assert_eq!(answered.load(Ordering::Relaxed), 3);
    assert!(report.clean, "{report:?}");
    assert_eq!(report.agents_stopped, 1);
    assert_eq!(h.agent("s").unwrap().state, AgentState::Stopped);
    assert!(!h.is_ready());
    assert_eq!(h.ping(0).wait().unwrap_err().code(), "shutting_down");
}

#[test]
fn shutdown_past_its_deadline_abandons_and_says_so() {
    let release = Arc::new(AtomicBool::new(false));
    let r = Arc::clone(&release);
    let mut c = config(1);
    c.core.graceful_shutdown_timeout = Duration::from_millis(100);
    c.agent_registry.graceful_shutdown_timeout = Duration::from_millis(100);
    let engine = Engine::builder(c)
        .kind("blocker", move |_| Blocker(Arc::clone(&r)))
        .start()
        .unwrap();
    let h = engine.handle();
    h.register(AgentSpec::new("b", "blocker")).wait().unwrap();
    h.start("b").wait().unwrap();
    let blocked = h.send("b", json!("block"));
    std::thread::sleep(Duration::from_millis(20));
    let queued = h.ping(0);
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        release.store(true, Ordering::Release);
    });
    let report = engine.shutdown();
    assert!(!report.clean, "{report:?}");
    // The queued ping was either dropped (Canceled) after the deadline or the
    // worker was still blocked and is reported unjoined; either way nobody waits forever.
    assert!(
        report.abandoned >= 1 || !report.workers_unjoined.is_empty(),
        "{report:?}"
    );
    releaser.join().unwrap();
    assert!(blocked.wait().is_ok());
    assert!(queued.wait_timeout(Duration::from_secs(5)).is_err());
}

#[test]
fn strict_kinds_refuse_unknown_kinds() {
    let engine = Engine::builder(config(1)).strict_kinds().start().unwrap();
    let err = engine
        .handle()
        .register(AgentSpec::new("x", "nobody"))
        .wait()
        .unwrap_err();
    assert_eq!(err.code(), "unknown_kind");
}

#[test]
fn over_the_memory_limit_new_agents_are_refused() {
    let mut c = config(1);
    c.performance.memory_limit_mb = 1;
    let engine = Engine::start(c).unwrap();
    let h = engine.handle();
    // The sweep samples memory every gc_frequency (10 ms in test-min): wait for
    // a sample, however loaded the machine.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !h.telemetry().memory_over_limit(1) {
        assert!(Instant::now() < deadline, "no memory sample within 30 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    let err = h.register(AgentSpec::new("m", "any")).wait().unwrap_err();
    assert_eq!(
        (err.code(), err.class()),
        ("memory_limit", ErrorClass::Overloaded)
    );
    assert_eq!(h.agent_count(), 0);
    // Existing work continues.
    assert_eq!(h.ping(0).wait().unwrap(), 0);
}

#[test]
fn replies_can_be_awaited() {
    use std::future::Future;
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let engine = engine(2);
    let h = engine.handle();
    let mut fut = Box::pin(h.ping(1));
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let answer = loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(r) => break r,
            Poll::Pending => std::thread::park_timeout(Duration::from_millis(100)),
        }
    };
    assert_eq!(answer.unwrap(), 1);
}
