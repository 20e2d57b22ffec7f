//! Live markets through the public `Handle`: continuous markets fill on arrival at
//! the resting price with price-time priority; call markets clear on their timer
//! and on request, like the one-shot call market on the same orders.

use mabeam_engine::api::ErrorClass;
use mabeam_engine::api::{Engine, EngineError, Pending};
use mabeam_engine::coord::{
    CoordinationOutcome, CoordinationRequest, Limits, MarketSpec, Money, Order, Side, clear,
};
use mabeam_engine::profile::Config;
use mabeam_engine::session::{MarketKind, OpenMarket, SessionState};
use std::time::{Duration, Instant};

fn config(workers: usize) -> Config {
    let mut c = Config::test_min();
    c.engine.workers = workers;
    c.performance.memory_limit_mb = 0;
    c.core.coordination_timeout = Duration::from_secs(5);
    c.coordination.protocol_timeout = Duration::from_secs(10);
    c
}

fn units(n: i64) -> Money {
    Money(n * 1_000_000)
}

fn wait<T>(p: Pending<T>) -> Result<T, EngineError> {
    p.wait_timeout(Duration::from_secs(10))
}

fn order(who: &str, side: Side, q: u64, limit: i64) -> Order {
    Order::limit(who, side, q, units(limit))
}

#[test]
fn continuous_market_fills_at_the_resting_price_in_price_time_order() {
    for workers in [1, 2] {
        let engine = Engine::start(config(workers)).unwrap();
        let h = engine.handle();
        let id = wait(h.open_market(OpenMarket::new(MarketKind::Continuous)))
            .unwrap()
            .id;
        let s1 = wait(h.order(&id, order("s1", Side::Sell, 2, 101), None)).unwrap();
        let s2 = wait(h.order(&id, order("s2", Side::Sell, 2, 100), None)).unwrap();
        let s3 = wait(h.order(&id, order("s3", Side::Sell, 2, 100), None)).unwrap();
        assert!(s1.fills.is_empty() && s1.resting);
        let buy = wait(h.order(&id, order("b", Side::Buy, 5, 105), Some("buy-1"))).unwrap();
        let got: Vec<_> = buy
            .fills
            .iter()
            .map(|f| {
                (
                    f.maker_order_id,
                    f.maker_agent_id.as_str(),
                    f.quantity,
                    f.price,
                )
            })
            .collect();
        // Best price first; within 100, the earlier s2 before s3; each at its own price.
        assert_eq!(
            got,
            [
                (s2.order_id, "s2", 2, units(100)),
                (s3.order_id, "s3", 2, units(100)),
                (s1.order_id, "s1", 1, units(101)),
            ]
        );
        assert_eq!((buy.filled, buy.remaining, buy.resting), (5, 0, false));
        // The same key answers the same fills and trades nothing new.
        let again = wait(h.order(&id, order("b", Side::Buy, 5, 105), Some("buy-1"))).unwrap();
        assert_eq!(again, buy);
        let view = wait(h.market(&id)).unwrap();
        assert_eq!((view.volume, view.orders, view.pending), (5, 4, 1));
        assert_eq!(view.best_ask, Some((units(101), 1)));
        assert_eq!(view.last_price, Some(units(101)));
        let e = wait(h.clear_market(&id)).unwrap_err();
        assert_eq!(
            (e.code(), e.class()),
            ("wrong_session_kind", ErrorClass::Conflict)
        );
        let closed = wait(h.close_market(&id)).unwrap();
        assert_eq!(closed.state, SessionState::Closed);
        let e = wait(h.order(&id, order("x", Side::Buy, 1, 200), None)).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Conflict);
        engine.shutdown();
    }
}

#[test]
fn call_market_clears_on_its_timer() {
    let mut c = config(2);
    c.coordination.market_update_frequency = Duration::from_millis(50);
    // Keep the market open well past its first call, however loaded the machine.
    c.coordination.protocol_timeout = Duration::from_secs(10);
    c.coordination.default_timeout = Duration::from_secs(10);
    let engine = Engine::start(c).unwrap();
    let h = engine.handle();
    let id = wait(h.open_market(OpenMarket::new(MarketKind::Call)))
        .unwrap()
        .id;
    let orders = [
        order("s1", Side::Sell, 10, 5),
        order("b1", Side::Buy, 6, 8),
        order("b2", Side::Buy, 2, 4),
    ];
    for o in &orders {
        let r = wait(h.order(&id, o.clone(), None)).unwrap();
        assert!(r.fills.is_empty() && r.resting);
    }
    let started = Instant::now();
    let view = loop {
        let v = wait(h.market(&id)).unwrap();
        if v.calls > 0 {
            break v;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "no call: {v:?}");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(view.state, SessionState::Open);
    let one_shot = clear(
        &CoordinationRequest::Market(MarketSpec {
            orders: orders.to_vec(),
        }),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        CoordinationOutcome::Market(view.outcome.clone().unwrap()),
        one_shot
    );
    // s1's 4 unfilled units and b2's order (below the price) rest for the next call.
    assert_eq!((view.volume, view.pending), (6, 2));
    // A clear request runs a call now on what rests and what arrived since.
    wait(h.order(&id, order("s2", Side::Sell, 1, 3), None)).unwrap();
    wait(h.order(&id, order("b3", Side::Buy, 1, 3), None)).unwrap();
    let cleared = wait(h.clear_market(&id)).unwrap();
    assert_eq!(cleared.outcome.as_ref().map(|o| o.volume), Some(1));
    assert_eq!(cleared.volume, 7);
    // An order without a limit is a market order: it rests for the next call like any other.
    let mut market_order = order("m", Side::Buy, 1, 1);
    market_order.limit = None;
    let r = wait(h.order(&id, market_order, None)).unwrap();
    assert!(r.resting && r.fills.is_empty());
}

#[test]
fn a_market_expires_at_its_deadline_with_a_final_call() {
    let mut c = config(1);
    c.coordination.market_update_frequency = Duration::from_secs(60);
    let engine = Engine::start(c).unwrap();
    let h = engine.handle();
    let mut req = OpenMarket::new(MarketKind::Call);
    req.deadline_ms = Some(30);
    let id = wait(h.open_market(req)).unwrap().id;
    wait(h.order(&id, order("s", Side::Sell, 1, 2), None)).unwrap();
    wait(h.order(&id, order("b", Side::Buy, 1, 4), None)).unwrap();
    let started = Instant::now();
    let v = loop {
        let v = wait(h.market(&id)).unwrap();
        if v.state.is_finished() {
            break v;
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!((v.state, v.calls, v.volume), (SessionState::Expired, 1, 1));
    assert_eq!(v.last_price, Some(units(3)));
}
