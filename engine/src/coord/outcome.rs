//! Outcomes: the response body `{"protocol":P,"outcome":{...}}` of `POST /api/coordinate`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::money::Money;
use super::request::{Payment, Protocol, Rule, Side, Strategy, UnitPricing};

/// The cleared result of one coordination request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "protocol", content = "outcome", rename_all = "snake_case")]
pub enum CoordinationOutcome {
    /// An auction's outcome.
    Auction(AuctionOutcome),
    /// A call market's outcome.
    Market(MarketOutcome),
    /// A vote's outcome.
    Consensus(ConsensusOutcome),
    /// An allocation's outcome.
    Allocation(AllocationOutcome),
}

impl CoordinationOutcome {
    /// The protocol this outcome answers.
    pub fn protocol(&self) -> Protocol {
        match self {
            CoordinationOutcome::Auction(_) => Protocol::Auction,
            CoordinationOutcome::Market(_) => Protocol::Market,
            CoordinationOutcome::Consensus(_) => Protocol::Consensus,
            CoordinationOutcome::Allocation(_) => Protocol::Allocation,
        }
    }
}

/// An auction outcome, tagged by the auction `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuctionOutcome {
    /// Sealed bid, first price.
    FirstPrice(SingleItemOutcome),
    /// Sealed bid, second price.
    SecondPrice(SingleItemOutcome),
    /// Ascending clock.
    English(ClockOutcome),
    /// Descending clock.
    Dutch(ClockOutcome),
    /// Identical units.
    MultiUnit(MultiUnitOutcome),
    /// Bundles.
    Combinatorial(CombinatorialOutcome),
}

/// The result of a sealed-bid single-item auction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SingleItemOutcome {
    /// Whether the item sold.
    pub sold: bool,
    /// The winner, `null` if unsold.
    pub winner: Option<String>,
    /// The price paid, `null` if unsold.
    pub price: Option<Money>,
    /// Bids received.
    pub bids: usize,
    /// Bids at or above the reserve.
    pub eligible: usize,
    /// Realised value over the best possible value (1.0 when there is no value to realise).
    pub efficiency: f64,
}

/// The result of an english or dutch clock auction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockOutcome {
    /// Whether the item sold.
    pub sold: bool,
    /// The winner, `null` if unsold.
    pub winner: Option<String>,
    /// The price paid, `null` if unsold.
    pub price: Option<Money>,
    /// Clock steps taken.
    pub rounds: u64,
    /// Realised value over the best possible value.
    pub efficiency: f64,
}

/// One winner of a multi-unit auction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitWinner {
    /// The winner.
    pub agent_id: String,
    /// Units won.
    pub quantity: u64,
    /// Price per unit.
    pub price: Money,
    /// `quantity * price`.
    pub payment: Money,
}

/// The result of a multi-unit auction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiUnitOutcome {
    /// Uniform or discriminatory.
    pub pricing: UnitPricing,
    /// Units offered.
    pub units: u64,
    /// Units sold.
    pub units_sold: u64,
    /// The lowest accepted unit bid (the uniform price), `null` if nothing sold.
    pub clearing_price: Option<Money>,
    /// Winners in order of acceptance (highest bid first, earliest on ties).
    pub winners: Vec<UnitWinner>,
    /// Sum of payments.
    pub revenue: Money,
    /// Realised value over the best possible value.
    pub efficiency: f64,
}

/// One winning bundle of a combinatorial auction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleWinner {
    /// The winner.
    pub agent_id: String,
    /// The bundle won.
    pub bundle: BTreeMap<String, u64>,
    /// The price paid (its bid, or its VCG payment).
    pub price: Money,
}

/// The result of a combinatorial auction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CombinatorialOutcome {
    /// Winning bids in submission order.
    pub winners: Vec<BundleWinner>,
    /// Sum of prices paid.
    pub revenue: Money,
    /// False only when the node limit forced an approximation.
    pub optimal: bool,
    /// The payment rule applied.
    pub payment: Payment,
    /// Search nodes explored (all searches, including VCG's).
    pub nodes: u64,
    /// Realised value over the best possible value.
    pub efficiency: f64,
}

/// One fill of a market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// The trader.
    pub agent_id: String,
    /// Its side.
    pub side: Side,
    /// Units filled.
    pub quantity: u64,
    /// Price per unit.
    pub price: Money,
}

/// The result of a call market.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketOutcome {
    /// The uniform price, `null` when nothing trades.
    pub clearing_price: Option<Money>,
    /// Units traded (= filled buy units = filled sell units).
    pub volume: u64,
    /// Fills: buys (best limit first, earliest on ties), then sells likewise.
    pub fills: Vec<Fill>,
    /// Gains from trade at the clearing price: buyers' limit minus price plus price minus
    /// sellers' limit, over the units filled.
    pub surplus: Money,
    /// Realised surplus over the largest possible surplus (1.0 when none is possible).
    pub efficiency: f64,
}

/// The result of a vote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsensusOutcome {
    /// The rule applied.
    pub rule: Rule,
    /// The choice decided, `null` if none.
    pub decision: Option<String>,
    /// Whether a decision was reached.
    pub reached: bool,
    /// Share of the weight behind the leading choice (the decision when reached).
    pub support: f64,
    /// Weight per choice.
    pub tally: BTreeMap<String, u64>,
    /// Votes counted.
    pub votes: usize,
    /// Whether the quorum was met.
    pub quorum_met: bool,
}

/// One agent's share of an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// The agent.
    pub agent_id: String,
    /// Units given.
    pub quantity: u64,
}

/// The result of an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocationOutcome {
    /// The strategy applied.
    pub strategy: Strategy,
    /// Shares in request order.
    pub allocations: Vec<Allocation>,
    /// Units handed out (never more than `available`).
    pub allocated: u64,
    /// Units left over.
    pub unallocated: u64,
}

/// `realised / best` as a ratio in [0, 1]; 1.0 when `best` is not positive.
pub(crate) fn ratio(realised: i128, best: i128) -> f64 {
    if best <= 0 {
        1.0
    } else {
        (realised as f64 / best as f64).clamp(0.0, 1.0)
    }
}
