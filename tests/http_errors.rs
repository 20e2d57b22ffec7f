//! The error vocabulary over HTTP: an error whose status the old per-module tables
//! disagreed on answers the status its class gives, the same on every path.

mod http_support;

use http_support::{BASE_PROFILE, Server};

/// `book_full` was 409 through a session, 503 through the one-shot reply mapping and 400
/// through the engine error's own table. It is a capacity limit of one market (class
/// `conflict`): 409 on every path.
#[test]
fn a_full_order_book_answers_409_book_full() {
    let profile = format!("{BASE_PROFILE}\n[coordination]\norders_per_market_max = 2\n");
    let s = Server::start(&profile);
    let r = s.post("/api/markets", r#"{"id":"m","kind":"continuous"}"#);
    assert_eq!(r.status, 201, "{}", r.text());
    for agent in ["s1", "s2"] {
        let body = format!(r#"{{"agent_id":"{agent}","side":"sell","quantity":1,"limit":5}}"#);
        let r = s.post("/api/markets/m/orders", &body);
        assert_eq!((r.status, r.json()["resting"].as_bool()), (202, Some(true)));
    }
    let r = s.post(
        "/api/markets/m/orders",
        r#"{"agent_id":"s3","side":"sell","quantity":1,"limit":6}"#,
    );
    assert_eq!(
        (r.status, r.code()),
        (409, "book_full".to_owned()),
        "{}",
        r.text()
    );
    // An order that fills against the book instead of resting is still taken.
    let r = s.post(
        "/api/markets/m/orders",
        r#"{"agent_id":"b1","side":"buy","quantity":1,"limit":5}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.json()["filled"], 1);
}
