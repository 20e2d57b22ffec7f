//! `mabeam demo`: the engine embedded, end to end, in a few lines of output.

use anyhow::Context as _;
use mabeam_engine::api::Engine;
use mabeam_engine::coord::CoordinationRequest;
use mabeam_engine::profile;
use mabeam_engine::registry::{AgentFilter, AgentSpec, RestartStrategy};
use mabeam_engine::runtime::agent::{Agent, AgentContext, AgentError};
use serde_json::{Value, json};
use std::path::Path;
use std::process::ExitCode;

/// A bidder: answers `{"value": v}` with a bid of `v * margin` (its config), and
/// crashes on `"crash"` to show supervision.
struct Bidder {
    margin: f64,
    asked: u64,
}

impl Agent for Bidder {
    fn handle(&mut self, msg: Value, ctx: &mut AgentContext<'_>) -> Result<Value, AgentError> {
        if msg == json!("crash") {
            panic!("bidder {} asked to crash", ctx.id());
        }
        let value = msg
            .get("value")
            .and_then(Value::as_f64)
            .ok_or_else(|| AgentError::new("bad_message", "send {\"value\": number}"))?;
        self.asked += 1;
        let bid = (value * self.margin * 100.0).round() / 100.0;
        Ok(json!({"agent_id": ctx.id(), "amount": bid, "asked": self.asked}))
    }
}

pub(crate) fn run(profile_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let loaded = match profile::load_from_process_env(profile_path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mabeam: invalid profile: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let engine = Engine::builder(loaded.config)
        .kind("bidder", |rec| Bidder {
            margin: rec
                .spec
                .config
                .get("margin")
                .and_then(Value::as_f64)
                .unwrap_or(0.9),
            asked: 0,
        })
        .start()
        .context("starting the engine")?;
    let h = engine.handle();
    println!("engine started: {} workers", h.workers());

    for (id, margin) in [("alice", 0.95), ("bob", 0.80), ("carol", 0.90)] {
        let mut spec = AgentSpec::new(id, "bidder").with_capability("bid");
        spec.config = json!({ "margin": margin });
        spec.supervision.strategy = Some(RestartStrategy::Permanent);
        h.register(spec).wait()?;
        let rec = h.start(id).wait()?;
        println!(
            "agent {id:<5} {:?} on shard {}",
            rec.state, rec.agent_ref.shard
        );
    }

    // Each agent prices an item worth 100; their answers become sealed bids.
    let mut bids = Vec::new();
    for id in ["alice", "bob", "carol"] {
        let answer = h.send(id, json!({"value": 100})).wait()?;
        bids.push(json!({"agent_id": id, "amount": answer["amount"]}));
    }
    let requests = [
        json!({"protocol":"auction","auction":{"type":"second_price","reserve":10,"bids":bids}}),
        json!({"protocol":"auction","auction":{"type":"english","start":50,"increment":5,"bids":bids}}),
        json!({"protocol":"market","market":{"orders":[
            {"agent_id":"s1","side":"sell","quantity":10,"limit":5},
            {"agent_id":"b1","side":"buy","quantity":6,"limit":8}]}}),
        json!({"protocol":"consensus","consensus":{"rule":"majority","votes":[
            {"agent_id":"alice","choice":"plan-a"},{"agent_id":"bob","choice":"plan-b"},
            {"agent_id":"carol","choice":"plan-a"}]}}),
        json!({"protocol":"allocation","allocation":{"strategy":"proportional","available":10,
            "requests":[{"agent_id":"alice","quantity":8},{"agent_id":"bob","quantity":4},
                        {"agent_id":"carol","quantity":3}]}}),
    ];
    for req in &requests {
        let parsed: CoordinationRequest =
            serde_json::from_value(req.clone()).context("building a demo request")?;
        let outcome = h.coordinate(&parsed)?;
        println!("{}", serde_json::to_string(&outcome)?);
    }

    // Supervision: a crash is caught, the agent restarts with a fresh instance.
    let crash = h.send("bob", json!("crash")).wait();
    let bob = h.agent("bob").context("bob is registered")?;
    println!(
        "bob crashed ({}); supervisor restarted it: state {:?}, restarts {}",
        crash.err().map(|e| e.code()).unwrap_or("none"),
        bob.state,
        bob.restarts
    );
    let agents = h.agents(&AgentFilter::default());
    println!("{} agents registered", agents.len());
    let report = engine.shutdown();
    println!(
        "shutdown: {} agents stopped, clean: {}",
        report.agents_stopped, report.clean
    );
    Ok(ExitCode::SUCCESS)
}
