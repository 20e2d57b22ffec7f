//! Coordination semantics through the real binary: request shapes, the dutch clock's last
//! step, efficiency, call-market residuals and rounding, session deadlines, and the one
//! vocabulary of voting rules.

mod http_support;

use http_support::{BASE_PROFILE, Server};
use serde_json::{Value, json};

fn coordinate(s: &Server, body: Value) -> Value {
    let r = s.post("/api/coordinate", &body.to_string());
    assert_eq!(r.status, 200, "{body} -> {}", r.text());
    r.json()["outcome"].clone()
}

#[test]
fn dutch_clock_stops_at_the_reserve_one_shot_and_live() {
    let s = Server::start(BASE_PROFILE);
    // 100, 70, 40 would step past the reserve 50: the clock's last price is 50 itself.
    let auction = json!({"type":"dutch","start":100,"decrement":30,"reserve":50});
    let mut one_shot = auction.clone();
    one_shot["bids"] = json!([{"agent_id":"a","amount":55},{"agent_id":"b","amount":20}]);
    let o = coordinate(&s, json!({"protocol":"auction","auction":one_shot}));
    assert_eq!(
        (&o["sold"], &o["winner"], &o["price"], &o["rounds"]),
        (&json!(true), &json!("a"), &json!(50), &json!(2)),
        "{o}"
    );
    // A bidder exactly at the reserve wins at it; one below it does not.
    let mut at = auction.clone();
    at["bids"] = json!([{"agent_id":"a","amount":50}]);
    let o = coordinate(&s, json!({"protocol":"auction","auction":at}));
    assert_eq!(
        (&o["winner"], &o["price"]),
        (&json!("a"), &json!(50)),
        "{o}"
    );
    let mut below = auction.clone();
    below["bids"] = json!([{"agent_id":"a","amount":49.999999}]);
    let o = coordinate(&s, json!({"protocol":"auction","auction":below}));
    assert_eq!(
        (&o["sold"], &o["price"]),
        (&json!(false), &Value::Null),
        "{o}"
    );

    // The live auction closes on the same clock.
    let mut open = auction.clone();
    open["id"] = json!("dutch-1");
    assert_eq!(s.post("/api/auctions", &open.to_string()).status, 201);
    for bid in [
        r#"{"agent_id":"a","amount":55}"#,
        r#"{"agent_id":"b","amount":20}"#,
    ] {
        assert_eq!(s.post("/api/auctions/dutch-1/bids", bid).status, 202);
    }
    let closed = s.post("/api/auctions/dutch-1/close", "");
    assert_eq!(closed.status, 200, "{}", closed.text());
    let o = &closed.json()["outcome"];
    assert_eq!(
        (&o["winner"], &o["price"]),
        (&json!("a"), &json!(50)),
        "{o}"
    );
}

#[test]
fn efficiency_is_null_without_a_feasible_trade_on_every_path() {
    let s = Server::start(BASE_PROFILE);
    let no_bids = json!({"protocol":"auction","auction":{"type":"first_price","bids":[]}});
    let below = json!({"protocol":"auction","auction":{"type":"second_price","reserve":10,
        "bids":[{"agent_id":"a","amount":8}]}});
    let no_cross = json!({"protocol":"market","market":{"orders":[
        {"agent_id":"s","side":"sell","quantity":1,"limit":9},
        {"agent_id":"b","side":"buy","quantity":1,"limit":8}]}});
    let english_below = json!({"protocol":"auction","auction":{"type":"english","start":1,
        "increment":1,"reserve":10,"bids":[{"agent_id":"a","amount":5}]}});
    let multi_none = json!({"protocol":"auction","auction":{"type":"multi_unit","units":3,
        "reserve":10,"bids":[{"agent_id":"a","amount":5,"quantity":2}]}});
    let cases = [&no_bids, &below, &no_cross, &english_below, &multi_none];
    for body in cases {
        let o = coordinate(&s, body.clone());
        assert_eq!(o["efficiency"], Value::Null, "{body} -> {o}");
    }
    // The batch answers the same.
    let batch = json!({"requests": cases});
    let r = s.post("/api/coordinate/batch", &batch.to_string());
    assert_eq!(r.status, 200, "{}", r.text());
    for (i, out) in r.json()["outcomes"].as_array().unwrap().iter().enumerate() {
        assert_eq!(
            out["outcome"]["efficiency"],
            Value::Null,
            "batch[{i}]: {out}"
        );
    }
    // A trade that happens is measured: surplus over the best feasible surplus, the seller
    // valuing the item at the reserve. (10 - 6) / (20 - 6) here.
    let o = coordinate(
        &s,
        json!({"protocol":"auction","auction":{"type":"first_price","reserve":6,"bids":[
            {"agent_id":"a","amount":10},{"agent_id":"b","amount":8,"true_value":20}]}}),
    );
    assert_eq!(o["efficiency"].as_f64(), Some(4.0 / 14.0), "{o}");

    // Live: an auction closed without bids, a call market with no crossing orders.
    assert_eq!(
        s.post("/api/auctions", r#"{"id":"empty","type":"second_price"}"#)
            .status,
        201
    );
    let closed = s.post("/api/auctions/empty/close", "");
    assert_eq!(closed.status, 200, "{}", closed.text());
    assert_eq!(
        closed.json()["outcome"]["efficiency"],
        Value::Null,
        "{}",
        closed.text()
    );
    for r in s.open_call_market(
        "nc",
        &[
            r#"{"agent_id":"s","side":"sell","quantity":1,"limit":9}"#,
            r#"{"agent_id":"b","side":"buy","quantity":1,"limit":8}"#,
        ],
    ) {
        assert_eq!(r.status, 202, "{}", r.text());
    }
    let cleared = s.post("/api/markets/nc/clear", "");
    assert_eq!(cleared.status, 200, "{}", cleared.text());
    assert_eq!(
        cleared.json()["outcome"]["efficiency"],
        Value::Null,
        "{}",
        cleared.text()
    );
}

#[test]
fn contract_fields_are_accepted_wherever_their_shape_is_used() {
    let s = Server::start(BASE_PROFILE);
    // Allocation requests are {"agent_id","quantity","priority"?} for both strategies;
    // proportional ignores the priority, and a zero quantity gets 0.
    let o = coordinate(
        &s,
        json!({"protocol":"allocation","allocation":{"strategy":"proportional","available":10,
            "requests":[{"agent_id":"a","quantity":10,"priority":9},
                        {"agent_id":"b","quantity":10,"priority":1},
                        {"agent_id":"z","quantity":0}]}}),
    );
    assert_eq!(
        o["allocations"],
        json!([{"agent_id":"a","quantity":5},{"agent_id":"b","quantity":5},
               {"agent_id":"z","quantity":0}]),
        "{o}"
    );
    let o = coordinate(
        &s,
        json!({"protocol":"allocation","allocation":{"strategy":"priority","available":3,
            "requests":[{"agent_id":"z","quantity":0,"priority":5},{"agent_id":"a","quantity":4}]}}),
    );
    assert_eq!(
        o["allocations"],
        json!([{"agent_id":"z","quantity":0},{"agent_id":"a","quantity":3}]),
        "{o}"
    );
    // A vote's weight is part of the vote shape: majority accepts it and counts heads.
    let o = coordinate(
        &s,
        json!({"protocol":"consensus","consensus":{"rule":"majority","votes":[
            {"agent_id":"a","choice":"x","weight":5},{"agent_id":"b","choice":"y"},
            {"agent_id":"c","choice":"y"}]}}),
    );
    assert_eq!(
        (&o["decision"], &o["tally"]["x"]),
        (&json!("y"), &json!(1)),
        "{o}"
    );
    // The auction object's clock fields are accepted by every type (a sealed auction
    // ignores them); a bid's bundle likewise, one-shot and live.
    let o = coordinate(
        &s,
        json!({"protocol":"auction","auction":{"type":"first_price","start":5,"increment":1,
            "bids":[{"agent_id":"a","amount":7,"bundle":{"cpu":1}}]}}),
    );
    assert_eq!((&o["winner"], &o["price"]), (&json!("a"), &json!(7)), "{o}");
    let r = s.post(
        "/api/auctions",
        r#"{"id":"sp","type":"second_price","start":3,"decrement":1,"reserve":2}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = s.post(
        "/api/auctions/sp/bids",
        r#"{"agent_id":"a","amount":4,"bundle":{"cpu":1}}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let r = s.post(
        "/api/consensus",
        r#"{"id":"r1","rule":"majority","max_weight_share":0.5}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = s.post(
        "/api/consensus/r1/votes",
        r#"{"agent_id":"a","choice":"x","weight":3}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());

    // Unknown fields stay refused, and values that would change the outcome if ignored
    // are refused rather than ignored.
    for (body, code) in [
        (
            json!({"protocol":"allocation","allocation":{"strategy":"priority","available":1,
                "requests":[{"agent_id":"a","quantity":1,"urgency":2}]}}),
            "unknown_field",
        ),
        (
            json!({"protocol":"auction","auction":{"type":"combinatorial","items":{"cpu":1},
                "reserve":3,"bids":[]}}),
            "field_not_allowed",
        ),
        (
            json!({"protocol":"consensus","consensus":{"rule":"majority","threshold":0.9,
                "votes":[]}}),
            "field_not_allowed",
        ),
        (
            json!({"protocol":"consensus","consensus":{"rule":"weighted","votes":[
                {"agent_id":"a","choice":"x","weight":0}]}}),
            "invalid_parameter",
        ),
    ] {
        let r = s.post("/api/coordinate", &body.to_string());
        assert_eq!(r.status, 400, "{body} -> {}", r.text());
        assert_eq!(r.code(), code, "{body} -> {}", r.text());
    }
}

#[test]
fn a_call_markets_resting_remainder_takes_part_in_the_next_call() {
    let s = Server::start(BASE_PROFILE);
    for r in s.open_call_market(
        "cm",
        &[
            r#"{"agent_id":"s1","side":"sell","quantity":10,"limit":5}"#,
            r#"{"agent_id":"b1","side":"buy","quantity":6,"limit":8}"#,
        ],
    ) {
        assert_eq!((r.status, &r.json()["resting"]), (202, &json!(true)));
    }
    let first = s.post("/api/markets/cm/clear", "");
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.json()["outcome"]["volume"], 6);
    // s1's 4 unfilled units rest and meet the next buyer.
    let r = s.post(
        "/api/markets/cm/orders",
        r#"{"agent_id":"b2","side":"buy","quantity":3,"limit":7}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let second = s.post("/api/markets/cm/clear", "");
    assert_eq!(second.status, 200, "{}", second.text());
    let o = &second.json()["outcome"];
    assert_eq!(
        (&o["volume"], &o["clearing_price"]),
        (&json!(3), &json!(6)),
        "{o}"
    );
    assert_eq!(
        o["fills"],
        json!([{"agent_id":"b2","side":"buy","quantity":3,"price":6},
               {"agent_id":"s1","side":"sell","quantity":3,"price":6}])
    );
    // Every call is kept, newest first; `outcome` stays the last one.
    let m = s.get("/api/markets/cm").json();
    assert_eq!(
        (&m["calls"], &m["volume"], &m["pending"]),
        (&json!(2), &json!(9), &json!(1))
    );
    assert_eq!(m["outcome"]["volume"], 3);
    let calls: Vec<(u64, u64)> = m["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|c| {
            (
                c["call"].as_u64().unwrap(),
                c["outcome"]["volume"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(calls, [(2, 3), (1, 6)], "{m}");
}

#[test]
fn call_market_price_is_the_midpoint_rounded_down_to_the_micro_unit() {
    let s = Server::start(BASE_PROFILE);
    // The example of docs/api.md: limits 5.000001 and 5.000002, midpoint 5.0000015,
    // price 5.000001.
    let o = coordinate(
        &s,
        json!({"protocol":"market","market":{"orders":[
            {"agent_id":"s","side":"sell","quantity":1,"limit":5.000001},
            {"agent_id":"b","side":"buy","quantity":1,"limit":5.000002}]}}),
    );
    assert_eq!(o["clearing_price"].to_string(), "5.000001", "{o}");
}

#[test]
fn sessions_have_their_own_deadline_limit_and_none_means_open_until_closed() {
    // One-shot deadlines short; sessions are bounded by session_deadline_max_ms only.
    let profile =
        format!("{BASE_PROFILE}\n[coordination]\ndefault_timeout = 100\nprotocol_timeout = 200\n");
    let s = Server::start(&profile);
    for (path, body) in [
        (
            "/api/auctions",
            r#"{"id":"long-a","type":"first_price","deadline_ms":600000}"#,
        ),
        (
            "/api/markets",
            r#"{"id":"long-m","kind":"call","deadline_ms":600000}"#,
        ),
        (
            "/api/consensus",
            r#"{"id":"long-c","rule":"majority","deadline_ms":600000}"#,
        ),
    ] {
        let r = s.post(path, body);
        assert_eq!(r.status, 201, "{body} -> {}", r.text());
        let v = r.json();
        assert_eq!(
            v["deadline_at"].as_u64().unwrap() - v["opened_at"].as_u64().unwrap(),
            600_000,
            "{v}"
        );
    }
    let r = s.post(
        "/api/auctions",
        r#"{"type":"first_price","deadline_ms":86400001}"#,
    );
    assert_eq!(
        (r.status, r.field()),
        (400, "deadline_ms".to_owned()),
        "{}",
        r.text()
    );
    assert!(r.text().contains("session_deadline_max_ms"), "{}", r.text());
    // No deadline: open until closed, whatever the one-shot timeouts.
    let r = s.post(
        "/api/auctions",
        r#"{"id":"open-ended","type":"second_price"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["deadline_at"], Value::Null, "{}", r.text());
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert_eq!(s.get("/api/auctions/open-ended").json()["state"], "open");
    assert_eq!(
        s.post(
            "/api/auctions/open-ended/bids",
            r#"{"agent_id":"a","amount":3}"#
        )
        .status,
        202
    );
    let closed = s.post("/api/auctions/open-ended/close", "");
    assert_eq!(closed.json()["state"], "closed", "{}", closed.text());

    // The generic environment override sets the limit.
    let s = Server::start_with(
        BASE_PROFILE,
        &[("MABEAM_COORDINATION__SESSION_DEADLINE_MAX_MS", "1000")],
    );
    let r = s.post("/api/markets", r#"{"kind":"call","deadline_ms":2000}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    let r = s.post("/api/markets", r#"{"kind":"call","deadline_ms":1000}"#);
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
fn variables_and_consensus_share_one_vocabulary_of_rules() {
    let s = Server::start(BASE_PROFILE);
    assert_eq!(
        s.post("/api/variables", r#"{"name":"mode","value":"w"}"#)
            .status,
        201
    );
    let votes = json!([
        {"agent_id":"a","choice":"x","weight":2},
        {"agent_id":"b","choice":"y","weight":1},
        {"agent_id":"c","choice":"z","weight":1}]);
    let as_values: Vec<Value> = votes
        .as_array()
        .unwrap()
        .iter()
        .map(|v| json!({"agent_id":v["agent_id"],"value":v["choice"],"weight":v["weight"]}))
        .collect();
    // For each rule, the variable decides exactly when the one-shot vote does.
    for (rule, decided) in [
        ("weighted", false), // 2 of 4 is not more than half of the weight
        ("majority", false), // 1 of 3 votes
        ("unanimous", false),
    ] {
        let one_shot = coordinate(
            &s,
            json!({"protocol":"consensus","consensus":{"rule":rule,"votes":votes}}),
        );
        assert_eq!(one_shot["reached"], json!(decided), "{rule}: {one_shot}");
        let r = s.post(
            "/api/variables/mode/coordinate",
            &json!({"protocol":"vote","rule":rule,"votes":as_values}).to_string(),
        );
        assert_eq!(r.status, 200, "{rule}: {}", r.text());
        assert_eq!(r.json()["decided"], json!(decided), "{rule}: {}", r.text());
    }
    // Weighted: more than the threshold of the weight; unanimous: every vote.
    let r = s.post(
        "/api/variables/mode/coordinate",
        &json!({"protocol":"vote","rule":"weighted","votes":[
            {"agent_id":"a","value":"x","weight":3},{"agent_id":"b","value":"y","weight":1}]})
        .to_string(),
    );
    assert_eq!(
        (r.status, &r.json()["value"]),
        (200, &json!("x")),
        "{}",
        r.text()
    );
    let r = s.post(
        "/api/variables/mode/coordinate",
        &json!({"protocol":"vote","rule":"unanimous","votes":[
            {"agent_id":"a","value":"z"},{"agent_id":"b","value":"z"}]})
        .to_string(),
    );
    assert_eq!(
        (r.status, &r.json()["value"]),
        (200, &json!("z")),
        "{}",
        r.text()
    );
    // The same parameter checks: majority takes no threshold.
    let r = s.post(
        "/api/variables/mode/coordinate",
        &json!({"protocol":"vote","rule":"majority","threshold":0.6,"votes":[
            {"agent_id":"a","value":"z"}]})
        .to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn a_call_takes_market_orders_at_its_most_aggressive_limits() {
    let s = Server::start(BASE_PROFILE);
    // The buy without a limit ranks with the highest buy limit named (6): with the seller's
    // 4 the call trades 2 units at the midpoint 5.
    let o = coordinate(
        &s,
        json!({"protocol":"market","market":{"orders":[
            {"agent_id":"s","side":"sell","quantity":2,"limit":4},
            {"agent_id":"b","side":"buy","quantity":1,"limit":6},
            {"agent_id":"m","side":"buy","quantity":1}]}}),
    );
    assert_eq!(
        (&o["volume"], &o["clearing_price"]),
        (&json!(2), &json!(5)),
        "{o}"
    );
    // Live: a market order rests until a call has limits to price it.
    for r in s.open_call_market("mo", &[r#"{"agent_id":"m","side":"buy","quantity":3}"#]) {
        assert_eq!(r.status, 202, "{}", r.text());
    }
    let first = s.post("/api/markets/mo/clear", "");
    assert_eq!(first.json()["outcome"]["volume"], 0, "{}", first.text());
    let r = s.post(
        "/api/markets/mo/orders",
        r#"{"agent_id":"s","side":"sell","quantity":3,"limit":2.5}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let second = s.post("/api/markets/mo/clear", "");
    let o = &second.json()["outcome"];
    assert_eq!(
        (&o["volume"], &o["clearing_price"]),
        (&json!(3), &json!(2.5)),
        "{o}"
    );
}
