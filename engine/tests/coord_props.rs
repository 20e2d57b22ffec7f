//! Properties of the public entry points over generated requests: batch clearing equals
//! serial clearing at any thread count, and every outcome survives a JSON round trip.

use mabeam_engine::coord::{
    AllocationRequest, AllocationSpec, AuctionSpec, AuctionType, Bid, ClearingPool, ConsensusSpec,
    CoordinationOutcome, CoordinationRequest, Limits, MarketSpec, Money, Order, Rule, Side,
    Strategy as Split, Vote, clear_serial,
};
use proptest::prelude::*;
use serde_json::Value;

fn auction(kind: AuctionType, amounts: &[i64]) -> AuctionSpec {
    let (start, increment, decrement, units) = match kind {
        AuctionType::English => (Some(Money(1)), Some(Money(3)), None, None),
        AuctionType::Dutch => (Some(Money(100)), None, Some(Money(7)), None),
        AuctionType::MultiUnit => (None, None, None, Some(3)),
        _ => (None, None, None, None),
    };
    AuctionSpec {
        kind,
        reserve: Some(Money(5)),
        start,
        increment,
        decrement,
        max_rounds: None,
        units,
        pricing: None,
        items: None,
        payment: None,
        bids: amounts
            .iter()
            .enumerate()
            .map(|(i, &a)| Bid::new(format!("a{i}"), Money(a)))
            .collect(),
    }
}

fn request() -> impl proptest::strategy::Strategy<Value = CoordinationRequest> {
    let amounts = prop::collection::vec(-2i64..120, 0..8);
    (0u8..8, amounts).prop_map(|(k, amounts)| match k {
        0 => CoordinationRequest::Auction(auction(AuctionType::FirstPrice, &amounts)),
        1 => CoordinationRequest::Auction(auction(AuctionType::SecondPrice, &amounts)),
        2 => CoordinationRequest::Auction(auction(AuctionType::English, &amounts)),
        3 => CoordinationRequest::Auction(auction(AuctionType::Dutch, &amounts)),
        4 => CoordinationRequest::Auction(auction(AuctionType::MultiUnit, &amounts)),
        5 => CoordinationRequest::Market(MarketSpec {
            orders: amounts
                .iter()
                .enumerate()
                .map(|(i, &a)| {
                    let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
                    Order::limit(format!("t{i}"), side, 1 + (a.unsigned_abs() % 4), Money(a))
                })
                .collect(),
        }),
        6 => CoordinationRequest::Consensus(ConsensusSpec {
            rule: Rule::Majority,
            threshold: None,
            quorum: Some(2),
            max_weight_share: None,
            votes: amounts
                .iter()
                .enumerate()
                .map(|(i, &a)| Vote {
                    agent_id: format!("v{i}"),
                    choice: format!("c{}", a.rem_euclid(3)),
                    weight: None,
                })
                .collect(),
        }),
        _ => CoordinationRequest::Allocation(AllocationSpec {
            strategy: Split::Proportional,
            available: 17,
            requests: amounts
                .iter()
                .enumerate()
                .map(|(i, &a)| AllocationRequest {
                    agent_id: format!("r{i}"),
                    quantity: a.unsigned_abs(),
                    priority: None,
                })
                .collect(),
        }),
    })
}

/// Equal JSON, except that non-integer numbers may differ by a relative 1e-15.
fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-15 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| close(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
        }
        _ => a == b,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn batch_equals_serial_and_outcomes_round_trip(reqs in prop::collection::vec(request(), 0..40)) {
        let limits = Limits::default();
        let serial = clear_serial(&reqs, &limits);
        for threads in [1, 3] {
            let pool = ClearingPool::new(threads).unwrap();
            prop_assert_eq!(&pool.clear_batch(&reqs, &limits), &serial);
        }
        for (req, result) in reqs.iter().zip(&serial) {
            let text = serde_json::to_string(req).unwrap();
            prop_assert_eq!(&serde_json::from_str::<CoordinationRequest>(&text).unwrap(), req);
            if let Ok(outcome) = result {
                prop_assert_eq!(outcome.protocol(), req.protocol());
                let text = serde_json::to_string(outcome).unwrap();
                let back = serde_json::from_str::<CoordinationOutcome>(&text).unwrap();
                // Ratios (efficiency, support) have up to 17 digits and serde_json's default
                // float parser may land one ulp away; money never does (at most 15 digits).
                let (a, b) = (serde_json::to_value(outcome).unwrap(), serde_json::to_value(&back).unwrap());
                prop_assert!(close(&a, &b), "{} vs {}", a, b);
            }
        }
    }
}
