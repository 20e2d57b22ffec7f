//! Wire types of live sessions: the bodies that open a session and the receipts
//! of the entries placed in it. Unknown fields are refused everywhere.
//!
//! Entries reuse the one-shot types: a bid is a [`Bid`], an order an [`Order`],
//! a vote a [`Vote`], so a live session closes on exactly the input a one-shot
//! call would get.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::coord::market::book::BookFill;
use crate::coord::{AuctionSpec, AuctionType, ConsensusSpec, Money, Payment, Rule, UnitPricing};

/// `POST /api/auctions`: the auction's parameters (as in the one-shot `auction`
/// object, without `bids`), an optional id and deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAuction {
    /// The session id; one is generated (`auc-N`) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The auction type.
    #[serde(rename = "type")]
    pub kind: AuctionType,
    /// Lowest acceptable price (all types but combinatorial).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve: Option<Money>,
    /// Starting clock price (english, dutch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Money>,
    /// Clock step up (english).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub increment: Option<Money>,
    /// Clock step down (dutch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decrement: Option<Money>,
    /// Most clock steps (english).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rounds: Option<u64>,
    /// Units for sale (multi_unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<u64>,
    /// Unit pricing (multi_unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<UnitPricing>,
    /// Item supply (combinatorial).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<BTreeMap<String, u64>>,
    /// Payment rule (combinatorial).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<Payment>,
    /// Milliseconds until the auction closes by itself, at most
    /// `coordination.session_deadline_max_ms`; without one it stays open until closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
}

impl OpenAuction {
    /// An auction of `kind` with every optional field absent.
    pub fn new(kind: AuctionType) -> OpenAuction {
        OpenAuction {
            id: None,
            kind,
            reserve: None,
            start: None,
            increment: None,
            decrement: None,
            max_rounds: None,
            units: None,
            pricing: None,
            items: None,
            payment: None,
            deadline_ms: None,
        }
    }

    /// The one-shot auction these parameters describe, with no bids yet.
    pub fn to_spec(&self) -> AuctionSpec {
        AuctionSpec {
            kind: self.kind,
            reserve: self.reserve,
            start: self.start,
            increment: self.increment,
            decrement: self.decrement,
            max_rounds: self.max_rounds,
            units: self.units,
            pricing: self.pricing,
            items: self.items.clone(),
            payment: self.payment,
            bids: Vec::new(),
        }
    }
}

/// How a live market trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketKind {
    /// Orders collect and clear together at one uniform price every
    /// `coordination.market_update_frequency` (and on a clear request).
    Call,
    /// Orders match on arrival against a limit order book (price-time priority,
    /// at the resting order's price).
    Continuous,
}

impl MarketKind {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            MarketKind::Call => "call",
            MarketKind::Continuous => "continuous",
        }
    }
}

/// `POST /api/markets`: `{"kind","id"?,"deadline_ms"?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenMarket {
    /// The session id; one is generated (`mkt-N`) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Call or continuous.
    pub kind: MarketKind,
    /// Milliseconds until the market closes by itself (see [`OpenAuction::deadline_ms`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
}

impl OpenMarket {
    /// A market of `kind` with the default deadline and a generated id.
    pub fn new(kind: MarketKind) -> OpenMarket {
        OpenMarket {
            id: None,
            kind,
            deadline_ms: None,
        }
    }
}

/// `POST /api/consensus` (embedded: [`crate::api::Handle::open_consensus`]): a vote
/// that collects ballots until `quorum` votes are in, or the deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenConsensus {
    /// The session id; one is generated (`cns-N`) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The rule.
    pub rule: Rule,
    /// Share needed (supermajority, weighted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Votes that close the round early; also the one-shot quorum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<u64>,
    /// Weighted: largest share of the weight one agent may hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_weight_share: Option<f64>,
    /// Milliseconds until the round closes by itself (see [`OpenAuction::deadline_ms`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
}

impl OpenConsensus {
    /// A round under `rule` with every optional field absent.
    pub fn new(rule: Rule) -> OpenConsensus {
        OpenConsensus {
            id: None,
            rule,
            threshold: None,
            quorum: None,
            max_weight_share: None,
            deadline_ms: None,
        }
    }

    /// The one-shot vote these parameters describe, with no votes yet.
    pub fn to_spec(&self) -> ConsensusSpec {
        ConsensusSpec {
            rule: self.rule,
            threshold: self.threshold,
            quorum: self.quorum,
            max_weight_share: self.max_weight_share,
            votes: Vec::new(),
        }
    }
}

/// `202 {"auction_id","bid_id","bids"}`: a bid was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BidReceipt {
    /// The auction.
    pub auction_id: String,
    /// The bid's number in this auction (1, 2, ...): its submission order.
    pub bid_id: u64,
    /// Bids the auction holds now.
    pub bids: usize,
}

/// `202 {"market_id","order_id","filled","remaining","resting","fills"}`.
///
/// A continuous market fills on arrival (`fills` are trades against resting
/// orders at their prices, best first); a call market fills at its next call, so
/// `fills` is empty and `remaining` is the whole quantity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderReceipt {
    /// The market.
    pub market_id: String,
    /// The order's number in this market (1, 2, ...).
    pub order_id: u64,
    /// Units traded on arrival.
    pub filled: u64,
    /// Units not traded yet (resting, awaiting the call, or dropped for a market order).
    pub remaining: u64,
    /// Whether the remainder rests in the book (continuous) or awaits the call.
    pub resting: bool,
    /// Trades made on arrival.
    pub fills: Vec<BookFill>,
}

/// `202 {"consensus_id","vote_id","votes"}`: a vote was counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteReceipt {
    /// The round.
    pub consensus_id: String,
    /// The vote's number in this round (1, 2, ...).
    pub vote_id: u64,
    /// Votes the round holds now.
    pub votes: usize,
    /// Whether this vote met the quorum and closed the round.
    pub closing: bool,
}
