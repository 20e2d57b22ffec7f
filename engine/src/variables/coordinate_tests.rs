//! Tests of the pure decision functions: edge cases, the tie-break, and proptests against
//! brute-force references.

use super::*;
use crate::coord::Rule;
use proptest::prelude::*;
use serde_json::json;

fn vote(agent: &str, value: Value, weight: u64, at: u64) -> Vote {
    Vote {
        agent_id: agent.to_owned(),
        value,
        weight,
        at,
    }
}

fn bid(agent: &str, value: Value, amount: i64, at: u64) -> Bid {
    Bid {
        agent_id: agent.to_owned(),
        value,
        amount,
        at,
    }
}

fn decided(votes: &[Vote], rule: VoteRule) -> Option<Value> {
    let outcome = decide_vote(votes, rule).ok()?;
    outcome.decision().map(|t| votes[t.first].value.clone())
}

fn leader(votes: &[Vote], rule: VoteRule) -> Value {
    let outcome = decide_vote(votes, rule).expect("valid");
    votes[outcome.tally[0].first].value.clone()
}

fn rule(rule: Rule) -> VoteRule {
    VoteRule {
        rule,
        threshold: None,
        quorum: None,
        max_weight_share: None,
    }
}

const MAJORITY: Rule = Rule::Majority;
const WEIGHTED: Rule = Rule::Weighted;

fn supermajority(threshold_micros: u32) -> VoteRule {
    VoteRule {
        threshold: Some(f64::from(threshold_micros) / 1e6),
        ..rule(Rule::Supermajority)
    }
}

#[test]
fn majority_needs_strictly_more_than_half_of_the_votes() {
    let votes = [vote("a", json!(1), 1, 0), vote("b", json!(2), 1, 1)];
    let outcome = decide_vote(&votes, rule(MAJORITY)).expect("valid");
    assert!(!outcome.reached, "1 of 2 is not a majority");
    assert_eq!(outcome.total, 2);
    // Majority counts votes, not weights (as the consensus protocol does).
    let votes = [vote("a", json!(1), 2, 0), vote("b", json!(2), 1, 1)];
    assert_eq!(decided(&votes, rule(MAJORITY)), None);
    assert_eq!(decided(&votes, rule(WEIGHTED)), Some(json!(1)), "2 of 3");
    let votes = [
        vote("a", json!(1), 1, 0),
        vote("b", json!(2), 9, 1),
        vote("c", json!(1), 1, 2),
    ];
    assert_eq!(decided(&votes, rule(MAJORITY)), Some(json!(1)));
}

#[test]
fn unanimous_needs_every_vote() {
    let votes = [vote("a", json!(1), 1, 0), vote("b", json!(1.0), 5, 1)];
    assert_eq!(decided(&votes, rule(Rule::Unanimous)), Some(json!(1)));
    let votes = [vote("a", json!(1), 9, 0), vote("b", json!(2), 1, 1)];
    assert_eq!(decided(&votes, rule(Rule::Unanimous)), None);
}

#[test]
fn weighted_counts_weights_and_needs_more_than_its_threshold() {
    let votes = [
        vote("a", json!(5), 1, 0),
        vote("b", json!(7), 3, 1),
        vote("c", json!(5.0), 1, 2),
        vote("d", json!(5), 1, 3),
    ];
    let outcome = decide_vote(&votes, rule(WEIGHTED)).expect("valid");
    // 5 and 7 both have weight 3; 5's earliest vote (at 0) precedes 7's (at 1).
    assert_eq!(
        outcome.tally[0],
        TallyEntry {
            first: 0,
            weight: 3,
            votes: 3
        }
    );
    assert_eq!(
        outcome.tally[1],
        TallyEntry {
            first: 1,
            weight: 3,
            votes: 1
        }
    );
    assert!(!outcome.reached, "3 of 6 is not more than half");
    let votes = [
        vote("a", json!(5), 1, 0),
        vote("b", json!(7), 4, 1),
        vote("c", json!(5.0), 1, 2),
    ];
    assert_eq!(decided(&votes, rule(WEIGHTED)), Some(json!(7)), "4 of 6");
    let strict = VoteRule {
        threshold: Some(0.7),
        ..rule(WEIGHTED)
    };
    assert_eq!(decided(&votes, strict), None, "4 of 6 is not above 0.7");
    let capped = VoteRule {
        max_weight_share: Some(0.5),
        ..rule(WEIGHTED)
    };
    assert!(matches!(
        decide_vote(&votes, capped),
        Err(CoordinationError::WeightCap(..))
    ));
}

#[test]
fn ties_go_to_the_earliest_vote_then_the_smallest_agent_id() {
    let votes = [vote("z", json!("x"), 1, 5), vote("a", json!("y"), 1, 9)];
    assert_eq!(
        leader(&votes, rule(WEIGHTED)),
        json!("x"),
        "earlier at wins"
    );
    let votes = [vote("z", json!("x"), 1, 5), vote("a", json!("y"), 1, 5)];
    assert_eq!(
        leader(&votes, rule(WEIGHTED)),
        json!("y"),
        "same at: agent a wins"
    );
    // A value's rank is that of its earliest vote, wherever it sits in the input.
    let votes = [
        vote("m", json!("x"), 1, 7),
        vote("b", json!("y"), 1, 3),
        vote("k", json!("x"), 1, 1),
        vote("c", json!("y"), 1, 4),
    ];
    assert_eq!(leader(&votes, rule(MAJORITY)), json!("x"));
}

#[test]
fn supermajority_threshold_is_inclusive() {
    // 2 of 3 = 0.666666..., which meets 0.666666 and misses 0.666667.
    let votes = [
        vote("a", json!(1), 1, 0),
        vote("b", json!(1), 1, 1),
        vote("c", json!(2), 1, 2),
    ];
    assert_eq!(decided(&votes, supermajority(666_666)), Some(json!(1)));
    assert_eq!(decided(&votes, supermajority(666_667)), None);
    // 3 of 4 = 0.75 exactly meets 0.75 (inclusive), misses 0.750001.
    let votes = [
        vote("a", json!(1), 1, 0),
        vote("b", json!(1), 1, 1),
        vote("c", json!(1), 1, 2),
        vote("d", json!(2), 1, 3),
    ];
    assert_eq!(decided(&votes, supermajority(750_000)), Some(json!(1)));
    assert_eq!(decided(&votes, supermajority(750_001)), None);
    // Threshold 1 is unanimity.
    assert_eq!(decided(&votes, supermajority(1_000_000)), None);
    let votes = [vote("a", json!(1), 3, 0), vote("b", json!(1.0), 1, 1)];
    assert_eq!(decided(&votes, supermajority(1_000_000)), Some(json!(1)));
}

#[test]
fn a_quorum_holds_back_a_decision() {
    let votes = [vote("a", json!(1), 1, 0), vote("b", json!(1), 1, 1)];
    let q = |n| VoteRule {
        quorum: Some(n),
        ..rule(MAJORITY)
    };
    assert_eq!(decided(&votes, q(2)), Some(json!(1)));
    assert_eq!(decided(&votes, q(3)), None);
}

#[test]
fn vote_input_errors() {
    assert_eq!(
        decide_vote(&[], rule(MAJORITY)),
        Err(CoordinationError::Empty("votes"))
    );
    let dup = [
        vote("a", json!(1), 1, 0),
        vote("b", json!(1), 1, 0),
        vote("a", json!(2), 1, 1),
    ];
    assert_eq!(
        decide_vote(&dup, rule(MAJORITY)),
        Err(CoordinationError::DuplicateAgent("a".into()))
    );
    let zero = [vote("a", json!(1), 0, 0)];
    assert_eq!(
        decide_vote(&zero, rule(MAJORITY)),
        Err(CoordinationError::ZeroWeight("a".into()))
    );
    let huge = [vote("a", json!(1), u64::MAX, 0), vote("b", json!(1), 1, 0)];
    assert_eq!(
        decide_vote(&huge, rule(WEIGHTED)),
        Err(CoordinationError::WeightOverflow)
    );
    assert!(decide_vote(&huge, rule(MAJORITY)).is_ok_and(|o| o.reached));
    let max = [
        vote("a", json!(1), u64::MAX - 1, 0),
        vote("b", json!(2), 1, 0),
    ];
    let near_all = VoteRule {
        threshold: Some(0.999_999),
        ..rule(WEIGHTED)
    };
    assert!(decide_vote(&max, near_all).is_ok_and(|o| o.reached));
}

#[test]
fn second_price_pays_the_runner_up_or_the_reserve() {
    let bids = [
        bid("a", json!("A"), 15_000_000, 0),
        bid("b", json!("B"), 12_000_000, 1),
    ];
    let o = decide_second_price(&bids, 10_000_000).expect("valid");
    assert_eq!(
        o,
        AuctionOutcome {
            winner: Some(0),
            price: Some(12_000_000),
            eligible: 2
        }
    );
    // The runner-up below the reserve is not eligible: the winner pays the reserve.
    let o = decide_second_price(&bids, 13_000_000).expect("valid");
    assert_eq!(
        o,
        AuctionOutcome {
            winner: Some(0),
            price: Some(13_000_000),
            eligible: 1
        }
    );
    let o = decide_second_price(&bids, 20_000_000).expect("valid");
    assert_eq!(
        o,
        AuctionOutcome {
            winner: None,
            price: None,
            eligible: 0
        }
    );
    // A bid exactly at the reserve is eligible.
    let o = decide_second_price(&bids, 15_000_000).expect("valid");
    assert_eq!(o.winner, Some(0));
    assert_eq!(o.price, Some(15_000_000));
}

#[test]
fn tied_bids_go_to_the_earliest_then_smallest_agent_and_pay_the_tie() {
    let bids = [
        bid("z", json!(1), 9, 4),
        bid("y", json!(2), 9, 2),
        bid("x", json!(3), 5, 0),
    ];
    let o = decide_second_price(&bids, 0).expect("valid");
    assert_eq!((o.winner, o.price), (Some(1), Some(9)));
    let bids = [bid("z", json!(1), 9, 2), bid("y", json!(2), 9, 2)];
    let o = decide_second_price(&bids, 0).expect("valid");
    assert_eq!((o.winner, o.price), (Some(1), Some(9)));
}

#[test]
fn bid_input_errors() {
    assert_eq!(
        decide_second_price(&[], 0),
        Err(CoordinationError::Empty("bids"))
    );
    let b = [bid("a", json!(1), 1, 0)];
    assert_eq!(
        decide_second_price(&b, -1),
        Err(CoordinationError::NegativeReserve)
    );
    let b = [bid("a", json!(1), -1, 0)];
    assert_eq!(
        decide_second_price(&b, 0),
        Err(CoordinationError::NegativeAmount("a".into()))
    );
    let b = [bid("a", json!(1), 1, 0), bid("a", json!(1), 2, 1)];
    assert_eq!(
        decide_second_price(&b, 0),
        Err(CoordinationError::DuplicateAgent("a".into()))
    );
}

/// Brute-force reference: sort eligible bids by the documented order, take the first two.
fn reference_auction(bids: &[Bid], reserve: i64) -> (Option<usize>, Option<i64>) {
    let mut eligible: Vec<usize> = (0..bids.len())
        .filter(|&i| bids[i].amount >= reserve)
        .collect();
    eligible.sort_by(|&a, &b| {
        (
            std::cmp::Reverse(bids[a].amount),
            bids[a].at,
            &bids[a].agent_id,
        )
            .cmp(&(
                std::cmp::Reverse(bids[b].amount),
                bids[b].at,
                &bids[b].agent_id,
            ))
    });
    match eligible.as_slice() {
        [] => (None, None),
        [w] => (Some(*w), Some(reserve)),
        [w, s, ..] => (Some(*w), Some(bids[*s].amount.max(reserve))),
    }
}

/// Brute-force reference: for each distinct value, sum weights and find its earliest vote.
fn reference_vote(votes: &[Vote]) -> (Value, u64, u64) {
    let total: u64 = votes.iter().map(|v| v.weight).sum();
    let mut best: Option<(u64, (u64, &str), &Value)> = None;
    for v in votes {
        let same: Vec<&Vote> = votes.iter().filter(|w| w.value == v.value).collect();
        let weight: u64 = same.iter().map(|w| w.weight).sum();
        let first = same
            .iter()
            .map(|w| (w.at, w.agent_id.as_str()))
            .min()
            .unwrap_or((0, ""));
        let better = match &best {
            None => true,
            Some((bw, bf, _)) => weight > *bw || (weight == *bw && first < *bf),
        };
        if better {
            best = Some((weight, first, &v.value));
        }
    }
    let (weight, _, value) = best.unwrap_or((0, (0, ""), &Value::Null));
    (value.clone(), weight, total)
}

fn arb_votes() -> impl Strategy<Value = Vec<Vote>> {
    proptest::collection::vec((0u8..4, 1u64..5, 0u64..4), 1..10).prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(i, (value, weight, at))| {
                vote(&format!("agent{}", 9 - i), json!(value), weight, at)
            })
            .collect()
    })
}

fn arb_bids() -> impl Strategy<Value = Vec<Bid>> {
    proptest::collection::vec((0i64..6, 0u64..3), 1..10).prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(i, (amount, at))| bid(&format!("b{}", (i * 7) % 10), json!(i), amount, at))
            .collect()
    })
}

proptest! {
    #[test]
    fn vote_matches_reference_and_ignores_input_order(
        votes in arb_votes(),
        threshold in 500_001u32..=1_000_000,
        rotate in 0usize..10,
    ) {
        let heads: Vec<Vote> = votes.iter().map(|v| Vote { weight: 1, ..v.clone() }).collect();
        for rule in [rule(MAJORITY), supermajority(threshold), rule(WEIGHTED), rule(Rule::Unanimous)] {
            // Only `weighted` counts weights; the other rules count one per vote.
            let counted = if rule.rule == WEIGHTED { &votes } else { &heads };
            let (value, weight, total) = reference_vote(counted);
            let outcome = decide_vote(&votes, rule).expect("valid votes");
            let leader = outcome.tally[0];
            prop_assert_eq!(&votes[leader.first].value, &value);
            prop_assert_eq!((leader.weight, outcome.total), (weight, total));
            let sum: u64 = outcome.tally.iter().map(|t| t.weight).sum();
            prop_assert_eq!(sum, total);
            let expect_reached = match rule.rule {
                Rule::Majority | Rule::Weighted => 2 * weight > total,
                Rule::Supermajority =>
                    u128::from(weight) * 1_000_000 >= u128::from(threshold) * u128::from(total),
                Rule::Unanimous => weight == total,
            };
            prop_assert_eq!(outcome.reached, expect_reached);
            let mut rotated = votes.clone();
            let len = rotated.len();
            rotated.rotate_left(rotate % len);
            rotated.reverse();
            prop_assert_eq!(decided(&rotated, rule), decided(&votes, rule));
        }
    }

    #[test]
    fn auction_matches_reference_and_ignores_input_order(
        bids in arb_bids().prop_filter("unique agents", |b| {
            let mut ids: Vec<&str> = b.iter().map(|b| b.agent_id.as_str()).collect();
            ids.sort_unstable();
            ids.windows(2).all(|w| w[0] != w[1])
        }),
        reserve in 0i64..5,
    ) {
        let o = decide_second_price(&bids, reserve).expect("valid bids");
        prop_assert_eq!((o.winner, o.price), reference_auction(&bids, reserve));
        prop_assert_eq!(o.eligible, bids.iter().filter(|b| b.amount >= reserve).count());
        let mut reversed = bids.clone();
        reversed.reverse();
        let r = decide_second_price(&reversed, reserve).expect("valid bids");
        prop_assert_eq!(r.winner.map(|i| &reversed[i].agent_id), o.winner.map(|i| &bids[i].agent_id));
        prop_assert_eq!(r.price, o.price);
    }
}
