//! The `POST /api/coordinate` contract: the exact examples of API.md, round-tripped through
//! JSON, and the typed errors a bad request gets.

use mabeam_engine::coord::{
    ClearingPool, CoordinationOutcome, CoordinationRequest, Limits, clear, clear_json, clear_serial,
};
use serde_json::{Value, json};

fn run(body: Value) -> Value {
    let outcome = clear_json(body.to_string().as_bytes(), &Limits::default()).expect("clears");
    let text = serde_json::to_string(&outcome).unwrap();
    // Round trip: the response parses back to the same outcome.
    let back: CoordinationOutcome = serde_json::from_str(&text).unwrap();
    assert_eq!(back, outcome);
    serde_json::from_str(&text).unwrap()
}

fn error(body: Value) -> (String, Option<String>) {
    let e = clear_json(body.to_string().as_bytes(), &Limits::default()).expect_err("refused");
    (e.code().to_string(), e.field().map(str::to_string))
}

#[test]
fn second_price_example() {
    let out = run(
        json!({"protocol":"auction","auction":{"type":"second_price","reserve":10,
        "bids":[{"agent_id":"a","amount":15},{"agent_id":"b","amount":12}]}}),
    );
    assert_eq!(out["protocol"], "auction");
    let o = &out["outcome"];
    assert_eq!(o["type"], "second_price");
    assert_eq!(o["sold"], true);
    assert_eq!(o["winner"], "a");
    // The number text is exactly `12`, not `12.0`.
    assert_eq!(o["price"].to_string(), "12");
}

#[test]
fn classic_sealed_cases_over_json() {
    let bids = json!([{"agent_id":"a","amount":10},{"agent_id":"b","amount":15},{"agent_id":"c","amount":12}]);
    let first = run(json!({"protocol":"auction","auction":{"type":"first_price","bids":bids}}));
    assert_eq!(
        (
            first["outcome"]["winner"].clone(),
            first["outcome"]["price"].to_string()
        ),
        (json!("b"), "15".into())
    );
    let second = run(json!({"protocol":"auction","auction":{"type":"second_price","bids":bids}}));
    assert_eq!(second["outcome"]["price"].to_string(), "12");
    let tie = run(json!({"protocol":"auction","auction":{"type":"first_price",
        "bids":[{"agent_id":"x","amount":9.5},{"agent_id":"y","amount":9.5}]}}));
    assert_eq!(tie["outcome"]["winner"], "x");
    assert_eq!(tie["outcome"]["price"].to_string(), "9.5");
    let none = run(
        json!({"protocol":"auction","auction":{"type":"second_price","reserve":20,"bids":bids}}),
    );
    assert_eq!(
        (
            none["outcome"]["sold"].clone(),
            none["outcome"]["winner"].clone(),
            none["outcome"]["price"].clone()
        ),
        (json!(false), Value::Null, Value::Null)
    );
}

#[test]
fn market_example() {
    let out = run(json!({"protocol":"market","market":{"orders":[
        {"agent_id":"s1","side":"sell","quantity":10,"limit":5},
        {"agent_id":"b1","side":"buy","quantity":6,"limit":8}]}}));
    let o = &out["outcome"];
    assert_eq!(o["clearing_price"].to_string(), "6.5");
    assert_eq!(o["volume"], 6);
    assert_eq!(
        o["fills"][0],
        json!({"agent_id":"b1","side":"buy","quantity":6,"price":6.5})
    );
    assert_eq!(
        o["fills"][1],
        json!({"agent_id":"s1","side":"sell","quantity":6,"price":6.5})
    );
    assert_eq!(o["surplus"].to_string(), "18");
    assert_eq!(o["efficiency"].to_string(), "1.0");
    assert_eq!(
        run(json!({"protocol":"market","market":{"orders":[]}}))["outcome"]["efficiency"],
        Value::Null
    );
    let none = run(json!({"protocol":"market","market":{"orders":[
        {"agent_id":"s1","side":"sell","quantity":1,"limit":9},{"agent_id":"b1","side":"buy","quantity":1,"limit":8}]}}));
    assert_eq!(
        (
            none["outcome"]["volume"].clone(),
            none["outcome"]["clearing_price"].clone()
        ),
        (json!(0), Value::Null)
    );
}

#[test]
fn clock_multi_unit_and_combinatorial_shapes() {
    let e = run(
        json!({"protocol":"auction","auction":{"type":"english","start":10,"increment":5,"max_rounds":100,
        "bids":[{"agent_id":"a","amount":20},{"agent_id":"b","amount":35},{"agent_id":"c","amount":50}]}}),
    );
    assert_eq!(
        (
            e["outcome"]["winner"].clone(),
            e["outcome"]["price"].clone(),
            e["outcome"]["rounds"].clone()
        ),
        (json!("c"), json!(35), json!(5))
    );
    let d = run(
        json!({"protocol":"auction","auction":{"type":"dutch","start":100,"decrement":10,"reserve":50,
        "bids":[{"agent_id":"a","amount":45}]}}),
    );
    assert_eq!(
        (d["outcome"]["type"].clone(), d["outcome"]["sold"].clone()),
        (json!("dutch"), json!(false))
    );
    let m = run(
        json!({"protocol":"auction","auction":{"type":"multi_unit","units":3,"pricing":"uniform",
        "bids":[{"agent_id":"a","amount":10,"quantity":2},{"agent_id":"b","amount":8,"quantity":2}]}}),
    );
    assert_eq!(
        (
            m["outcome"]["clearing_price"].clone(),
            m["outcome"]["revenue"].clone()
        ),
        (json!(8), json!(24))
    );
    let c = run(
        json!({"protocol":"auction","auction":{"type":"combinatorial","items":{"cpu":2,"gpu":1},"payment":"vcg",
        "bids":[{"agent_id":"a","bundle":{"cpu":1,"gpu":1},"amount":10},
                {"agent_id":"b","bundle":{"cpu":2},"amount":7},
                {"agent_id":"z","bundle":{"cpu":5},"amount":99}]}}),
    );
    let o = &c["outcome"];
    assert_eq!(
        o["winners"],
        json!([{"agent_id":"a","bundle":{"cpu":1,"gpu":1},"price":7}]),
        "without a, b would win 7: a pays that harm; z asks for more than the supply"
    );
    assert_eq!(
        (o["revenue"].clone(), o["optimal"].clone()),
        (json!(7), json!(true))
    );
}

#[test]
fn consensus_and_allocation_shapes() {
    let c = run(
        json!({"protocol":"consensus","consensus":{"rule":"supermajority","threshold":0.6,"quorum":3,
        "votes":[{"agent_id":"a","choice":"yes"},{"agent_id":"b","choice":"yes"},{"agent_id":"c","choice":"no"}]}}),
    );
    let o = &c["outcome"];
    assert_eq!(
        (
            o["decision"].clone(),
            o["reached"].clone(),
            o["tally"].clone()
        ),
        (json!("yes"), json!(true), json!({"no":1,"yes":2}))
    );
    let w = run(
        json!({"protocol":"consensus","consensus":{"rule":"weighted","max_weight_share":0.6,
        "votes":[{"agent_id":"a","choice":"x","weight":5},{"agent_id":"b","choice":"y","weight":5}]}}),
    );
    assert_eq!(
        (
            w["outcome"]["decision"].clone(),
            w["outcome"]["reached"].clone()
        ),
        (Value::Null, json!(false))
    );
    let a = run(
        json!({"protocol":"allocation","allocation":{"strategy":"proportional","available":10,
        "requests":[{"agent_id":"a","quantity":10},{"agent_id":"b","quantity":10},{"agent_id":"c","quantity":10}]}}),
    );
    assert_eq!(
        a["outcome"]["allocations"],
        json!([{"agent_id":"a","quantity":4},{"agent_id":"b","quantity":3},{"agent_id":"c","quantity":3}])
    );
}

#[test]
fn every_bad_input_is_a_typed_error_naming_its_field() {
    let cases = [
        (
            json!({"protocol":"auction","auction":{"type":"first_price","bids":[{"agent_id":"a","amount":0}]}}),
            "invalid_amount",
            Some("auction.bids[0].amount"),
        ),
        (
            json!({"protocol":"auction","auction":{"type":"first_price","bids":[{"agent_id":"a","amount":-3}]}}),
            "invalid_amount",
            Some("auction.bids[0].amount"),
        ),
        (
            json!({"protocol":"auction","auction":{"type":"second_price","bids":[{"agent_id":"a","amount":1},{"agent_id":"a","amount":2}]}}),
            "duplicate_agent",
            Some("auction.bids[1].agent_id"),
        ),
        (
            json!({"protocol":"auction","auction":{"type":"first_price","bids":[{"agent_id":"bad id","amount":1}]}}),
            "invalid_id",
            Some("auction.bids[0].agent_id"),
        ),
        (
            json!({"protocol":"auction","auction":{"type":"combinatorial","items":{"cpu":1},"bids":[{"agent_id":"a","amount":1,"bundle":{"tpu":1}}]}}),
            "unknown_item",
            Some("auction.bids[0].bundle.tpu"),
        ),
        (
            json!({"protocol":"auction","auction":{"type":"english","increment":1,"bids":[]}}),
            "missing_field",
            Some("auction.start"),
        ),
        (
            json!({"protocol":"auction","auction":{"type":"combinatorial","items":{"cpu":1},"reserve":2,"bids":[]}}),
            "field_not_allowed",
            Some("auction.reserve"),
        ),
        (
            json!({"protocol":"auction","auction":{"type":"dutch","start":5,"decrement":1,"reserve":6,"bids":[]}}),
            "invalid_parameter",
            Some("auction.reserve"),
        ),
        (
            json!({"protocol":"market","market":{"orders":[{"agent_id":"a","side":"buy","quantity":0,"limit":1}]}}),
            "invalid_quantity",
            Some("market.orders[0].quantity"),
        ),
        (
            json!({"protocol":"market","market":{"orders":[{"agent_id":"a","side":"buy","quantity":1,"limit":0}]}}),
            "invalid_amount",
            Some("market.orders[0].limit"),
        ),
        (
            json!({"protocol":"consensus","consensus":{"rule":"supermajority","votes":[]}}),
            "missing_field",
            Some("consensus.threshold"),
        ),
        (
            json!({"protocol":"consensus","consensus":{"rule":"majority","threshold":0.6,"votes":[]}}),
            "field_not_allowed",
            Some("consensus.threshold"),
        ),
        (
            json!({"protocol":"consensus","consensus":{"rule":"weighted","max_weight_share":0.5,"votes":[{"agent_id":"a","choice":"x","weight":3},{"agent_id":"b","choice":"x","weight":1}]}}),
            "weight_cap_exceeded",
            Some("consensus.votes[0].weight"),
        ),
        (
            json!({"protocol":"auction","auction":{"type":"first_price","bids":[],"extra":1}}),
            "malformed_request",
            None,
        ),
        (
            json!({"protocol":"auction","auction":{"type":"first_price","bids":[{"agent_id":"a","amount":1.0000001}]}}),
            "malformed_request",
            None,
        ),
    ];
    for (body, code, field) in cases {
        assert_eq!(
            error(body.clone()),
            (code.to_string(), field.map(str::to_string)),
            "{body}"
        );
    }
    let limits = Limits {
        bids_per_auction_max: 2,
        ..Limits::default()
    };
    let body = json!({"protocol":"auction","auction":{"type":"first_price","bids":[
        {"agent_id":"a","amount":1},{"agent_id":"b","amount":1},{"agent_id":"c","amount":1}]}});
    let e = clear_json(body.to_string().as_bytes(), &limits).unwrap_err();
    assert_eq!((e.code(), e.field()), ("too_many", Some("auction.bids")));
}

#[test]
fn batch_equals_serial_at_every_thread_count() {
    let mut reqs = Vec::new();
    for i in 0..400u64 {
        let body = match i % 4 {
            0 => json!({"protocol":"auction","auction":{"type":"second_price","reserve":i % 7,
                "bids":[{"agent_id":"a","amount":1 + i % 13},{"agent_id":"b","amount":1 + i % 11},{"agent_id":"c","amount":1 + i % 5}]}}),
            1 => json!({"protocol":"market","market":{"orders":[
                {"agent_id":"s","side":"sell","quantity":1 + i % 9,"limit":1 + i % 6},
                {"agent_id":"b","side":"buy","quantity":1 + i % 4,"limit":1 + i % 8}]}}),
            2 => {
                json!({"protocol":"auction","auction":{"type":"combinatorial","items":{"x":1,"y":2},
                "bids":[{"agent_id":"a","bundle":{"x":1,"y":1},"amount":1 + i % 10},{"agent_id":"b","bundle":{"y":2},"amount":1 + i % 3}]}})
            }
            _ => {
                json!({"protocol":"auction","auction":{"type":"first_price","bids":[{"agent_id":"a","amount":(i % 3)}]}})
            }
        };
        reqs.push(serde_json::from_value::<CoordinationRequest>(body).unwrap());
    }
    let limits = Limits::default();
    let serial = clear_serial(&reqs, &limits);
    assert!(
        serial.iter().any(Result::is_err),
        "errors keep their place too"
    );
    for threads in [1, 2, 3, 8] {
        let pool = ClearingPool::new(threads).unwrap();
        assert_eq!(
            pool.clear_batch(&reqs, &limits),
            serial,
            "{threads} threads"
        );
    }
    assert_eq!(clear(&reqs[0], &limits), serial[0]);
}
