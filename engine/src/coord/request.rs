//! The one-shot request body of `POST /api/coordinate`, as serde types.
//!
//! `{"protocol":"auction","auction":{...}}` and likewise `market`, `consensus`, `allocation`.
//! Unknown fields are rejected everywhere. These types say what the caller wrote; `clear`
//! validates them (ids, amounts, limits) before any algorithm runs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

use super::error::CoordError;
use super::money::Money;

/// The protocol named by a request or an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// An auction (sealed, clock, multi-unit or combinatorial).
    Auction,
    /// A call market.
    Market,
    /// A vote.
    Consensus,
    /// Dividing a quantity among requests.
    Allocation,
}

impl Protocol {
    /// The protocol's JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Auction => "auction",
            Protocol::Market => "market",
            Protocol::Consensus => "consensus",
            Protocol::Allocation => "allocation",
        }
    }
}

/// One coordination to clear: the body of `POST /api/coordinate`.
#[derive(Debug, Clone, PartialEq)]
pub enum CoordinationRequest {
    /// `{"protocol":"auction","auction":{...}}`
    Auction(AuctionSpec),
    /// `{"protocol":"market","market":{...}}`
    Market(MarketSpec),
    /// `{"protocol":"consensus","consensus":{...}}`
    Consensus(ConsensusSpec),
    /// `{"protocol":"allocation","allocation":{...}}`
    Allocation(AllocationSpec),
}

impl CoordinationRequest {
    /// The request's protocol.
    pub fn protocol(&self) -> Protocol {
        match self {
            CoordinationRequest::Auction(_) => Protocol::Auction,
            CoordinationRequest::Market(_) => Protocol::Market,
            CoordinationRequest::Consensus(_) => Protocol::Consensus,
            CoordinationRequest::Allocation(_) => Protocol::Allocation,
        }
    }

    /// Parses a JSON body; syntax, type and unknown-field errors become
    /// [`CoordError::Malformed`] (code `malformed_request`).
    pub fn from_json(body: &[u8]) -> Result<CoordinationRequest, CoordError> {
        Ok(serde_json::from_slice(body)?)
    }
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    protocol: Protocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auction: Option<AuctionSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    market: Option<MarketSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    consensus: Option<ConsensusSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    allocation: Option<AllocationSpec>,
}

impl<'de> Deserialize<'de> for CoordinationRequest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let raw = RawRequest::deserialize(d)?;
        let present = [
            raw.auction.is_some(),
            raw.market.is_some(),
            raw.consensus.is_some(),
            raw.allocation.is_some(),
        ]
        .iter()
        .filter(|p| **p)
        .count();
        let name = raw.protocol.as_str();
        if present > 1 {
            return Err(D::Error::custom(format!(
                "only the `{name}` body may be sent with \"protocol\":\"{name}\""
            )));
        }
        let missing =
            || D::Error::custom(format!("\"protocol\":\"{name}\" needs a `{name}` object"));
        Ok(match raw.protocol {
            Protocol::Auction => CoordinationRequest::Auction(raw.auction.ok_or_else(missing)?),
            Protocol::Market => CoordinationRequest::Market(raw.market.ok_or_else(missing)?),
            Protocol::Consensus => {
                CoordinationRequest::Consensus(raw.consensus.ok_or_else(missing)?)
            }
            Protocol::Allocation => {
                CoordinationRequest::Allocation(raw.allocation.ok_or_else(missing)?)
            }
        })
    }
}

impl Serialize for CoordinationRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("protocol", &self.protocol())?;
        match self {
            CoordinationRequest::Auction(a) => map.serialize_entry("auction", a)?,
            CoordinationRequest::Market(m) => map.serialize_entry("market", m)?,
            CoordinationRequest::Consensus(c) => map.serialize_entry("consensus", c)?,
            CoordinationRequest::Allocation(a) => map.serialize_entry("allocation", a)?,
        }
        map.end()
    }
}

/// The auction type (`"type"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuctionType {
    /// Sealed bid, the winner pays its bid.
    FirstPrice,
    /// Sealed bid (Vickrey), the winner pays max(second-highest eligible bid, reserve).
    SecondPrice,
    /// Ascending clock with proxy maxima.
    English,
    /// Descending clock.
    Dutch,
    /// `units` identical units; `pricing` uniform or discriminatory.
    MultiUnit,
    /// Bundles over `items` with supply.
    Combinatorial,
}

/// How a multi-unit auction prices the units it sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitPricing {
    /// Every winning unit pays the lowest accepted bid (the stop-out price).
    #[default]
    Uniform,
    /// Each winning unit pays its own bid (pay as bid).
    Discriminatory,
}

/// How winners of a combinatorial auction pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payment {
    /// Each winner pays its bid.
    #[default]
    PayAsBid,
    /// Vickrey-Clarke-Groves: each winner pays the harm it does to the others.
    Vcg,
}

/// An auction: the `auction` object. Which fields apply depends on `type`; a field the type
/// does not use is ignored, except a `reserve` on a combinatorial auction, which is refused
/// (`field_not_allowed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuctionSpec {
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
    /// Most clock steps (english); unlimited when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rounds: Option<u64>,
    /// Units for sale (multi_unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<u64>,
    /// Unit pricing (multi_unit; uniform when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<UnitPricing>,
    /// Item supply (combinatorial), e.g. `{"cpu":2,"gpu":1}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<BTreeMap<String, u64>>,
    /// Payment rule (combinatorial; pay as bid when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<Payment>,
    /// The bids, in submission order (ties go to the earlier one).
    pub bids: Vec<Bid>,
}

/// A bid. For english and dutch auctions `amount` is the agent's maximum (proxy bid); for
/// multi-unit auctions it is the price per unit for `quantity` units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bid {
    /// The bidder.
    pub agent_id: String,
    /// The bid (positive).
    pub amount: Money,
    /// Units wanted (multi_unit; 1 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u64>,
    /// Items wanted (combinatorial).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<BTreeMap<String, u64>>,
    /// The bidder's true value (per unit for multi_unit), used only to report efficiency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub true_value: Option<Money>,
}

impl Bid {
    /// A bid with only an agent and an amount.
    pub fn new(agent_id: impl Into<String>, amount: Money) -> Bid {
        Bid {
            agent_id: agent_id.into(),
            amount,
            quantity: None,
            bundle: None,
            true_value: None,
        }
    }

    /// The value used for efficiency: `true_value` when stated, else the bid.
    pub fn value(&self) -> Money {
        self.true_value.unwrap_or(self.amount)
    }
}

/// A market: the `market` object (a call auction over `orders`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketSpec {
    /// The orders, in submission order.
    pub orders: Vec<Order>,
}

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Wants to buy.
    Buy,
    /// Wants to sell.
    Sell,
}

/// An order. Without `limit` it is a market order: a continuous book fills it against the
/// resting orders at their prices; a call treats it as a limit order at the most aggressive
/// limit named in the call (the highest for a buy, the lowest for a sell).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// The trader.
    pub agent_id: String,
    /// Buy or sell.
    pub side: Side,
    /// Units (positive).
    pub quantity: u64,
    /// Highest price a buyer pays, lowest a seller accepts (positive); absent for a market
    /// order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<Money>,
}

impl Order {
    /// A limit order.
    pub fn limit(agent_id: impl Into<String>, side: Side, quantity: u64, limit: Money) -> Order {
        Order {
            agent_id: agent_id.into(),
            side,
            quantity,
            limit: Some(limit),
        }
    }
}

/// A voting rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// More than half of the votes (one per agent).
    Majority,
    /// At least `threshold` of the votes.
    Supermajority,
    /// Every vote for the same choice.
    Unanimous,
    /// More than `threshold` (default one half) of the weight, no agent above
    /// `max_weight_share` of the total.
    Weighted,
}

/// A vote: the `consensus` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusSpec {
    /// The rule.
    pub rule: Rule,
    /// Share needed (supermajority: required, in (0.5, 1]; weighted: optional, in [0.5, 1)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Fewest votes for a decision to count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<u64>,
    /// Weighted: largest share of the total weight one agent may hold, in (0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_weight_share: Option<f64>,
    /// The votes.
    pub votes: Vec<Vote>,
}

/// One agent's vote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vote {
    /// The voter.
    pub agent_id: String,
    /// The option voted for (1-128 characters).
    pub choice: String,
    /// Voting weight (counted by the weighted rule, ignored by the others; 1 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u64>,
}

/// How to divide `available` among requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Highest `priority` first (ties: earliest request), each served in full while stock lasts.
    Priority,
    /// In proportion to the quantity asked, rounded by largest remainder.
    Proportional,
}

/// An allocation: the `allocation` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocationSpec {
    /// The strategy.
    pub strategy: Strategy,
    /// Units to divide.
    pub available: u64,
    /// The requests, in submission order.
    pub requests: Vec<AllocationRequest>,
}

/// One agent's request for units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocationRequest {
    /// The requester.
    pub agent_id: String,
    /// Units asked for (0 is a valid request that gets 0).
    pub quantity: u64,
    /// Higher is served first (used by the priority strategy, ignored by proportional; 0
    /// when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_api_examples_and_rejects_unknown_fields() {
        let body = br#"{"protocol":"auction","auction":{"type":"second_price","reserve":10,
            "bids":[{"agent_id":"a","amount":15},{"agent_id":"b","amount":12}]}}"#;
        let req = CoordinationRequest::from_json(body).unwrap();
        let CoordinationRequest::Auction(a) = &req else {
            panic!("not an auction")
        };
        assert_eq!(a.kind, AuctionType::SecondPrice);
        assert_eq!(a.reserve, Money::from_units(10));
        let again: CoordinationRequest =
            serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
        assert_eq!(again, req);

        for bad in [
            r#"{"protocol":"auction","auction":{"type":"first_price","bids":[],"colour":1}}"#,
            r#"{"protocol":"auction","auction":{"type":"first_price","bids":[{"agent_id":"a","amount":1,"x":2}]}}"#,
            r#"{"protocol":"auction","market":{"orders":[]}}"#,
            r#"{"protocol":"market","market":{"orders":[]},"consensus":{"rule":"majority","votes":[]}}"#,
            r#"{"protocol":"auction","auction":{"type":"first_price","bids":[]},"extra":true}"#,
            r#"{"protocol":"barter","auction":{"type":"first_price","bids":[]}}"#,
            r#"{"protocol":"market","market":{"orders":[{"agent_id":"a","side":"buy","quantity":-1,"limit":1}]}}"#,
            r#"{"protocol":"market","market":{"orders":[{"agent_id":"a","side":"buy","quantity":1,"limit":1.0000001}]}}"#,
        ] {
            let e = CoordinationRequest::from_json(bad.as_bytes()).unwrap_err();
            assert_eq!(e.code(), "malformed_request", "{bad}");
        }
    }
}
