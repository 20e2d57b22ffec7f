//! Shared variables through the engine's `Handle`: routed to their owner worker,
//! optimistic versions, bounded history, an engine-wide `max_variables`, and
//! subscriptions delivered to agents as messages.

use mabeam_engine::api::ErrorClass;
use mabeam_engine::api::{Engine, EngineError, Pending};
use mabeam_engine::profile::Config;
use mabeam_engine::registry::AgentSpec;
use mabeam_engine::runtime::agent::{Agent, AgentContext, AgentError};
use mabeam_engine::variables::{CoordinateRequest, CreateRequest, UpdateRequest};
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn config(workers: usize) -> Config {
    let mut c = Config::test_min();
    c.engine.workers = workers;
    c.performance.memory_limit_mb = 0;
    c.engine.inbox_depth_max = 64;
    c
}

fn wait<T>(p: Pending<T>) -> Result<T, EngineError> {
    p.wait_timeout(Duration::from_secs(10))
}

fn create(name: &str, value: Value) -> CreateRequest {
    serde_json::from_value(json!({"name": name, "value": value})).unwrap()
}

fn put(value: Value, agent: &str, version: Option<u64>) -> UpdateRequest {
    UpdateRequest {
        value,
        agent_id: agent.into(),
        version,
    }
}

#[test]
fn versions_conflict_and_history_is_bounded() {
    for workers in [1, 2] {
        let engine = Engine::start(config(workers)).unwrap();
        let h = engine.handle();
        let created = wait(h.create_variable(create("rate", json!(1)))).unwrap();
        assert_eq!(created.version, 1);
        let e = wait(h.create_variable(create("rate", json!(2)))).unwrap_err();
        assert_eq!(
            (e.code(), e.class()),
            ("already_exists", ErrorClass::Conflict)
        );
        let v2 = wait(h.update_variable("rate", put(json!(2), "a", Some(1)))).unwrap();
        assert_eq!(v2.version, 2);
        let stale = wait(h.update_variable("rate", put(json!(3), "b", Some(1)))).unwrap_err();
        assert_eq!(
            (stale.code(), stale.class()),
            ("version_conflict", ErrorClass::Conflict)
        );
        for i in 3..=8 {
            wait(h.update_variable("rate", put(json!(i), "a", None))).unwrap();
        }
        let info = wait(h.get_variable("rate")).unwrap();
        assert_eq!(
            (info.version, info.value.clone(), info.updated_by.as_str()),
            (8, json!(8), "a")
        );
        // core.history_retention is 4 in test-min: the 4 newest, newest first.
        let history = wait(h.variable_history("rate", None)).unwrap().history;
        let versions: Vec<u64> = history.iter().map(|r| r.version).collect();
        assert_eq!(versions, [8, 7, 6, 5]);
        assert_eq!(
            wait(h.variable_history("rate", Some(2)))
                .unwrap()
                .history
                .len(),
            2
        );
        let e = wait(h.get_variable("missing")).unwrap_err();
        assert_eq!((e.code(), e.class()), ("not_found", ErrorClass::NotFound));
        engine.shutdown();
    }
}

#[test]
fn max_variables_is_engine_wide() {
    let engine = Engine::start(config(2)).unwrap();
    let h = engine.handle();
    let max = h.config().core.max_variables;
    // Names land on both workers; the limit counts them together.
    for i in 0..max {
        wait(h.create_variable(create(&format!("v{i}"), json!(i)))).unwrap();
    }
    let e = wait(h.create_variable(create("one-more", json!(0)))).unwrap_err();
    assert_eq!((e.code(), e.class()), ("capacity", ErrorClass::Conflict));
    // A refused create does not leak its reservation; a remove frees a place.
    wait(h.remove_variable("v0")).unwrap();
    wait(h.create_variable(create("one-more", json!(0)))).unwrap();
    let e = wait(h.create_variable(create("two-more", json!(0)))).unwrap_err();
    assert_eq!(e.code(), "capacity");
}

#[test]
fn coordinate_variable_by_vote() {
    let engine = Engine::start(config(2)).unwrap();
    let h = engine.handle();
    wait(h.create_variable(create("leader", json!("none")))).unwrap();
    let req: CoordinateRequest = serde_json::from_value(json!({
        "protocol": "vote", "rule": "weighted",
        "votes": [{"agent_id": "a", "value": "n1", "weight": 2},
                  {"agent_id": "b", "value": "n2"}]}))
    .unwrap();
    let r = wait(h.coordinate_variable("leader", req)).unwrap();
    assert!(r.decided);
    assert_eq!((r.value.clone(), r.version), (json!("n1"), 2));
}

/// Records every message it receives.
struct Recorder(Arc<Mutex<Vec<Value>>>);

impl Agent for Recorder {
    fn handle(&mut self, msg: Value, _ctx: &mut AgentContext<'_>) -> Result<Value, AgentError> {
        self.0.lock().push(msg);
        Ok(Value::Null)
    }
}

#[test]
fn subscriptions_are_delivered_to_agents() {
    for workers in [1, 2] {
        let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
        let sink = Arc::clone(&seen);
        let engine = Engine::builder(config(workers))
            .kind("recorder", move |_| Recorder(Arc::clone(&sink)))
            .start()
            .unwrap();
        let h = engine.handle();
        // Several agents, so that with 2 workers some live on another worker
        // than the variable.
        let agents: Vec<String> = (0..4).map(|i| format!("watcher-{i}")).collect();
        for a in &agents {
            wait(h.register(AgentSpec::new(a.as_str(), "recorder"))).unwrap();
            wait(h.start(a)).unwrap();
        }
        wait(h.create_variable(create("plan", json!("a")))).unwrap();
        for a in &agents[..2] {
            assert!(wait(h.subscribe("plan", a)).unwrap());
        }
        assert!(!wait(h.subscribe("plan", &agents[0])).unwrap());
        wait(h.update_variable("plan", put(json!("b"), "writer", None))).unwrap();
        let started = Instant::now();
        while seen.lock().len() < 2 {
            assert!(started.elapsed() < Duration::from_secs(5), "not delivered");
            std::thread::sleep(Duration::from_millis(2));
        }
        let got = seen.lock().clone();
        for m in &got {
            assert_eq!(m["event"], "variable_changed");
            assert_eq!(
                (m["name"].clone(), m["version"].clone()),
                (json!("plan"), json!(2))
            );
            assert_eq!(
                (m["value"].clone(), m["agent_id"].clone()),
                (json!("b"), json!("writer"))
            );
        }
        assert!(wait(h.unsubscribe("plan", &agents[0])).unwrap());
        wait(h.update_variable("plan", put(json!("c"), "writer", None))).unwrap();
        let started = Instant::now();
        while seen.lock().len() < 3 {
            assert!(started.elapsed() < Duration::from_secs(5), "not delivered");
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(seen.lock().len(), 3, "the unsubscribed agent got a change");
        let stats = h.delivery_stats();
        assert_eq!((stats.sent, stats.dropped, stats.refused), (3, 0, 0));
        // A subscriber that is not running refuses the delivery, visibly.
        wait(h.stop(&agents[1])).unwrap();
        wait(h.update_variable("plan", put(json!("d"), "writer", None))).unwrap();
        let started = Instant::now();
        while h.delivery_stats().refused < 1 {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "refusal not counted"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        engine.shutdown();
    }
}

/// Sleeps on every message: keeps its worker busy so that worker's inbox fills.
struct Slow;

impl Agent for Slow {
    fn handle(&mut self, _msg: Value, _ctx: &mut AgentContext<'_>) -> Result<Value, AgentError> {
        std::thread::sleep(Duration::from_millis(20));
        Ok(Value::Null)
    }
}

#[test]
fn deliveries_refused_by_a_full_inbox_are_counted_as_dropped() {
    let mut c = config(2);
    c.engine.inbox_depth_max = 4;
    c.agent_registry.max_agents = 64;
    c.concurrency.max_agents_per_node = 64;
    let engine = Engine::builder(c).kind("slow", |_| Slow).start().unwrap();
    let h = engine.handle();
    // 40 subscribers: about half live on the worker that does not own the variable,
    // far more than its inbox of 4 holds while it sleeps in a handler.
    let agents: Vec<String> = (0..40).map(|i| format!("slow-{i}")).collect();
    for a in &agents {
        wait(h.register(AgentSpec::new(a.as_str(), "slow"))).unwrap();
        wait(h.start(a)).unwrap();
    }
    wait(h.create_variable(create("hot", json!(0)))).unwrap();
    for a in &agents {
        assert!(wait(h.subscribe("hot", a)).unwrap());
    }
    wait(h.update_variable("hot", put(json!(1), "w", None))).unwrap();
    // Every delivery is accounted for: handed over, dropped, or refused.
    let started = Instant::now();
    let stats = loop {
        let s = h.delivery_stats();
        if s.sent + s.dropped + s.refused == agents.len() as u64 {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "unaccounted: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(stats.dropped > 0, "{stats:?}");
    assert!(stats.sent > 0, "{stats:?}");
}
