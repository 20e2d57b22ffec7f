//! Pure decision functions for `coordinate`: a vote under the consensus rules and a
//! sealed-bid second-price auction among the agents that hold a stake in a variable.
//!
//! No clock, no I/O, no store: inputs in, outcome out, so the same inputs give the same
//! outcome in any order of arrival. Outcomes refer to inputs by index.
//!
//! # Tie-break (both protocols)
//! Every vote and bid carries `at`, the time (or submission sequence number) it was cast.
//! Among equals, the one cast **earliest** (smallest `at`) wins, then the smallest
//! `agent_id` (byte order). Agent ids are unique within a call, so the order is total and
//! the outcome never depends on the order of the input slice.

use std::cmp::Ordering;

use serde_json::Value;
use thiserror::Error;

use super::number::cmp_values;

/// One stakeholder's vote for a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Vote {
    /// Who votes (unique within a call).
    pub agent_id: String,
    /// The value voted for.
    pub value: Value,
    /// The stake behind the vote; at least 1.
    pub weight: u64,
    /// When it was cast (tie-break: earliest first).
    pub at: u64,
}

/// When a vote is decided: the rules of the one-shot `consensus` protocol, with the same
/// meaning ([`RuleParams`](crate::coord::consensus::RuleParams)): `majority`,
/// `supermajority` and `unanimous` count one per vote, `weighted` counts each vote's weight
/// and needs more than its threshold (one half by default), no agent holding more than
/// `max_weight_share`.
pub use crate::coord::consensus::RuleParams as VoteRule;

/// The weight behind one distinct value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TallyEntry {
    /// Index (in the input) of the earliest vote for this value; its `value` is the value.
    pub first: usize,
    /// Total counted weight behind the value (one per vote outside `weighted`).
    pub weight: u64,
    /// Number of votes for the value.
    pub votes: usize,
}

/// Result of [`decide_vote`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteOutcome {
    /// Distinct values, leader first: most weight, then earliest vote, then agent id.
    pub tally: Vec<TallyEntry>,
    /// Total counted weight of all votes.
    pub total: u64,
    /// Whether the leader meets the rule.
    pub reached: bool,
}

impl VoteOutcome {
    /// The decided value's tally entry, if the rule was met.
    pub fn decision(&self) -> Option<&TallyEntry> {
        self.tally.first().filter(|_| self.reached)
    }
}

/// One stakeholder's sealed bid for the right to set the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Bid {
    /// Who bids (unique within a call).
    pub agent_id: String,
    /// The value the bidder sets if it wins.
    pub value: Value,
    /// The bid, in micro-units; not negative.
    pub amount: i64,
    /// When it was cast (tie-break: earliest first).
    pub at: u64,
}

/// Result of [`decide_second_price`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuctionOutcome {
    /// Index of the winning bid, if any bid met the reserve.
    pub winner: Option<usize>,
    /// What the winner pays, in micro-units: the larger of the second-highest eligible bid
    /// and the reserve.
    pub price: Option<i64>,
    /// Number of bids at or above the reserve.
    pub eligible: usize,
}

/// A malformed coordination input. Messages say what to fix.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CoordinationError {
    /// No votes or bids.
    #[error("no {0} were given; send at least one")]
    Empty(&'static str),
    /// More votes or bids than allowed.
    #[error("{count} participants exceed the limit of {max}; send fewer")]
    TooMany {
        /// How many were sent.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An agent voted or bid twice.
    #[error("agent {0:?} appears twice; send one vote or bid per agent")]
    DuplicateAgent(String),
    /// A vote with weight 0.
    #[error("agent {0:?} voted with weight 0; weights must be at least 1")]
    ZeroWeight(String),
    /// The weights add up past `u64::MAX`.
    #[error("the total weight overflows; use smaller weights")]
    WeightOverflow,
    /// Under `weighted`, one agent holds more than `max_weight_share` of the weight.
    #[error(
        "agent {0:?} holds more than {1} of the total weight (max_weight_share); lower its weight"
    )]
    WeightCap(String, String),
    /// A supermajority threshold outside (0.5, 1].
    #[error("threshold {0} is not above 0.5 and at most 1; send e.g. 0.666666 for two thirds")]
    Threshold(String),
    /// A negative bid.
    #[error("agent {0:?} bid a negative amount; bids must be 0 or more")]
    NegativeAmount(String),
    /// A negative reserve.
    #[error("the reserve is negative; send 0 or more")]
    NegativeReserve,
    /// A money amount or threshold that cannot be read as 6-decimal fixed point.
    #[error("{what} {detail}")]
    Number {
        /// Which field.
        what: String,
        /// What is wrong.
        detail: String,
    },
    /// Votes or bids must all carry `at` or none.
    #[error("some {0} carry `at` and some do not; send it on all of them or on none")]
    MixedAt(&'static str),
    /// A proposed value or a request field is unusable.
    #[error("{0}")]
    Invalid(String),
}

/// The tie-break key of a vote or bid: earliest `at`, then smallest agent id.
fn rank_key(at: u64, agent_id: &str) -> (u64, &str) {
    (at, agent_id)
}

fn check_unique<'a>(ids: impl Iterator<Item = &'a str>) -> Result<(), CoordinationError> {
    let mut ids: Vec<&str> = ids.collect();
    ids.sort_unstable();
    match ids.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(CoordinationError::DuplicateAgent(w[0].to_owned())),
        None => Ok(()),
    }
}

/// Decides a vote under `rule`, whose parameters were checked
/// ([`rule_params`](crate::coord::validate::rule_params)).
///
/// Votes are grouped by value (numbers compared exactly: `1` and `1.0` are one value); the
/// tally counts each vote's weight under `weighted` and one per vote otherwise, ordered by
/// counted weight (most first), then by each value's earliest vote (the tie-break above).
/// The leader is decided if it meets the rule and the quorum.
pub fn decide_vote(votes: &[Vote], rule: VoteRule) -> Result<VoteOutcome, CoordinationError> {
    if votes.is_empty() {
        return Err(CoordinationError::Empty("votes"));
    }
    check_unique(votes.iter().map(|v| v.agent_id.as_str()))?;
    let mut total: u64 = 0;
    for v in votes {
        if v.weight == 0 {
            return Err(CoordinationError::ZeroWeight(v.agent_id.clone()));
        }
        total = total
            .checked_add(rule.counted(Some(v.weight)))
            .ok_or(CoordinationError::WeightOverflow)?;
    }
    if let Some(v) = votes
        .iter()
        .find(|v| rule.over_cap(rule.counted(Some(v.weight)), total))
    {
        return Err(CoordinationError::WeightCap(
            v.agent_id.clone(),
            rule.max_weight_share.unwrap_or(1.0).to_string(),
        ));
    }

    // Group equal values; within a group the earliest vote comes first.
    let rank = |i: usize| rank_key(votes[i].at, &votes[i].agent_id);
    let mut order: Vec<usize> = (0..votes.len()).collect();
    order.sort_unstable_by(|&a, &b| {
        cmp_values(&votes[a].value, &votes[b].value).then_with(|| rank(a).cmp(&rank(b)))
    });
    let mut tally: Vec<TallyEntry> = Vec::new();
    for &i in &order {
        let w = rule.counted(Some(votes[i].weight));
        match tally.last_mut() {
            Some(t) if cmp_values(&votes[t.first].value, &votes[i].value) == Ordering::Equal => {
                t.weight += w; // cannot overflow: bounded by `total`
                t.votes += 1;
            }
            _ => tally.push(TallyEntry {
                first: i,
                weight: w,
                votes: 1,
            }),
        }
    }
    tally.sort_unstable_by(|a, b| {
        b.weight
            .cmp(&a.weight)
            .then_with(|| rank(a.first).cmp(&rank(b.first)))
    });
    let reached = rule.decides(tally[0].weight, total, votes.len());
    Ok(VoteOutcome {
        tally,
        total,
        reached,
    })
}

/// Decides a sealed-bid second-price auction for the right to set the value.
///
/// Bids below `reserve` are not eligible. The winner is the highest eligible bid (ties: the
/// tie-break above) and pays the larger of the second-highest eligible bid and the reserve.
/// No eligible bid: no winner, no price.
pub fn decide_second_price(
    bids: &[Bid],
    reserve: i64,
) -> Result<AuctionOutcome, CoordinationError> {
    if bids.is_empty() {
        return Err(CoordinationError::Empty("bids"));
    }
    if reserve < 0 {
        return Err(CoordinationError::NegativeReserve);
    }
    if let Some(b) = bids.iter().find(|b| b.amount < 0) {
        return Err(CoordinationError::NegativeAmount(b.agent_id.clone()));
    }
    check_unique(bids.iter().map(|b| b.agent_id.as_str()))?;

    // `Less` when `a` ranks ahead of `b`: more money, then the tie-break.
    let rank_cmp = |a: &Bid, b: &Bid| {
        b.amount
            .cmp(&a.amount)
            .then_with(|| rank_key(a.at, &a.agent_id).cmp(&rank_key(b.at, &b.agent_id)))
    };
    let mut best: Option<usize> = None;
    let mut second: Option<i64> = None;
    let mut eligible = 0;
    for (i, bid) in bids.iter().enumerate().filter(|(_, b)| b.amount >= reserve) {
        eligible += 1;
        match best {
            Some(j) if rank_cmp(&bids[j], bid) == Ordering::Less => {
                second = Some(second.map_or(bid.amount, |s| s.max(bid.amount)));
            }
            Some(j) => {
                second = Some(second.map_or(bids[j].amount, |s| s.max(bids[j].amount)));
                best = Some(i);
            }
            None => best = Some(i),
        }
    }
    let price = best.map(|_| second.map_or(reserve, |s| s.max(reserve)));
    Ok(AuctionOutcome {
        winner: best,
        price,
        eligible,
    })
}

#[cfg(test)]
#[path = "coordinate_tests.rs"]
mod tests;
