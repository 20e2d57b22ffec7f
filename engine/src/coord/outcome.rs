//! Outcomes: the response body `{"protocol":P,"outcome":{...}}` of `POST /api/coordinate`.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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

    /// The efficiency the outcome reports (auctions and markets; `None` for votes and
    /// allocations, and where no trade was feasible).
    pub fn efficiency(&self) -> Option<f64> {
        match self {
            CoordinationOutcome::Auction(a) => a.efficiency(),
            CoordinationOutcome::Market(m) => m.efficiency,
            CoordinationOutcome::Consensus(_) | CoordinationOutcome::Allocation(_) => None,
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

impl AuctionOutcome {
    /// The outcome's efficiency, whatever the auction type.
    pub fn efficiency(&self) -> Option<f64> {
        match self {
            AuctionOutcome::FirstPrice(o) | AuctionOutcome::SecondPrice(o) => o.efficiency,
            AuctionOutcome::English(o) | AuctionOutcome::Dutch(o) => o.efficiency,
            AuctionOutcome::MultiUnit(o) => o.efficiency,
            AuctionOutcome::Combinatorial(o) => o.efficiency,
        }
    }
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
    /// Realised surplus over the best feasible surplus; `null` when no trade is feasible.
    pub efficiency: Option<f64>,
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
    /// Realised surplus over the best feasible surplus; `null` when no trade is feasible.
    pub efficiency: Option<f64>,
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
    /// Realised surplus over the best feasible surplus; `null` when no trade is feasible.
    pub efficiency: Option<f64>,
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
    /// False only when the work budget forced an approximation.
    pub optimal: bool,
    /// True when some VCG payment comes from a re-solve the work budget cut short (or left
    /// out): such a payment is computed from the best allocation found without the winner,
    /// so it is never above the exact one. Always false for pay-as-bid.
    #[serde(default)]
    pub payments_approximate: bool,
    /// The payment rule applied.
    pub payment: Payment,
    /// Search nodes explored (all searches, including VCG's).
    pub nodes: u64,
    /// Realised surplus over the best feasible surplus; `null` when no trade is feasible.
    pub efficiency: Option<f64>,
}

/// One fill of a market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// The trader.
    pub agent_id: AgentId,
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
    /// Realised surplus over the largest possible surplus; `null` when no trade is feasible.
    pub efficiency: Option<f64>,
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

/// Longest id an [`AgentId`] holds without a heap allocation.
pub const AGENT_ID_INLINE_MAX: usize = 22;

/// An agent id inside an outcome, stored inline when it is at most
/// [`AGENT_ID_INLINE_MAX`] bytes long (boxed otherwise), so that copying an id from an order
/// into a fill is a 24-byte copy rather than an allocation (a 10,000-order call market
/// copies thousands). It reads as a `&str` (`Deref`, [`AgentId::as_str`]), compares with
/// `str` and `String`, prints like a `String` (`Debug` and `Display`) and is a JSON string
/// in both directions.
#[derive(Clone)]
pub struct AgentId(IdRepr);

#[derive(Clone)]
enum IdRepr {
    /// The first `len` bytes of `bytes` are the id (the rest are zero).
    Inline {
        len: u8,
        bytes: [u8; AGENT_ID_INLINE_MAX],
    },
    Boxed(Box<str>),
}

impl AgentId {
    /// The id as a string slice.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // The bytes are a whole `&str` copied at construction, so this never fails.
            IdRepr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            IdRepr::Boxed(s) => s,
        }
    }

    /// The id's bytes (no UTF-8 check).
    #[inline]
    fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            IdRepr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            IdRepr::Boxed(s) => s.as_bytes(),
        }
    }
}

impl From<&str> for AgentId {
    #[inline]
    fn from(id: &str) -> Self {
        if id.len() <= AGENT_ID_INLINE_MAX {
            let mut bytes = [0u8; AGENT_ID_INLINE_MAX];
            bytes[..id.len()].copy_from_slice(id.as_bytes());
            // Fits: at most AGENT_ID_INLINE_MAX (22) bytes.
            let len = id.len() as u8;
            Self(IdRepr::Inline { len, bytes })
        } else {
            Self(IdRepr::Boxed(id.into()))
        }
    }
}

impl From<String> for AgentId {
    fn from(id: String) -> Self {
        if id.len() <= AGENT_ID_INLINE_MAX {
            Self::from(id.as_str())
        } else {
            Self(IdRepr::Boxed(id.into_boxed_str()))
        }
    }
}

impl From<AgentId> for String {
    fn from(id: AgentId) -> Self {
        match id.0 {
            IdRepr::Boxed(s) => s.into_string(),
            IdRepr::Inline { .. } => id.as_str().to_owned(),
        }
    }
}

impl Deref for AgentId {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for AgentId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for AgentId {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for AgentId {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for AgentId {}

impl PartialEq<str> for AgentId {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for AgentId {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<String> for AgentId {
    fn eq(&self, other: &String) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<AgentId> for String {
    fn eq(&self, other: &AgentId) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<AgentId> for str {
    fn eq(&self, other: &AgentId) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<AgentId> for &str {
    fn eq(&self, other: &AgentId) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialOrd for AgentId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AgentId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for AgentId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Same as the `str` it borrows as (`Borrow<str>` requires it).
        self.as_str().hash(state);
    }
}

impl fmt::Debug for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AgentId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AgentId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = AgentId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an agent id string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AgentId, E> {
                Ok(AgentId::from(v))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<AgentId, E> {
                Ok(AgentId::from(v))
            }
        }
        deserializer.deserialize_str(Visit)
    }
}

/// Efficiency, the one definition every protocol reports: the surplus realised over the best
/// surplus a feasible trade could give, in [0, 1]. `best` is `None` when no trade is feasible
/// (no bids, every value below the reserve, no crossing orders): efficiency is then `null`.
/// A feasible best surplus of 0 (trades at exactly the seller's value) makes any outcome
/// the best one: 1.0.
pub(crate) fn efficiency(realised: i128, best: Option<i128>) -> Option<f64> {
    let best = best?;
    if best <= 0 {
        return Some(1.0);
    }
    Some((realised as f64 / best as f64).clamp(0.0, 1.0))
}

/// [`efficiency`] where a positive `best` is the sign of a feasible trade (bids and values
/// without a reserve: every trade there has a positive amount).
pub(crate) fn ratio(realised: i128, best: i128) -> Option<f64> {
    efficiency(realised, (best > 0).then_some(best))
}

/// The efficiency of a single-item sale: the seller values the item at the `reserve`, so a
/// bidder of value `v` brings `v - reserve`; trades are feasible with the bidders valuing it
/// at or above the reserve. `winner` is the winning bid's value.
pub(crate) fn single_item_efficiency(
    values: impl Iterator<Item = Money>,
    winner: Option<Money>,
    reserve: Money,
) -> Option<f64> {
    let gain = |v: Money| i128::from(v.micros()) - i128::from(reserve.micros());
    let best = values.filter(|&v| v >= reserve).map(gain).max();
    efficiency(winner.map_or(0, gain), best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn agent_ids_read_compare_and_print_like_strings() {
        let long = "x".repeat(AGENT_ID_INLINE_MAX + 1);
        let edge = "y".repeat(AGENT_ID_INLINE_MAX);
        for s in ["", "a", "agent-000001", edge.as_str(), long.as_str()] {
            let id = AgentId::from(s);
            assert_eq!(id.as_str(), s);
            assert_eq!(&*id, s);
            assert_eq!(id, s);
            assert_eq!(id, AgentId::from(s.to_owned()));
            assert_eq!(s.to_owned(), id);
            assert_eq!(format!("{id:?}"), format!("{s:?}"));
            assert_eq!(id.to_string(), s);
            assert_eq!(String::from(id.clone()), s);
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, serde_json::to_string(s).unwrap());
            let back: AgentId = serde_json::from_str(&json).unwrap();
            assert_eq!(back, id);
        }
        assert_ne!(AgentId::from("a"), AgentId::from("a\0"));
        let (a, b) = (AgentId::from("a"), AgentId::from("b"));
        assert!(a < b);
        let set: HashSet<AgentId> = ["a", "b"].into_iter().map(AgentId::from).collect();
        assert!(set.contains("a") && !set.contains("c"));
        assert!(serde_json::from_str::<AgentId>("12").is_err());
    }

    #[test]
    fn fills_serialize_exactly_as_with_string_ids() {
        // The JSON a `String` id gave, field for field.
        let fill = Fill {
            agent_id: "b1".into(),
            side: Side::Buy,
            quantity: 6,
            price: Money(6_500_000),
        };
        let json = serde_json::to_string(&fill).unwrap();
        #[derive(Serialize)]
        struct Old<'a> {
            agent_id: &'a str,
            side: Side,
            quantity: u64,
            price: Money,
        }
        let old = Old {
            agent_id: "b1",
            side: Side::Buy,
            quantity: 6,
            price: Money(6_500_000),
        };
        assert_eq!(json, serde_json::to_string(&old).unwrap());
        assert_eq!(serde_json::from_str::<Fill>(&json).unwrap(), fill);
    }
}
