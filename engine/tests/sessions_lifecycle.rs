//! Sessions through the public `Handle`: listing, get and cancel; consensus rounds
//! (quorum and deadline); memory admission; shutdown answering queued commands.

use mabeam_engine::api::ErrorClass;
use mabeam_engine::api::{Engine, EngineError, Pending};
use mabeam_engine::coord::{AuctionType, Bid, Money, Rule, Vote};
use mabeam_engine::profile::Config;
use mabeam_engine::session::{
    MarketKind, OpenAuction, OpenConsensus, OpenMarket, SessionState, SessionView,
};
use mabeam_engine::variables::CreateRequest;
use serde_json::json;
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

fn wait<T>(p: Pending<T>) -> Result<T, EngineError> {
    p.wait_timeout(Duration::from_secs(10))
}

fn vote(agent: &str, choice: &str) -> Vote {
    Vote {
        agent_id: agent.into(),
        choice: choice.into(),
        weight: None,
    }
}

#[test]
fn list_get_and_cancel_across_workers() {
    for workers in [1, 2] {
        let engine = Engine::start(config(workers)).unwrap();
        let h = engine.handle();
        let mut a = OpenAuction::new(AuctionType::FirstPrice);
        a.id = Some("auction-x".into());
        wait(h.open_auction(a.clone())).unwrap();
        let dup = wait(h.open_auction(a)).unwrap_err();
        assert_eq!(
            (dup.code(), dup.class()),
            ("already_exists", ErrorClass::Conflict)
        );
        let m = wait(h.open_market(OpenMarket::new(MarketKind::Call))).unwrap();
        let c = wait(h.open_consensus(OpenConsensus::new(Rule::Majority))).unwrap();
        let list = wait(h.sessions()).unwrap();
        let ids: Vec<&str> = list.sessions.iter().map(SessionView::id).collect();
        let mut want = vec!["auction-x", m.id.as_str(), c.id.as_str()];
        want.sort();
        assert_eq!((ids, list.count), (want, 3));
        let json = serde_json::to_value(&list).unwrap();
        assert_eq!(json["sessions"][0]["protocol"], "auction");
        // The typed getters see only their kind; the session getter sees any.
        assert_eq!(
            wait(h.market("auction-x")).unwrap_err().class(),
            ErrorClass::NotFound
        );
        assert_eq!(wait(h.session(&m.id)).unwrap().protocol(), "market");
        let gone = wait(h.cancel_session(&m.id)).unwrap();
        assert_eq!(gone.state(), SessionState::Cancelled);
        let again = wait(h.cancel_session(&m.id)).unwrap_err();
        assert_eq!(
            (again.code(), again.class()),
            ("session_closed", ErrorClass::Conflict)
        );
        assert_eq!(h.open_sessions(), 2);
        assert_eq!(wait(h.session("never")).unwrap_err().code(), "not_found");
        engine.shutdown();
    }
}

#[test]
fn consensus_closes_at_quorum_or_expires_at_the_deadline() {
    let engine = Engine::start(config(2)).unwrap();
    let h = engine.handle();
    let mut req = OpenConsensus::new(Rule::Majority);
    req.quorum = Some(3);
    let id = wait(h.open_consensus(req)).unwrap().id;
    assert!(!wait(h.vote(&id, vote("a", "x"), None)).unwrap().closing);
    assert!(!wait(h.vote(&id, vote("b", "y"), None)).unwrap().closing);
    assert!(wait(h.vote(&id, vote("c", "x"), None)).unwrap().closing);
    let closed = wait(h.close_consensus(&id)).unwrap();
    assert_eq!(closed.state, SessionState::Closed);
    let outcome = closed.outcome.unwrap();
    assert_eq!(
        (outcome.decision.as_deref(), outcome.reached),
        (Some("x"), true)
    );

    let mut req = OpenConsensus::new(Rule::Unanimous);
    req.deadline_ms = Some(30);
    let id = wait(h.open_consensus(req)).unwrap().id;
    wait(h.vote(&id, vote("a", "x"), None)).unwrap();
    let started = Instant::now();
    let expired = loop {
        let v = wait(h.consensus(&id)).unwrap();
        if v.state.is_finished() {
            break v;
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(expired.state, SessionState::Expired);
    assert_eq!(expired.votes, 1);
    let late = wait(h.vote(&id, vote("b", "x"), None)).unwrap_err();
    assert_eq!(late.code(), "session_closed");
}

#[test]
fn over_the_memory_limit_new_sessions_and_variables_are_refused() {
    let mut c = config(1);
    c.performance.memory_limit_mb = 1;
    let engine = Engine::start(c).unwrap();
    let h = engine.handle();
    let started = Instant::now();
    // The sweep samples memory every gc_frequency (10 ms in test-min).
    loop {
        match wait(h.open_auction(OpenAuction::new(AuctionType::FirstPrice))) {
            Err(e) if e.code() == "memory_limit" => {
                assert_eq!(e.class(), ErrorClass::Overloaded);
                break;
            }
            Ok(_) => {
                // Cancel to stay under the session limit while memory is sampled.
                let list = wait(h.sessions()).unwrap();
                for s in list
                    .sessions
                    .iter()
                    .filter(|s| s.state() == SessionState::Open)
                {
                    let _ = wait(h.cancel_session(s.id()));
                }
            }
            Err(other) => panic!("expected memory_limit, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(5), "never refused");
        std::thread::sleep(Duration::from_millis(5));
    }
    let create: CreateRequest = serde_json::from_value(json!({"name": "v", "value": 1})).unwrap();
    assert_eq!(
        wait(h.create_variable(create)).unwrap_err().code(),
        "memory_limit"
    );
}

#[test]
fn shutdown_answers_queued_session_commands() {
    let mut c = config(1);
    c.engine.inbox_depth_max = 64;
    let engine = Engine::start(c).unwrap();
    let h = engine.handle();
    let mut req = OpenAuction::new(AuctionType::SecondPrice);
    req.id = Some("at-shutdown".into());
    // Queue everything without waiting, then shut down at once.
    let opened = h.open_auction(req);
    let bids: Vec<_> = (0..5)
        .map(|i| {
            h.bid(
                "at-shutdown",
                Bid::new(format!("a{i}"), Money(1_000_000 * (i + 1))),
                None,
            )
        })
        .collect();
    let closed = h.close_auction("at-shutdown");
    let report = engine.shutdown();
    assert_eq!(wait(opened).unwrap().state, SessionState::Open);
    for b in bids {
        wait(b).unwrap();
    }
    let closed = wait(closed).unwrap();
    assert_eq!(closed.state, SessionState::Closed);
    assert_eq!(closed.bids, 5);
    assert!(report.clean, "{report:?}");
    assert_eq!(report.abandoned, 0);
    let after = wait(h.auction("at-shutdown")).unwrap_err();
    assert_eq!(after.code(), "shutting_down");
}

#[test]
fn sessions_are_counted_in_telemetry() {
    use mabeam_engine::coord::{Order, Side};
    use mabeam_engine::telemetry::{AuctionType as Label, Counter};
    let engine = Engine::start(config(2)).unwrap();
    let h = engine.handle();
    let id = wait(h.open_auction(OpenAuction::new(AuctionType::SecondPrice)))
        .unwrap()
        .id;
    for (i, amount) in [4, 6, 5].iter().enumerate() {
        wait(h.bid(
            &id,
            Bid::new(format!("a{i}"), Money(amount * 1_000_000)),
            None,
        ))
        .unwrap();
    }
    wait(h.close_auction(&id)).unwrap();
    let m = wait(h.open_market(OpenMarket::new(MarketKind::Continuous)))
        .unwrap()
        .id;
    wait(h.order(&m, Order::limit("s", Side::Sell, 3, Money(2_000_000)), None)).unwrap();
    wait(h.order(&m, Order::limit("b", Side::Buy, 2, Money(3_000_000)), None)).unwrap();
    wait(h.cancel_session(&m)).unwrap();
    let mut short = OpenConsensus::new(Rule::Majority);
    short.deadline_ms = Some(20);
    wait(h.open_consensus(short)).unwrap();
    let t = h.telemetry();
    let started = Instant::now();
    loop {
        let seen = (
            t.counter(Counter::SessionsOpened),
            t.counter(Counter::SessionsClosed),
            t.counter(Counter::SessionsCancelled),
            t.counter(Counter::SessionsExpired),
            t.counter(Counter::Auctions(Label::SecondPrice)),
            t.counter(Counter::AuctionBids),
            t.counter(Counter::MarketVolume),
        );
        if seen == (3, 1, 1, 1, 1, 3, 2) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "counters: {seen:?}"
        );
        t.request_flush();
        std::thread::sleep(Duration::from_millis(10));
    }
}
