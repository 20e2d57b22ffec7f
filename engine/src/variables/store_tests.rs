//! Unit tests of the store: every operation and every error, at the `test_min` limits.

use super::*;
use crate::error::{Describe, ErrorClass};
use serde_json::json;

fn store() -> Variables {
    Variables::new(VariableSettings::test_min()).expect("valid settings")
}

fn create_req(v: Value) -> CreateRequest {
    serde_json::from_value(v).expect("valid create request")
}

fn create(
    vars: &mut Variables,
    name: &str,
    value: Value,
    domain: Value,
    policy: &str,
) -> VariableResponse {
    vars.create(
        create_req(json!({"name": name, "value": value, "domain": domain, "policy": policy})),
        0,
    )
    .expect("create")
}

fn put(value: Value, agent: &str, version: Option<u64>) -> UpdateRequest {
    UpdateRequest {
        value,
        agent_id: agent.to_owned(),
        version,
    }
}

fn coord(v: Value) -> CoordinateRequest {
    serde_json::from_value(v).expect("valid coordinate request")
}

const FREE: fn() -> Value = || json!({"type": "free"});

#[test]
fn create_answers_version_one_and_records_history() {
    let mut vars = store();
    let r = vars
        .create(
            create_req(json!({"name": "cfg.rate", "value": {"a": 1}})),
            42,
        )
        .expect("create");
    assert_eq!(
        r,
        VariableResponse {
            name: "cfg.rate".into(),
            value: json!({"a": 1}),
            version: 1
        }
    );
    assert_eq!(
        serde_json::to_value(&r).ok(),
        Some(json!({"name": "cfg.rate", "value": {"a": 1}, "version": 1}))
    );
    let h = vars.history("cfg.rate", 10).expect("history");
    assert_eq!(
        serde_json::to_value(&h).ok(),
        Some(
            json!({"history": [{"version": 1, "value": {"a": 1}, "agent_id": "system", "at": 42}]})
        )
    );
    let view = vars.get("cfg.rate").expect("exists");
    assert_eq!(
        (view.version, view.policy, view.updated_at, view.updated_by),
        (1, Policy::LastWriteWins, 42, "system")
    );
    assert_eq!((vars.len(), vars.is_empty()), (1, false));
}

#[test]
fn create_errors_leave_the_store_untouched() {
    let mut vars = store();
    create(&mut vars, "x", json!(1), FREE(), "last_write_wins");
    let err = |vars: &mut Variables, v: Value| vars.create(create_req(v), 0).unwrap_err().code();
    assert_eq!(
        err(&mut vars, json!({"name": "x", "value": 2})),
        "already_exists"
    );
    assert_eq!(
        err(&mut vars, json!({"name": "bad name", "value": 2})),
        "invalid_name"
    );
    assert_eq!(
        err(&mut vars, json!({"name": "", "value": 2})),
        "invalid_name"
    );
    assert_eq!(
        err(
            &mut vars,
            json!({"name": "y", "value": 2, "agent_id": "a b"})
        ),
        "invalid_agent_id"
    );
    assert_eq!(
        err(&mut vars, json!({"name": "y", "value": "z".repeat(300)})),
        "too_large"
    );
    let big_enum: Vec<Value> = (0..100).map(|i| json!(i)).collect();
    assert_eq!(
        err(
            &mut vars,
            json!({"name": "y", "value": 1, "domain": {"type": "enum", "values": big_enum}})
        ),
        "too_large"
    );
    assert_eq!(
        err(
            &mut vars,
            json!({"name": "y", "value": 11, "domain": {"type": "range", "min": 0, "max": 10}})
        ),
        "out_of_domain"
    );
    let bad_domain = CreateRequest {
        name: "y".into(),
        value: json!(1),
        domain: Domain::Range {
            min: 5.into(),
            max: 1.into(),
        },
        policy: Policy::LastWriteWins,
        agent_id: None,
    };
    assert_eq!(
        vars.create(bad_domain, 0).unwrap_err().code(),
        "invalid_domain"
    );
    assert_eq!(vars.len(), 1);
    assert_eq!(vars.get("x").map(|v| v.value.clone()), Some(json!(1)));
}

#[test]
fn capacity_is_enforced_and_freed_by_remove() {
    let mut vars = store();
    for i in 0..4 {
        create(
            &mut vars,
            &format!("v{i}"),
            json!(i),
            FREE(),
            "last_write_wins",
        );
    }
    let e = vars
        .create(create_req(json!({"name": "v4", "value": 4})), 0)
        .unwrap_err();
    assert_eq!(e, VariableError::Capacity { max: 4 });
    assert_eq!(e.describe().class, ErrorClass::Conflict);
    // The full store still serves the others, and an existing name is still "already exists".
    let mut out = Vec::new();
    assert!(
        vars.update("v0", put(json!(9), "a", None), 1, &mut out)
            .is_ok()
    );
    assert_eq!(
        vars.create(create_req(json!({"name": "v1", "value": 4})), 0)
            .unwrap_err()
            .code(),
        "already_exists"
    );
    vars.remove("v3").expect("remove");
    assert_eq!(vars.remove("v3").unwrap_err().code(), "not_found");
    assert!(
        vars.create(create_req(json!({"name": "v4", "value": 4})), 0)
            .is_ok()
    );
}

#[test]
fn update_bumps_version_and_checks_stale_versions() {
    let mut vars = store();
    create(&mut vars, "x", json!(0), FREE(), "last_write_wins");
    let mut out = Vec::new();
    let r = vars
        .update("x", put(json!(1), "a", None), 10, &mut out)
        .expect("update");
    assert_eq!((r.value, r.version), (json!(1), 2));
    let r = vars
        .update("x", put(json!(2), "b", Some(2)), 11, &mut out)
        .expect("update");
    assert_eq!(r.version, 3);
    let e = vars
        .update("x", put(json!(3), "c", Some(2)), 12, &mut out)
        .unwrap_err();
    assert_eq!(
        e,
        VariableError::Conflict {
            name: "x".into(),
            expected: 2,
            actual: 3
        }
    );
    assert_eq!(e.describe().class, ErrorClass::Conflict);
    let e = vars
        .update("x", put(json!(3), "c", Some(4)), 12, &mut out)
        .unwrap_err();
    assert_eq!(
        e.code(),
        "version_conflict",
        "a future version is refused too"
    );
    assert_eq!(
        vars.get("x").map(|v| (v.version, v.updated_by)),
        Some((3, "b"))
    );
    assert!(out.is_empty(), "no subscriber, no delivery");
}

#[test]
fn update_errors() {
    let mut vars = store();
    create(
        &mut vars,
        "r",
        json!(1),
        json!({"type": "range", "min": 0, "max": 1.5}),
        "version_check",
    );
    create(
        &mut vars,
        "e",
        json!("a"),
        json!({"type": "enum", "values": ["a", "b"]}),
        "last_write_wins",
    );
    create(&mut vars, "c", json!(1), FREE(), "coordinated");
    let mut out = Vec::new();
    let mut code =
        |name: &str, req: UpdateRequest| vars.update(name, req, 0, &mut out).unwrap_err().code();
    assert_eq!(code("nope", put(json!(1), "a", None)), "not_found");
    assert_eq!(code("r", put(json!(1), "a", None)), "version_required");
    assert_eq!(
        code("r", put(json!(1.500001), "a", Some(1))),
        "out_of_domain"
    );
    assert_eq!(code("r", put(json!("1"), "a", Some(1))), "out_of_domain");
    assert_eq!(code("e", put(json!("c"), "a", None)), "out_of_domain");
    assert_eq!(
        code("e", put(json!("x".repeat(300)), "a", None)),
        "too_large"
    );
    assert_eq!(code("c", put(json!(2), "a", None)), "coordinated");
    assert_eq!(code("e", put(json!("b"), "", None)), "invalid_agent_id");
    assert!(
        vars.update("r", put(json!(1.5), "a", Some(1)), 0, &mut out)
            .is_ok()
    );
    assert!(
        vars.update("e", put(json!("b"), "a", None), 0, &mut out)
            .is_ok()
    );
    let msg = vars
        .update("c", put(json!(2), "a", None), 0, &mut out)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("/api/variables/c/coordinate"), "{msg}");
}

#[test]
fn history_is_bounded_newest_first_and_limited() {
    let mut vars = store();
    create(&mut vars, "x", json!(0), FREE(), "last_write_wins");
    let mut out = Vec::new();
    for i in 1..=5u64 {
        vars.update(
            "x",
            put(json!(i), &format!("a{i}"), None),
            100 + i,
            &mut out,
        )
        .expect("update");
    }
    let h = vars.history("x", 100).expect("history").history;
    assert_eq!(
        h.iter().map(|r| r.version).collect::<Vec<_>>(),
        [6, 5, 4],
        "retention 3"
    );
    assert_eq!(
        (h[0].value.clone(), h[0].agent_id.as_str(), h[0].at),
        (json!(5), "a5", 105)
    );
    assert_eq!(vars.history("x", 1).expect("history").history.len(), 1);
    assert!(vars.history("x", 0).expect("history").history.is_empty());
    assert_eq!(vars.history("y", 1).unwrap_err().code(), "not_found");
}

#[test]
fn subscribers_get_one_delivery_per_change_in_order() {
    let mut vars = store();
    create(&mut vars, "x", json!(0), FREE(), "last_write_wins");
    assert_eq!(vars.subscribe("x", "s1"), Ok(true));
    assert_eq!(vars.subscribe("x", "s1"), Ok(false), "idempotent");
    assert_eq!(vars.subscribe("x", "s2"), Ok(true));
    let e = vars.subscribe("x", "s3").unwrap_err();
    assert_eq!(
        e,
        VariableError::SubscriberCapacity {
            name: "x".into(),
            max: 2
        }
    );
    assert_eq!(
        vars.subscribe("nope", "s1").unwrap_err().code(),
        "not_found"
    );
    assert_eq!(
        vars.subscribe("x", "bad id").unwrap_err().code(),
        "invalid_agent_id"
    );
    assert_eq!(
        vars.subscribers("x").map(|s| s.collect::<Vec<_>>()),
        Some(vec!["s1", "s2"])
    );

    let mut out = Vec::new();
    vars.update("x", put(json!(7), "w", None), 5, &mut out)
        .expect("update");
    assert_eq!(out.iter().map(|d| &*d.to).collect::<Vec<_>>(), ["s1", "s2"]);
    assert_eq!(
        serde_json::to_value(&out[1].change).ok(),
        Some(json!({"name": "x", "version": 2, "value": 7, "agent_id": "w", "at": 5}))
    );
    // A refused write delivers nothing.
    out.clear();
    assert!(
        vars.update("x", put(json!(8), "w", Some(1)), 6, &mut out)
            .is_err()
    );
    assert!(out.is_empty());

    assert_eq!(vars.unsubscribe("x", "s1"), Ok(true));
    assert_eq!(vars.unsubscribe("x", "s1"), Ok(false));
    assert_eq!(
        vars.unsubscribe("nope", "s1").unwrap_err().code(),
        "not_found"
    );
    vars.update("x", put(json!(9), "w", None), 7, &mut out)
        .expect("update");
    assert_eq!(out.iter().map(|d| &*d.to).collect::<Vec<_>>(), ["s2"]);
    assert_eq!(vars.get("x").map(|v| v.subscribers), Some(1));
}

#[test]
fn list_is_sorted_and_get_misses_cleanly() {
    let mut vars = store();
    for name in ["b", "a", "c"] {
        create(&mut vars, name, json!(name), FREE(), "last_write_wins");
    }
    assert_eq!(
        vars.list().iter().map(|v| v.name).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    assert!(vars.get("d").is_none());
    let view = serde_json::to_value(vars.get("a").expect("a")).expect("json");
    assert_eq!(view["domain"], json!({"type": "free"}));
    assert_eq!(view["policy"], json!("last_write_wins"));
}

#[test]
fn vote_decides_records_consensus_and_notifies() {
    let mut vars = store();
    create(
        &mut vars,
        "mode",
        json!("a"),
        json!({"type": "enum", "values": ["a", "b", "c"]}),
        "coordinated",
    );
    vars.subscribe("mode", "s").expect("subscribe");
    let mut out = Vec::new();
    let req = coord(json!({"protocol": "vote", "rule": "weighted", "votes": [
        {"agent_id": "x", "value": "b", "weight": 2},
        {"agent_id": "y", "value": "c"},
        {"agent_id": "z", "value": "b"}]}));
    let r = vars
        .coordinate("mode", req, 50, &mut out)
        .expect("coordinate");
    assert!(r.decided);
    assert_eq!(
        (r.value.clone(), r.version, r.winner.as_deref()),
        (json!("b"), 2, Some("consensus"))
    );
    assert_eq!((r.support, r.total), (Some(3), Some(4)));
    assert_eq!(
        r.tally
            .iter()
            .map(|t| (t.value.clone(), t.weight))
            .collect::<Vec<_>>(),
        [(json!("b"), 3), (json!("c"), 1)]
    );
    let h = vars.history("mode", 1).expect("history").history;
    assert_eq!((h[0].agent_id.as_str(), h[0].at), ("consensus", 50));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].change.agent_id(), "consensus");
}

#[test]
fn undecided_vote_changes_nothing() {
    let mut vars = store();
    create(&mut vars, "m", json!(0), FREE(), "coordinated");
    vars.subscribe("m", "s").expect("subscribe");
    let mut out = Vec::new();
    let req = coord(
        json!({"protocol": "vote", "rule": "supermajority", "threshold": 0.75, "votes": [
        {"agent_id": "x", "value": 1}, {"agent_id": "y", "value": 1}, {"agent_id": "z", "value": 2}]}),
    );
    let r = vars.coordinate("m", req, 50, &mut out).expect("coordinate");
    assert!(!r.decided);
    assert_eq!((r.value, r.version, r.winner), (json!(0), 1, None));
    assert!(out.is_empty());
    assert_eq!(vars.history("m", 10).expect("history").history.len(), 1);
}

#[test]
fn auction_sets_the_winners_value_and_reports_the_price() {
    let mut vars = store();
    create(
        &mut vars,
        "slot",
        json!(0),
        json!({"type": "range", "min": 0, "max": 100}),
        "coordinated",
    );
    let mut out = Vec::new();
    let req = coord(json!({"protocol": "auction", "reserve": 1.5, "bids": [
        {"agent_id": "a", "value": 10, "amount": 4.25},
        {"agent_id": "b", "value": 20, "amount": 3.000001},
        {"agent_id": "c", "value": 30, "amount": 1}]}));
    let r = vars
        .coordinate("slot", req, 9, &mut out)
        .expect("coordinate");
    assert!(r.decided);
    assert_eq!(
        (r.value.clone(), r.version, r.winner.as_deref()),
        (json!(10), 2, Some("a"))
    );
    assert_eq!((r.price_micros, r.eligible), (Some(3_000_001), Some(2)));
    let wire = serde_json::to_value(&r).expect("json");
    assert_eq!(wire["price"], json!(3.000001));
    assert_eq!(wire["protocol"], json!("auction"));
    assert_eq!(
        vars.history("slot", 1).expect("history").history[0].agent_id,
        "a"
    );
    let req = coord(
        json!({"protocol": "auction", "reserve": 50, "bids": [{"agent_id": "a", "value": 1, "amount": 4}]}),
    );
    let r = vars
        .coordinate("slot", req, 10, &mut out)
        .expect("coordinate");
    assert!(!r.decided && r.price.is_none() && r.winner.is_none());
    assert_eq!(r.version, 2);
}

#[test]
fn coordinate_errors() {
    let mut vars = store();
    create(
        &mut vars,
        "v",
        json!(1),
        json!({"type": "range", "min": 0, "max": 10}),
        "version_check",
    );
    let mut out = Vec::new();
    let mut code = |name: &str, v: Value| {
        vars.coordinate(name, coord(v), 0, &mut out)
            .unwrap_err()
            .code()
    };
    let vote = |votes: Value, version: Option<u64>| json!({"protocol": "vote", "rule": "weighted", "votes": votes, "version": version});
    let one = json!([{"agent_id": "a", "value": 2}]);
    assert_eq!(code("nope", vote(one.clone(), Some(1))), "not_found");
    assert_eq!(code("v", vote(one.clone(), None)), "version_required");
    assert_eq!(code("v", vote(one.clone(), Some(7))), "version_conflict");
    assert_eq!(
        code("v", vote(json!([{"agent_id": "a", "value": 11}]), Some(1))),
        "out_of_domain"
    );
    assert_eq!(
        code("v", vote(json!([{"agent_id": "a b", "value": 1}]), Some(1))),
        "invalid_agent_id"
    );
    assert_eq!(code("v", vote(json!([]), Some(1))), "invalid_coordination");
    let nine: Vec<Value> = (0..9)
        .map(|i| json!({"agent_id": format!("a{i}"), "value": 1}))
        .collect();
    assert_eq!(
        code("v", vote(json!(nine), Some(1))),
        "invalid_coordination"
    );
    let dup = json!([{"agent_id": "a", "value": 1}, {"agent_id": "a", "value": 2}]);
    assert_eq!(code("v", vote(dup, Some(1))), "invalid_coordination");
    let bids = json!({"protocol": "auction", "version": 1, "bids": [{"agent_id": "a", "value": 1, "amount": 0.0000001}]});
    assert_eq!(code("v", bids), "invalid_coordination");
    let e = vars
        .coordinate(
            "v",
            coord(vote(json!([{"agent_id": "q", "value": 12}]), Some(1))),
            0,
            &mut out,
        )
        .unwrap_err();
    assert!(e.to_string().contains("agent \"q\" proposed"), "{e}");
    assert_eq!(vars.get("v").map(|v| v.version), Some(1), "nothing changed");
}
