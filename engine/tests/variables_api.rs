//! The variables layer through its public API, with the JSON shapes of API.md: request
//! bodies in, response bodies out, error codes and statuses.

use mabeam_engine::api::{Describe, http_status};
use mabeam_engine::variables::{
    CoordinateRequest, CreateRequest, UpdateRequest, VariableError, VariableSettings, Variables,
};
use serde_json::{Value, json};

fn store() -> Variables {
    Variables::new(VariableSettings::default()).expect("default settings are valid")
}

fn body<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("well-formed body")
}

fn wire<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).expect("serializable")
}

/// The error envelope the HTTP layer builds: `(status, {"error":{"code","message"}})`.
fn envelope(e: &VariableError) -> (u16, Value) {
    (
        http_status(e.describe().class),
        json!({"error": {"code": e.code(), "message": e.to_string()}}),
    )
}

#[test]
fn create_put_history_round_trip_in_api_shapes() {
    let mut vars = store();
    let created = vars
        .create(body(json!({"name": "plan", "value": "a", "domain": {"type": "enum", "values": ["a", "b"]}})), 100)
        .expect("create");
    assert_eq!(
        wire(&created),
        json!({"name": "plan", "value": "a", "version": 1})
    );

    let mut outbox = Vec::new();
    let put: UpdateRequest = body(json!({"value": "b", "agent_id": "agent-7", "version": 1}));
    let updated = vars.update("plan", put, 200, &mut outbox).expect("update");
    assert_eq!(
        wire(&updated),
        json!({"name": "plan", "value": "b", "version": 2})
    );

    let put: UpdateRequest = body(json!({"value": "a", "agent_id": "agent-8"}));
    vars.update("plan", put, 300, &mut outbox)
        .expect("update without version");

    let history = vars.history("plan", 50).expect("history");
    assert_eq!(
        wire(&history),
        json!({"history": [
            {"version": 3, "value": "a", "agent_id": "agent-8", "at": 300},
            {"version": 2, "value": "b", "agent_id": "agent-7", "at": 200},
            {"version": 1, "value": "a", "agent_id": "system", "at": 100}]})
    );
}

#[test]
fn errors_carry_api_statuses_codes_and_guidance() {
    let mut vars = store();
    let mut out = Vec::new();
    vars.create(
        body(json!({"name": "n", "value": 3, "domain": {"type": "range", "min": 0, "max": 10}})),
        0,
    )
    .expect("create");

    let stale = vars.update(
        "n",
        body(json!({"value": 4, "agent_id": "a", "version": 0})),
        1,
        &mut out,
    );
    let (status, json) = envelope(&stale.unwrap_err());
    assert_eq!(
        (status, &json["error"]["code"]),
        (409, &json!("version_conflict"))
    );
    assert!(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("retry with version 1"))
    );

    let outside = vars.update(
        "n",
        body(json!({"value": 10.5, "agent_id": "a"})),
        1,
        &mut out,
    );
    assert_eq!(envelope(&outside.unwrap_err()).0, 400);
    let missing = vars.update("m", body(json!({"value": 1, "agent_id": "a"})), 1, &mut out);
    assert_eq!(envelope(&missing.unwrap_err()).0, 404);
    let taken = vars.create(body(json!({"name": "n", "value": 1})), 0);
    assert_eq!(
        envelope(&taken.unwrap_err()).1["error"]["code"],
        json!("already_exists")
    );

    // Unknown fields are refused at parse time (the HTTP layer answers 400).
    assert!(
        serde_json::from_value::<CreateRequest>(json!({"name": "x", "value": 1, "owner": "a"}))
            .is_err()
    );
    assert!(
        serde_json::from_value::<UpdateRequest>(
            json!({"value": 1, "agent_id": "a", "force": true})
        )
        .is_err()
    );
    assert!(out.is_empty());
}

#[test]
fn settings_are_validated_at_construction() {
    let bad = VariableSettings {
        subscribers_max: 1 << 20,
        ..VariableSettings::default()
    };
    let e = Variables::new(bad).unwrap_err();
    assert_eq!(e.key, "subscribers_max");
    assert!(e.to_string().contains("set it between"), "{e}");
}

#[test]
fn vote_and_auction_answers_have_stable_json() {
    let mut vars = store();
    let mut out = Vec::new();
    vars.create(
        body(json!({"name": "leader", "value": null, "policy": "coordinated"})),
        0,
    )
    .expect("create");
    vars.subscribe("leader", "observer").expect("subscribe");

    let vote: CoordinateRequest = body(
        json!({"protocol": "vote", "rule": "weighted", "threshold": 0.55,
        "votes": [{"agent_id": "a", "value": "a", "weight": 3}, {"agent_id": "b", "value": "b", "weight": 2}]}),
    );
    let r = vars.coordinate("leader", vote, 10, &mut out).expect("vote");
    assert_eq!(
        wire(&r),
        json!({"name": "leader", "protocol": "vote", "decided": true, "value": "a", "version": 2,
               "winner": "consensus", "support": 3, "total": 5,
               "tally": [{"value": "a", "weight": 3, "votes": 1}, {"value": "b", "weight": 2, "votes": 1}]})
    );

    let auction: CoordinateRequest = body(
        json!({"protocol": "auction", "reserve": 10, "version": 2,
        "bids": [{"agent_id": "a", "value": "a", "amount": 15}, {"agent_id": "b", "value": "b", "amount": 12}]}),
    );
    let r = vars
        .coordinate("leader", auction, 20, &mut out)
        .expect("auction");
    assert_eq!(
        wire(&r),
        json!({"name": "leader", "protocol": "auction", "decided": true, "value": "a", "version": 3,
               "winner": "a", "price": 12, "price_micros": 12_000_000, "eligible": 2})
    );
    let seen: Vec<Value> = out
        .iter()
        .map(|d| json!([&*d.to, wire(&d.change)]))
        .collect();
    assert_eq!(
        seen,
        [
            json!(["observer", {"name": "leader", "version": 2, "value": "a", "agent_id": "consensus", "at": 10}]),
            json!(["observer", {"name": "leader", "version": 3, "value": "a", "agent_id": "a", "at": 20}]),
        ]
    );
}

#[test]
fn decisions_do_not_depend_on_list_order_when_times_are_given() {
    let votes = [
        json!({"agent_id": "b", "value": 1, "at": 5}),
        json!({"agent_id": "a", "value": 2, "at": 5}),
        json!({"agent_id": "c", "value": 3, "at": 2}),
        json!({"agent_id": "d", "value": 2, "at": 9}),
        json!({"agent_id": "e", "value": 1, "at": 1}),
    ];
    let decide = |order: &[usize]| {
        let mut vars = store();
        vars.create(body(json!({"name": "x", "value": 0})), 0)
            .expect("create");
        let list: Vec<Value> = order.iter().map(|&i| votes[i].clone()).collect();
        let req: CoordinateRequest =
            body(json!({"protocol": "vote", "rule": "weighted", "votes": list}));
        vars.coordinate("x", req, 1, &mut Vec::new())
            .map(|r| r.tally[0].value.clone())
            .expect("counted")
    };
    // 1 and 2 tie on weight 2 (of 5: no decision); 1's earliest vote (e, at 1) precedes
    // 2's (a, at 5), so 1 leads the tally.
    assert_eq!(decide(&[0, 1, 2, 3, 4]), json!(1));
    assert_eq!(decide(&[4, 3, 2, 1, 0]), json!(1));
    assert_eq!(decide(&[2, 0, 4, 1, 3]), json!(1));
}
