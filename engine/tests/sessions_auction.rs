//! Live auctions through the public `Handle`: the close equals the one-shot clear,
//! idempotent bids, limits that refuse, deadlines that fire, at 1 and 2 workers.

use mabeam_engine::api::ErrorClass;
use mabeam_engine::api::{Engine, EngineError, Handle};
use mabeam_engine::coord::{
    AuctionType, Bid, CoordinationOutcome, CoordinationRequest, Limits, Money, clear,
};
use mabeam_engine::profile::Config;
use mabeam_engine::session::{OpenAuction, SessionState};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn config(workers: usize) -> Config {
    let mut c = Config::test_min();
    c.engine.workers = workers;
    c.performance.memory_limit_mb = 0;
    c.core.coordination_timeout = Duration::from_secs(5);
    c.coordination.protocol_timeout = Duration::from_secs(10);
    c.core.graceful_shutdown_timeout = Duration::from_secs(5);
    c
}

fn units(n: i64) -> Money {
    Money(n * 1_000_000)
}

fn wait<T>(p: mabeam_engine::api::Pending<T>) -> Result<T, EngineError> {
    p.wait_timeout(Duration::from_secs(10))
}

fn open(h: &Handle, kind: AuctionType) -> String {
    wait(h.open_auction(OpenAuction::new(kind)))
        .expect("opens")
        .id
}

#[test]
fn live_close_equals_the_one_shot_clear_at_one_and_two_workers() {
    for workers in [1, 2] {
        let engine = Engine::start(config(workers)).unwrap();
        let h = engine.handle();
        let id = open(&h, AuctionType::SecondPrice);
        let view = wait(h.auction(&id)).unwrap();
        assert_eq!((view.state, view.bids), (SessionState::Open, 0));
        let bids = [("a", 15), ("b", 12), ("c", 15)];
        for (i, (who, amount)) in bids.iter().enumerate() {
            let r = wait(h.bid(&id, Bid::new(*who, units(*amount)), None)).unwrap();
            assert_eq!((r.bid_id, r.bids), (i as u64 + 1, i + 1));
        }
        let closed = wait(h.close_auction(&id)).unwrap();
        assert_eq!(closed.state, SessionState::Closed);
        let mut spec = OpenAuction::new(AuctionType::SecondPrice).to_spec();
        spec.bids = bids.iter().map(|(w, a)| Bid::new(*w, units(*a))).collect();
        let one_shot = clear(&CoordinationRequest::Auction(spec), &Limits::default()).unwrap();
        assert_eq!(
            CoordinationOutcome::Auction(closed.outcome.clone().unwrap()),
            one_shot
        );
        // Earliest of the tied 15s wins and pays the other 15.
        let json = serde_json::to_value(&closed).unwrap();
        assert_eq!(json["outcome"]["winner"], "a");
        assert_eq!(json["outcome"]["price"].to_string(), "15");
        // Bidding on a closed auction is a conflict; closing again answers the result.
        let late = wait(h.bid(&id, Bid::new("d", units(30)), None)).unwrap_err();
        assert_eq!(
            (late.code(), late.class()),
            ("session_closed", ErrorClass::Conflict)
        );
        assert_eq!(wait(h.close_auction(&id)).unwrap(), closed);
        assert_eq!(h.open_sessions(), 0);
        engine.shutdown();
    }
}

#[test]
fn idempotent_bids() {
    let engine = Engine::start(config(2)).unwrap();
    let h = engine.handle();
    let id = open(&h, AuctionType::FirstPrice);
    let first = wait(h.bid(&id, Bid::new("a", units(3)), Some("key-1"))).unwrap();
    let again = wait(h.bid(&id, Bid::new("a", units(3)), Some("key-1"))).unwrap();
    assert_eq!(first, again);
    assert_eq!(wait(h.auction(&id)).unwrap().bids, 1);
    let other = wait(h.bid(&id, Bid::new("a", units(4)), Some("key-1"))).unwrap_err();
    assert_eq!(
        (other.code(), other.class()),
        ("idempotency_key_reused", ErrorClass::Rejected)
    );
    // A second bid by the same agent without a key is a duplicate.
    let dup = wait(h.bid(&id, Bid::new("a", units(5)), None)).unwrap_err();
    assert_eq!(
        (dup.code(), dup.class()),
        ("duplicate_entry", ErrorClass::Conflict)
    );
}

#[test]
fn limits_refuse() {
    let engine = Engine::start(config(2)).unwrap();
    let h = engine.handle();
    let cfg = h.config().clone();
    // bids_per_auction_max (16 in test-min) and idempotency_keys_max (16).
    let id = open(&h, AuctionType::FirstPrice);
    for i in 0..cfg.coordination.bids_per_auction_max {
        let key = format!("k{i}");
        wait(h.bid(&id, Bid::new(format!("a{i}"), units(1)), Some(&key))).unwrap();
    }
    let full = wait(h.bid(&id, Bid::new("late", units(1)), None)).unwrap_err();
    assert_eq!(
        (full.code(), full.class()),
        ("session_full", ErrorClass::Conflict)
    );
    let keys = wait(h.bid(&id, Bid::new("late", units(1)), Some("k-new"))).unwrap_err();
    assert_eq!(keys.code(), "idempotency_keys_exhausted");

    // Bad input is a 400 with the one-shot validation's code.
    let mut bad = OpenAuction::new(AuctionType::English);
    bad.start = Some(units(1));
    let e = wait(h.open_auction(bad)).unwrap_err();
    assert_eq!(
        (e.code(), e.class()),
        ("missing_field", ErrorClass::Invalid)
    );
    // max_concurrent_coordinations (4 in test-min), engine-wide across workers.
    let max = cfg.coordination.max_concurrent_coordinations;
    let mut ids = vec![id];
    while ids.len() < max {
        ids.push(open(&h, AuctionType::FirstPrice));
    }
    let refused = wait(h.open_auction(OpenAuction::new(AuctionType::FirstPrice))).unwrap_err();
    assert_eq!(
        (refused.code(), refused.class()),
        ("too_many_sessions", ErrorClass::Overloaded)
    );
    assert!(refused.is_retryable());
    // A cancelled session frees its slot.
    let cancelled = wait(h.cancel_session(&ids[1])).unwrap();
    assert_eq!(cancelled.state(), SessionState::Cancelled);
    open(&h, AuctionType::FirstPrice);
    let e = wait(h.bid("nope", Bid::new("a", units(1)), None)).unwrap_err();
    assert_eq!((e.code(), e.class()), ("not_found", ErrorClass::NotFound));
}

#[test]
fn a_short_deadline_really_expires() {
    let engine = Engine::start(config(2)).unwrap();
    let h = engine.handle();
    let mut req = OpenAuction::new(AuctionType::SecondPrice);
    req.id = Some("short-1".into());
    req.deadline_ms = Some(40);
    let view = wait(h.open_auction(req)).unwrap();
    assert_eq!(view.deadline_at, Some(view.opened_at + 40));
    wait(h.bid("short-1", Bid::new("a", units(9)), None)).unwrap();
    let started = Instant::now();
    let expired = loop {
        let v = wait(h.auction("short-1")).unwrap();
        if v.state.is_finished() {
            break v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "never expired: {v:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(expired.state, SessionState::Expired);
    let json = serde_json::to_value(&expired).unwrap();
    assert_eq!(json["outcome"]["winner"], "a");
    // A deadline past coordination.session_deadline_max_ms is refused.
    let mut long = OpenAuction::new(AuctionType::FirstPrice);
    long.deadline_ms = Some(60_000);
    let e = wait(h.open_auction(long)).unwrap_err();
    assert_eq!(
        (e.code(), e.class()),
        ("invalid_parameter", ErrorClass::Invalid)
    );
}

#[test]
fn combinatorial_live_auction_takes_bundles() {
    let engine = Engine::start(config(1)).unwrap();
    let h = engine.handle();
    let mut req = OpenAuction::new(AuctionType::Combinatorial);
    req.items = Some(BTreeMap::from([
        ("cpu".to_string(), 2),
        ("gpu".to_string(), 1),
    ]));
    let id = wait(h.open_auction(req.clone())).unwrap().id;
    let bundle = |c: u64, g: u64| {
        let mut b = BTreeMap::new();
        if c > 0 {
            b.insert("cpu".to_string(), c);
        }
        if g > 0 {
            b.insert("gpu".to_string(), g);
        }
        b
    };
    let mut bids = Vec::new();
    for (who, c, g, amount) in [
        ("a", 1, 1, 10),
        ("a", 2, 0, 7),
        ("b", 1, 0, 4),
        ("c", 0, 1, 6),
    ] {
        let mut bid = Bid::new(who, units(amount));
        bid.bundle = Some(bundle(c, g));
        wait(h.bid(&id, bid.clone(), None)).unwrap();
        bids.push(bid);
    }
    let mut unknown = Bid::new("d", units(1));
    unknown.bundle = Some(BTreeMap::from([("tpu".to_string(), 1)]));
    assert_eq!(
        wait(h.bid(&id, unknown, None)).unwrap_err().code(),
        "unknown_item"
    );
    let closed = wait(h.close_auction(&id)).unwrap();
    let mut spec = req.to_spec();
    spec.bids = bids;
    let one_shot = clear(&CoordinationRequest::Auction(spec), &Limits::default()).unwrap();
    assert_eq!(
        CoordinationOutcome::Auction(closed.outcome.unwrap()),
        one_shot
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever bids arrive, closing the live auction gives the one-shot outcome on the
    /// same bids in submission order.
    #[test]
    fn live_close_matches_one_shot(
        kind in prop::sample::select(vec![
            AuctionType::FirstPrice, AuctionType::SecondPrice, AuctionType::English, AuctionType::Dutch,
        ]),
        amounts in prop::collection::vec(1i64..40, 0..12),
        reserve in 0i64..10,
    ) {
        let engine = Engine::start(config(2)).unwrap();
        let h = engine.handle();
        let mut req = OpenAuction::new(kind);
        req.reserve = Some(units(reserve));
        match kind {
            AuctionType::English => { req.start = Some(units(1)); req.increment = Some(units(1)); }
            AuctionType::Dutch => { req.start = Some(units(50)); req.decrement = Some(units(1)); }
            _ => {}
        }
        let id = wait(h.open_auction(req.clone())).unwrap().id;
        let bids: Vec<Bid> = amounts.iter().enumerate()
            .map(|(i, a)| Bid::new(format!("agent-{i}"), units(*a))).collect();
        for b in &bids {
            wait(h.bid(&id, b.clone(), None)).unwrap();
        }
        let closed = wait(h.close_auction(&id)).unwrap();
        let mut spec = req.to_spec();
        spec.bids = bids;
        let one_shot = clear(&CoordinationRequest::Auction(spec), &Limits::default()).unwrap();
        prop_assert_eq!(CoordinationOutcome::Auction(closed.outcome.unwrap()), one_shot);
        engine.shutdown();
    }
}
