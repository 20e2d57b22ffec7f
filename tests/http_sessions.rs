//! Live auctions, markets, consensus rounds, sessions and shared variables over HTTP,
//! with idempotency keys and the agent-as-itself rule.

mod http_support;

use http_support::{BASE_PROFILE, Server, sha256_hex};

fn keyed(s: &Server, path: &str, key: &str, body: &str) -> http_support::Resp {
    s.request(
        "POST",
        path,
        &[
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ],
        Some(body),
    )
}

#[test]
fn live_auction_matches_the_one_shot_outcome() {
    let s = Server::start(BASE_PROFILE);
    let r = s.post(
        "/api/auctions",
        r#"{"id":"au1","type":"second_price","reserve":10}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("location"), Some("/api/auctions/au1"));
    assert_eq!(r.json()["state"], "open");

    let bids = [("a", "15"), ("b", "12"), ("c", "15"), ("d", "9")];
    for (i, (agent, amount)) in bids.iter().enumerate() {
        let body = format!(r#"{{"agent_id":"{agent}","amount":{amount}}}"#);
        let r = keyed(&s, "/api/auctions/au1/bids", &format!("bid-{i}"), &body);
        assert_eq!(r.status, 202, "{}", r.text());
        assert!(r.json()["bid_id"].is_u64());
    }
    // A retried bid answers its first receipt; the key with another bid is refused.
    let again = keyed(
        &s,
        "/api/auctions/au1/bids",
        "bid-0",
        r#"{"agent_id":"a","amount":15}"#,
    );
    assert_eq!(again.status, 202);
    assert_eq!(again.json()["bids"], 1);
    let reused = keyed(
        &s,
        "/api/auctions/au1/bids",
        "bid-0",
        r#"{"agent_id":"a","amount":16}"#,
    );
    assert_eq!(
        (reused.status, reused.code()),
        (422, "idempotency_key_reused".to_owned())
    );
    let bad = s.post("/api/auctions/au1/bids", r#"{"agent_id":"a","amount":"x"}"#);
    assert_eq!((bad.status, bad.field()), (400, "amount".to_owned()));

    let view = s.get("/api/auctions/au1").json();
    assert_eq!(
        (view["state"].as_str(), view["bids"].as_u64()),
        (Some("open"), Some(4))
    );

    let closed = s.post("/api/auctions/au1/close", "");
    assert_eq!(closed.status, 200, "{}", closed.text());
    let closed = closed.json();
    assert_eq!(closed["state"], "closed");
    let one_shot = s.post(
        "/api/coordinate",
        r#"{"protocol":"auction","auction":{"type":"second_price","reserve":10,"bids":[
            {"agent_id":"a","amount":15},{"agent_id":"b","amount":12},
            {"agent_id":"c","amount":15},{"agent_id":"d","amount":9}]}}"#,
    );
    assert_eq!(closed["outcome"], one_shot.json()["outcome"]);
    assert_eq!(closed["outcome"]["winner"], "a");
    assert_eq!(closed["outcome"]["price"], 15);

    let late = s.post("/api/auctions/au1/bids", r#"{"agent_id":"e","amount":20}"#);
    assert_eq!(
        (late.status, late.code()),
        (409, "session_closed".to_owned())
    );
    assert_eq!(s.get("/api/auctions/nope").status, 404);
    assert_eq!(
        s.post("/api/auctions", r#"{"type":"telepathic"}"#).status,
        400
    );
    let dup = s.post("/api/auctions", r#"{"id":"au1","type":"first_price"}"#);
    assert_eq!(dup.status, 409);
}

#[test]
fn markets_continuous_and_call() {
    let s = Server::start(BASE_PROFILE);
    assert_eq!(
        s.post("/api/markets", r#"{"id":"m1","kind":"continuous"}"#)
            .status,
        201
    );
    let r = s.post(
        "/api/markets/m1/orders",
        r#"{"agent_id":"s","side":"sell","quantity":5,"limit":3}"#,
    );
    assert_eq!((r.status, r.json()["resting"].as_bool()), (202, Some(true)));
    let r = s.post(
        "/api/markets/m1/orders",
        r#"{"agent_id":"b","side":"buy","quantity":2,"limit":4}"#,
    );
    assert_eq!(r.status, 202);
    let v = r.json();
    assert!(v["order_id"].is_u64());
    assert_eq!(
        v["fills"][0]["price"], 3,
        "fills at the resting order's price: {v}"
    );
    assert_eq!(v["filled"], 2);
    let r = s.post("/api/markets/m1/clear", "");
    assert_eq!((r.status, r.code()), (409, "wrong_session_kind".to_owned()));

    for r in s.open_call_market(
        "m2",
        &[
            r#"{"agent_id":"s1","side":"sell","quantity":10,"limit":5}"#,
            r#"{"agent_id":"b1","side":"buy","quantity":6,"limit":8}"#,
        ],
    ) {
        assert_eq!(r.status, 202, "{}", r.text());
    }
    let r = s.post("/api/markets/m2/clear", "");
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["outcome"]["clearing_price"], 6.5);
    assert_eq!(v["outcome"]["volume"], 6);
    let m = s.get("/api/markets/m2").json();
    assert_eq!(m["calls"], 1);
    let bad = s.post(
        "/api/markets/m2/orders",
        r#"{"agent_id":"x","side":"up","quantity":1}"#,
    );
    assert_eq!((bad.status, bad.field()), (400, "side".to_owned()));
}

#[test]
fn sessions_list_get_cancel_and_consensus() {
    let s = Server::start(BASE_PROFILE);
    assert_eq!(
        s.post(
            "/api/consensus",
            r#"{"id":"c1","rule":"majority","quorum":3}"#
        )
        .status,
        201
    );
    assert_eq!(
        s.post("/api/auctions", r#"{"id":"a1","type":"first_price"}"#)
            .status,
        201
    );
    let v = s.post(
        "/api/consensus/c1/votes",
        r#"{"agent_id":"x","choice":"yes"}"#,
    );
    assert_eq!(v.status, 202, "{}", v.text());
    let dup = s.post(
        "/api/consensus/c1/votes",
        r#"{"agent_id":"x","choice":"no"}"#,
    );
    assert_eq!(dup.status, 409, "{}", dup.text());
    let list = s.get("/api/sessions").json();
    assert_eq!(list["count"], 2);
    let one = s.get("/api/sessions/c1").json();
    assert_eq!(
        (one["protocol"].as_str(), one["votes"].as_u64()),
        (Some("consensus"), Some(1))
    );
    let r = s.delete("/api/sessions/c1");
    assert_eq!(
        (r.status, r.json()["state"].as_str()),
        (200, Some("cancelled"))
    );
    let r = s.delete("/api/sessions/c1");
    assert_eq!((r.status, r.code()), (409, "session_closed".to_owned()));
    assert_eq!(s.get("/api/sessions/zzz").status, 404);
    let closed = s.post("/api/consensus/c1/close", "");
    assert!(
        closed.status == 200 || closed.status == 409,
        "{}",
        closed.text()
    );
}

#[test]
fn shared_variables() {
    let s = Server::start(BASE_PROFILE);
    let r = s.post(
        "/api/variables",
        r#"{"name":"rate","value":5,"domain":{"type":"range","min":0,"max":10}}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.json(),
        serde_json::json!({"name":"rate","value":5,"version":1})
    );
    let put = |body: &str| {
        s.request(
            "PUT",
            "/api/variables/rate",
            &[("content-type", "application/json")],
            Some(body),
        )
    };
    let r = put(r#"{"value":7,"agent_id":"a","version":1}"#);
    assert_eq!((r.status, r.json()["version"].as_u64()), (200, Some(2)));
    let r = put(r#"{"value":8,"agent_id":"a","version":1}"#);
    assert_eq!((r.status, r.code()), (409, "version_conflict".to_owned()));
    let r = put(r#"{"value":80,"agent_id":"a"}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    let r = put(r#"{"value":8,"agent_id":"b","colour":1}"#);
    assert_eq!((r.status, r.field()), (400, "colour".to_owned()));
    let h = s.get("/api/variables/rate/history").json();
    let versions: Vec<u64> = h["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, vec![2, 1], "newest first");
    assert_eq!(
        s.get("/api/variables/rate/history?limit=1").json()["history"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.get("/api/variables/rate/history?limit=x").status, 400);
    let g = s.get("/api/variables/rate").json();
    assert_eq!(
        (g["value"].as_u64(), g["updated_by"].as_str()),
        (Some(7), Some("a"))
    );
    assert_eq!(s.get("/api/variables/nope").status, 404);
    let c = s.post(
        "/api/variables/rate/coordinate",
        r#"{"protocol":"vote","rule":"majority","votes":[{"agent_id":"a","value":3},{"agent_id":"b","value":3},{"agent_id":"c","value":4}]}"#,
    );
    assert_eq!(c.status, 200, "{}", c.text());
    assert_eq!(s.get("/api/variables/rate").json()["value"], 3);
}

#[test]
fn agents_bid_order_vote_and_write_only_as_themselves() {
    let profile = format!(
        r#"{BASE_PROFILE}
[security]
auth_enabled = true

[[security.tokens]]
token_sha256 = "{op}"
role = "operator"

[[security.tokens]]
token_sha256 = "{alice}"
agent_id = "alice"
role = "agent"
"#,
        op = sha256_hex("op"),
        alice = sha256_hex("alice"),
    );
    let s = Server::start(&profile);
    let call = |method: &str, path: &str, token: &str, body: &str| {
        let auth = format!("Bearer {token}");
        s.request(
            method,
            path,
            &[
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
            ],
            Some(body),
        )
    };
    // Sessions are managed by operators.
    assert_eq!(
        call(
            "POST",
            "/api/auctions",
            "alice",
            r#"{"id":"x","type":"first_price"}"#
        )
        .status,
        403
    );
    assert_eq!(
        call(
            "POST",
            "/api/auctions",
            "op",
            r#"{"id":"x","type":"first_price"}"#
        )
        .status,
        201
    );
    assert_eq!(
        call(
            "POST",
            "/api/markets",
            "op",
            r#"{"id":"m","kind":"continuous"}"#
        )
        .status,
        201
    );
    assert_eq!(
        call("POST", "/api/variables", "op", r#"{"name":"v","value":1}"#).status,
        201
    );

    let bid = call(
        "POST",
        "/api/auctions/x/bids",
        "alice",
        r#"{"agent_id":"alice","amount":5}"#,
    );
    assert_eq!(bid.status, 202, "{}", bid.text());
    let as_bob = call(
        "POST",
        "/api/auctions/x/bids",
        "alice",
        r#"{"agent_id":"bob","amount":50}"#,
    );
    assert_eq!(
        (as_bob.status, as_bob.code()),
        (403, "forbidden".to_owned())
    );
    let order = r#"{"agent_id":"bob","side":"buy","quantity":1,"limit":2}"#;
    assert_eq!(
        call("POST", "/api/markets/m/orders", "alice", order).status,
        403
    );
    let put = r#"{"value":2,"agent_id":"bob"}"#;
    assert_eq!(call("PUT", "/api/variables/v", "alice", put).status, 403);
    let put = r#"{"value":2,"agent_id":"alice"}"#;
    assert_eq!(call("PUT", "/api/variables/v", "alice", put).status, 200);
    assert_eq!(
        call(
            "POST",
            "/api/auctions/x/bids",
            "nobody",
            r#"{"agent_id":"alice","amount":5}"#
        )
        .status,
        401
    );
    // The refused bid left no trace: one bid, alice's.
    let closed = call("POST", "/api/auctions/x/close", "op", "").json();
    assert_eq!(closed["bids"], 1);
    assert_eq!(closed["outcome"]["winner"], "alice");
    assert_eq!(
        call("POST", "/api/auctions/x/close", "alice", "").status,
        403
    );
}
