use super::*;
use crate::coord::{AuctionType, Money, Rule, Side};
use crate::error::{Describe, ErrorClass};

fn u(n: i64) -> Money {
    Money(n * 1_000_000)
}

fn settings() -> SessionSettings {
    SessionSettings {
        max_deadline_ms: 5_000,
        retained_max: 2,
        bids_max: 3,
        orders_max: 4,
        keys_max: 2,
        call_interval_ms: 100,
        limits: Limits::default(),
    }
}

fn run_jobs(s: &mut Sessions<u32>, now: u64) -> Vec<(SessionView, Vec<u32>)> {
    let jobs = s.take_jobs(usize::MAX);
    jobs.into_iter()
        .filter_map(|j| {
            let protocol = j.request.protocol();
            let (result, carry) = clear_job(j.request, &Limits::default());
            s.complete(
                Done {
                    session: j.session,
                    id: j.id,
                    protocol,
                    result,
                    carry,
                    entries: j.entries,
                    opened_at: j.opened_at,
                    took: Duration::ZERO,
                },
                now,
            )
        })
        .collect()
}

#[test]
fn auction_closes_like_the_one_shot_call() {
    let mut s = Sessions::<u32>::new(settings());
    let open = OpenAuction::new(AuctionType::SecondPrice);
    s.open_auction("a1".into(), &open, 0).unwrap();
    let bids = [Bid::new("x", u(5)), Bid::new("y", u(7))];
    for b in &bids {
        s.bid("a1", b.clone(), None).unwrap();
    }
    assert_eq!(
        s.bid("a1", bids[0].clone(), None).unwrap_err().code(),
        "duplicate_entry"
    );
    assert!(matches!(s.close("a1", "auction", 9, 10), Waited::Later));
    assert_eq!(
        s.bid("a1", Bid::new("z", u(1)), None).unwrap_err().code(),
        "session_closed"
    );
    let done = run_jobs(&mut s, 20);
    let (view, waiters) = &done[0];
    assert_eq!(waiters, &[9]);
    let SessionView::Auction(v) = view else {
        panic!("not an auction")
    };
    assert_eq!(v.state, SessionState::Closed);
    let mut spec = open.to_spec();
    spec.bids = bids.to_vec();
    let one_shot = clear(&CoordinationRequest::Auction(spec), &Limits::default()).unwrap();
    assert_eq!(
        CoordinationOutcome::Auction(v.outcome.clone().unwrap()),
        one_shot
    );
    assert_eq!(
        s.drain_finished().next().map(|f| f.state),
        Some(SessionState::Closed)
    );
    assert_eq!(s.open_count(), 0);
}

#[test]
fn deadlines_expire_and_the_ring_forgets() {
    let mut s = Sessions::<u32>::new(settings());
    for (i, id) in ["a", "b", "c"].iter().enumerate() {
        let mut open = OpenAuction::new(AuctionType::FirstPrice);
        open.deadline_ms = Some(10 + i as u64);
        s.open_auction((*id).into(), &open, 0).unwrap();
    }
    assert_eq!(s.next_due(), 10);
    let mut too_long = OpenAuction::new(AuctionType::FirstPrice);
    too_long.deadline_ms = Some(6_000);
    assert_eq!(
        s.open_auction("d".into(), &too_long, 0).unwrap_err().code(),
        "invalid_parameter"
    );
    s.tick(50);
    assert_eq!(s.jobs_waiting(), 3);
    run_jobs(&mut s, 60);
    // Two finished sessions are retained; the oldest is forgotten.
    assert_eq!(s.list().len(), 2);
    assert!(s.list().iter().all(|v| v.state() == SessionState::Expired));
    assert_eq!(s.open_count(), 0);
}

#[test]
fn limits_keys_and_cancel() {
    let mut s = Sessions::<u32>::new(settings());
    s.open_auction("a".into(), &OpenAuction::new(AuctionType::FirstPrice), 0)
        .unwrap();
    let b = |who: &str| Bid::new(who, u(3));
    let r1 = s.bid("a", b("x"), Some("k1".into())).unwrap();
    assert_eq!(s.bid("a", b("x"), Some("k1".into())).unwrap(), r1);
    assert_eq!(
        s.bid("a", b("y"), Some("k1".into()))
            .unwrap_err()
            .describe()
            .class,
        ErrorClass::Rejected
    );
    s.bid("a", b("y"), Some("k2".into())).unwrap();
    assert_eq!(
        s.bid("a", b("z"), Some("k3".into())).unwrap_err().code(),
        "idempotency_keys_exhausted"
    );
    s.bid("a", b("z"), None).unwrap();
    assert_eq!(s.bid("a", b("w"), None).unwrap_err().code(), "session_full");
    assert_eq!(
        s.bid("nope", b("w"), None).unwrap_err().describe().class,
        ErrorClass::NotFound
    );
    let v = s.cancel("a", 5).unwrap();
    assert_eq!(v.state(), SessionState::Cancelled);
    assert_eq!(s.cancel("a", 6).unwrap_err().code(), "session_closed");
    // A retry with a known key after the close still answers the first receipt.
    assert_eq!(s.bid("a", b("x"), Some("k1".into())).unwrap(), r1);
}

#[test]
fn call_market_calls_on_its_timer_and_continuous_matches() {
    let mut s = Sessions::<u32>::new(settings());
    s.open_market("m".into(), &OpenMarket::new(MarketKind::Call), 0)
        .unwrap();
    s.order("m", Order::limit("s", Side::Sell, 5, u(4)), None)
        .unwrap();
    s.order("m", Order::limit("b", Side::Buy, 3, u(6)), None)
        .unwrap();
    s.tick(50);
    assert_eq!(s.jobs_waiting(), 0);
    s.tick(100);
    assert_eq!(s.jobs_waiting(), 1);
    let done = run_jobs(&mut s, 101);
    let SessionView::Market(v) = &done[0].0 else {
        panic!()
    };
    assert_eq!((v.state, v.calls, v.volume), (SessionState::Open, 1, 3));
    assert_eq!(v.last_price, Some(u(5)));

    // The seller's 2 unfilled units rest: the timer does not call on them alone, the
    // next order meets them, and every call stays in the history, newest first.
    assert_eq!(v.pending, 1);
    s.tick(200);
    assert_eq!(s.jobs_waiting(), 0);
    s.order("m", Order::limit("b2", Side::Buy, 4, u(5)), None)
        .unwrap();
    s.tick(300);
    let done = run_jobs(&mut s, 301);
    let SessionView::Market(v) = &done[0].0 else {
        panic!()
    };
    assert_eq!((v.calls, v.volume, v.pending), (2, 5, 1));
    let calls: Vec<_> = v
        .history
        .iter()
        .map(|c| (c.call, c.at, c.outcome.volume))
        .collect();
    assert_eq!(calls, [(2, 301, 2), (1, 101, 3)]);
    // The history holds at most orders_max (4) fills: a third call of 2 fills drops the first.
    s.order("m", Order::limit("s3", Side::Sell, 1, u(5)), None)
        .unwrap();
    s.tick(400);
    let done = run_jobs(&mut s, 401);
    let SessionView::Market(v) = &done[0].0 else {
        panic!()
    };
    let calls: Vec<_> = v.history.iter().map(|c| c.call).collect();
    assert_eq!((calls, v.pending), (vec![3, 2], 1));
    // Closing with only a remainder resting finishes without another call.
    assert!(matches!(s.close("m", "market", 7, 450), Waited::Now(..)));
    assert_eq!(s.jobs_waiting(), 0);

    s.open_market("c".into(), &OpenMarket::new(MarketKind::Continuous), 0)
        .unwrap();
    s.order("c", Order::limit("s1", Side::Sell, 2, u(10)), None)
        .unwrap();
    s.order("c", Order::limit("s2", Side::Sell, 2, u(9)), None)
        .unwrap();
    let r = s
        .order("c", Order::limit("b", Side::Buy, 3, u(11)), None)
        .unwrap();
    let prices: Vec<_> = r
        .fills
        .iter()
        .map(|f| (f.maker_agent_id.as_str(), f.price))
        .collect();
    assert_eq!(prices, [("s2", u(9)), ("s1", u(10))]);
    assert!(
        matches!(s.clear_market("c", 1), Waited::Refused(e, 1) if e.code() == "wrong_session_kind")
    );
}

#[test]
fn consensus_closes_at_quorum() {
    let mut s = Sessions::<u32>::new(settings());
    let mut open = OpenConsensus::new(Rule::Majority);
    open.quorum = Some(2);
    s.open_consensus("v".into(), &open, 0).unwrap();
    let vote = |a: &str, c: &str| Vote {
        agent_id: a.into(),
        choice: c.into(),
        weight: None,
    };
    assert!(!s.vote("v", vote("a", "x"), None).unwrap().closing);
    assert!(s.vote("v", vote("b", "x"), None).unwrap().closing);
    let done = run_jobs(&mut s, 5);
    let SessionView::Consensus(v) = &done[0].0 else {
        panic!()
    };
    assert_eq!(v.state, SessionState::Closed);
    assert_eq!(
        v.outcome.as_ref().and_then(|o| o.decision.as_deref()),
        Some("x")
    );
}
