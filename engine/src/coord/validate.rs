//! Validation: the checks every request passes before an algorithm sees it, and the
//! [`Limits`] they enforce. Each failure names the offending field.

use std::collections::HashSet;
use std::fmt;

use crate::coord::auction::combinatorial::CombinatorialAuction;
use crate::coord::auction::dutch::DutchAuction;
use crate::coord::auction::english::EnglishAuction;
use crate::coord::auction::multiunit::MultiUnitAuction;
use crate::coord::auction::sealed::{SealedAuction, SealedPricing};
use crate::coord::error::CoordError;
use crate::coord::money::Money;
use crate::coord::request::{
    AllocationSpec, AuctionSpec, AuctionType, Bid, ConsensusSpec, MarketSpec, Order, Rule,
};

/// Size limits for one-shot coordination; the integrator fills them from the profile's
/// `[coordination]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most bids in one auction (`[coordination] bids_per_auction_max`).
    pub bids_per_auction_max: usize,
    /// Most orders in one market (`[coordination] orders_per_market_max`).
    pub orders_per_market_max: usize,
    /// The work budget of one combinatorial clearing, VCG re-solves included, in bids
    /// examined (`[coordination] combinatorial_node_limit`); past it the result has
    /// `optimal: false`.
    pub combinatorial_node_limit: u64,
    /// Most items offered in one combinatorial auction.
    pub items_per_auction_max: usize,
    /// Most votes in one consensus.
    pub votes_max: usize,
    /// Most requests in one allocation.
    pub allocation_requests_max: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            bids_per_auction_max: 10_000,
            orders_per_market_max: 100_000,
            combinatorial_node_limit: 1_000_000,
            items_per_auction_max: 64,
            votes_max: 10_000,
            allocation_requests_max: 10_000,
        }
    }
}

/// A field path built only when an error needs it: `At("auction.bids", 2, "amount")` is
/// `auction.bids[2].amount`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At<'a>(pub(crate) &'a str, pub(crate) usize, pub(crate) &'a str);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}].{}", self.0, self.1, self.2)
    }
}

/// Longest id, in characters.
pub const ID_LEN_MAX: usize = 128;

/// Checks an id: 1-128 characters of `[A-Za-z0-9_.:-]`.
pub fn check_id(field: impl fmt::Display, id: &str) -> Result<(), CoordError> {
    let ok = !id.is_empty()
        && id.len() <= ID_LEN_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(CoordError::InvalidId {
            field: field.to_string(),
            value: id.chars().take(140).collect(),
        })
    }
}

/// Checks that an amount is strictly positive.
pub fn check_positive(
    field: impl fmt::Display,
    amount: Money,
    hint: &'static str,
) -> Result<(), CoordError> {
    if amount.is_positive() {
        Ok(())
    } else {
        Err(CoordError::InvalidAmount {
            field: field.to_string(),
            value: amount.to_string(),
            hint,
        })
    }
}

fn check_non_negative(field: impl fmt::Display, amount: Money) -> Result<(), CoordError> {
    if amount >= Money::ZERO {
        Ok(())
    } else {
        Err(CoordError::InvalidAmount {
            field: field.to_string(),
            value: amount.to_string(),
            hint: "must not be negative",
        })
    }
}

/// A field path formatted only when displayed (that is, when an error names it).
struct Lazy<'a>(&'a dyn Fn(&'static str) -> String, &'static str);

impl fmt::Display for Lazy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&(self.0)(self.1))
    }
}

/// The checks of one bid that do not depend on the other bids or on the auction's items:
/// its agent id, a positive amount, a non-negative `true_value`, and a positive `quantity`
/// in a multi-unit auction (`quantity` is ignored by the other types). `field` names a
/// field of this bid for an error (called only when there is one). Shared by the one-shot
/// validation and by live auctions checking a bid on arrival.
pub(crate) fn check_bid(
    bid: &Bid,
    kind: AuctionType,
    field: &dyn Fn(&'static str) -> String,
) -> Result<(), CoordError> {
    check_id(Lazy(field, "agent_id"), &bid.agent_id)?;
    check_positive(
        Lazy(field, "amount"),
        bid.amount,
        "a bid must be a positive amount",
    )?;
    if let Some(v) = bid.true_value {
        check_non_negative(Lazy(field, "true_value"), v)?;
    }
    if kind == AuctionType::MultiUnit && bid.quantity == Some(0) {
        return Err(CoordError::InvalidQuantity {
            field: field("quantity"),
        });
    }
    Ok(())
}

fn deny<T>(
    value: &Option<T>,
    field: impl fmt::Display,
    hint: &'static str,
) -> Result<(), CoordError> {
    match value {
        Some(_) => Err(CoordError::FieldNotAllowed {
            field: field.to_string(),
            hint,
        }),
        None => Ok(()),
    }
}

fn need<T: Copy>(
    value: Option<T>,
    field: impl fmt::Display,
    hint: &'static str,
) -> Result<T, CoordError> {
    value.ok_or_else(|| CoordError::MissingField {
        field: field.to_string(),
        hint,
    })
}

fn check_count(field: &str, count: usize, max: usize) -> Result<(), CoordError> {
    if count > max {
        Err(CoordError::TooMany {
            field: field.to_string(),
            count,
            max,
        })
    } else {
        Ok(())
    }
}

/// Checks that no agent appears twice in `ids` (`list` names the list for the error).
pub(crate) fn check_unique<'a>(
    list: &str,
    ids: impl ExactSizeIterator<Item = &'a str> + Clone,
) -> Result<(), CoordError> {
    let duplicate = |i: usize, id: &str| CoordError::DuplicateAgent {
        field: At(list, i, "agent_id").to_string(),
        agent_id: id.to_string(),
    };
    if ids.len() <= 16 {
        // Few entries: comparing pairs beats hashing.
        for (i, id) in ids.clone().enumerate() {
            if ids.clone().take(i).any(|earlier| earlier == id) {
                return Err(duplicate(i, id));
            }
        }
        return Ok(());
    }
    let mut seen = HashSet::with_capacity_and_hasher(ids.len(), BuildFnv);
    for (i, id) in ids.enumerate() {
        if !seen.insert(id) {
            return Err(duplicate(i, id));
        }
    }
    Ok(())
}

/// FNV-1a: ids are short and not attacker-chosen keys of a long-lived table (the set lives
/// for one validation), so a fast non-keyed hash is fine here.
#[derive(Clone, Copy, Default)]
struct BuildFnv;

struct Fnv(u64);

impl std::hash::BuildHasher for BuildFnv {
    type Hasher = Fnv;
    fn build_hasher(&self) -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// A validated auction, ready for its algorithm.
#[derive(Debug, Clone, Copy)]
pub enum ValidAuction<'a> {
    /// First or second price.
    Sealed(SealedAuction<'a>),
    /// Ascending clock.
    English(EnglishAuction<'a>),
    /// Descending clock.
    Dutch(DutchAuction<'a>),
    /// Identical units.
    MultiUnit(MultiUnitAuction<'a>),
    /// Bundles.
    Combinatorial(CombinatorialAuction<'a>),
}

/// Validates an auction against `limits`.
///
/// Every field of the `auction` object is accepted with every type and ignored where the
/// type does not use it (`start` in a first-price auction, `units` outside `multi_unit`,
/// a bid's `bundle` outside `combinatorial`, ...), with one exception: a `reserve` on a
/// combinatorial auction is refused, since ignoring it would sell below the caller's floor.
pub fn auction<'a>(a: &'a AuctionSpec, limits: &Limits) -> Result<ValidAuction<'a>, CoordError> {
    check_count("auction.bids", a.bids.len(), limits.bids_per_auction_max)?;
    let kind = a.kind;
    let combinatorial = kind == AuctionType::Combinatorial;
    if combinatorial {
        deny(
            &a.reserve,
            "auction.reserve",
            "a combinatorial auction has no reserve; leave out bids below your floor",
        )?;
    }
    let reserve = a.reserve.unwrap_or(Money::ZERO);
    check_non_negative("auction.reserve", reserve)?;
    for (i, bid) in a.bids.iter().enumerate() {
        check_bid(bid, kind, &|name| At("auction.bids", i, name).to_string())?;
        if combinatorial {
            let field = At("auction.bids", i, "bundle");
            let bundle = bid
                .bundle
                .as_ref()
                .ok_or_else(|| CoordError::MissingField {
                    field: field.to_string(),
                    hint: "a combinatorial bid names the items it wants, e.g. {\"cpu\":1}",
                })?;
            if bundle.is_empty() {
                return Err(CoordError::InvalidParameter {
                    field: field.to_string(),
                    hint: "a bundle needs at least one item".into(),
                });
            }
            let items = a.items.as_ref();
            for (item, &q) in bundle {
                if !items.is_some_and(|m| m.contains_key(item)) {
                    return Err(CoordError::UnknownItem {
                        field: format!("{field}.{item}"),
                        item: item.clone(),
                    });
                }
                if q == 0 {
                    return Err(CoordError::InvalidQuantity {
                        field: format!("{field}.{item}"),
                    });
                }
            }
        }
    }
    if !combinatorial {
        check_unique("auction.bids", a.bids.iter().map(|b| b.agent_id.as_str()))?;
    }
    Ok(match kind {
        AuctionType::FirstPrice | AuctionType::SecondPrice => {
            let pricing = if kind == AuctionType::FirstPrice {
                SealedPricing::FirstPrice
            } else {
                SealedPricing::SecondPrice
            };
            ValidAuction::Sealed(SealedAuction {
                pricing,
                reserve,
                bids: &a.bids,
            })
        }
        AuctionType::English => {
            let start = need(
                a.start,
                "auction.start",
                "an english auction needs a starting price",
            )?;
            let increment = need(
                a.increment,
                "auction.increment",
                "an english auction needs an increment",
            )?;
            check_positive("auction.start", start, "the start price must be positive")?;
            check_positive(
                "auction.increment",
                increment,
                "the increment must be positive",
            )?;
            ValidAuction::English(EnglishAuction {
                start,
                increment,
                reserve,
                max_rounds: a.max_rounds,
                bids: &a.bids,
            })
        }
        AuctionType::Dutch => {
            let start = need(
                a.start,
                "auction.start",
                "a dutch auction needs a starting price",
            )?;
            let decrement = need(
                a.decrement,
                "auction.decrement",
                "a dutch auction needs a decrement",
            )?;
            check_positive("auction.start", start, "the start price must be positive")?;
            check_positive(
                "auction.decrement",
                decrement,
                "the decrement must be positive",
            )?;
            if reserve > start {
                return Err(CoordError::InvalidParameter {
                    field: "auction.reserve".into(),
                    hint: format!(
                        "the reserve {reserve} is above the start {start}; the clock would never sell"
                    ),
                });
            }
            ValidAuction::Dutch(DutchAuction {
                start,
                decrement,
                reserve,
                bids: &a.bids,
            })
        }
        AuctionType::MultiUnit => {
            let units = need(
                a.units,
                "auction.units",
                "a multi_unit auction needs the number of units",
            )?;
            if units == 0 {
                return Err(CoordError::InvalidQuantity {
                    field: "auction.units".into(),
                });
            }
            ValidAuction::MultiUnit(MultiUnitAuction {
                units,
                pricing: a.pricing.unwrap_or_default(),
                reserve,
                bids: &a.bids,
            })
        }
        AuctionType::Combinatorial => {
            let items = a.items.as_ref().ok_or(CoordError::MissingField {
                field: "auction.items".into(),
                hint: "a combinatorial auction needs its item supply, e.g. {\"cpu\":2}",
            })?;
            check_count("auction.items", items.len(), limits.items_per_auction_max)?;
            for name in items.keys() {
                check_id(format_args!("auction.items.{name}"), name)?;
            }
            ValidAuction::Combinatorial(CombinatorialAuction {
                items,
                payment: a.payment.unwrap_or_default(),
                node_limit: limits.combinatorial_node_limit,
                bids: &a.bids,
            })
        }
    })
}

/// Validates a call market against `limits`.
pub fn market(m: &MarketSpec, limits: &Limits) -> Result<(), CoordError> {
    check_count(
        "market.orders",
        m.orders.len(),
        limits.orders_per_market_max,
    )?;
    for (i, o) in m.orders.iter().enumerate() {
        check_call_order(o, &|name| At("market.orders", i, name).to_string())?;
    }
    Ok(())
}

/// The checks of one call-market order: its agent id, a positive quantity and, when it has
/// one, a positive limit (an order without one is a market order). `field` as in
/// [`check_bid`]. Shared by the one-shot validation and by live call markets.
pub(crate) fn check_call_order(
    o: &Order,
    field: &dyn Fn(&'static str) -> String,
) -> Result<(), CoordError> {
    check_id(Lazy(field, "agent_id"), &o.agent_id)?;
    if o.quantity == 0 {
        return Err(CoordError::InvalidQuantity {
            field: field("quantity"),
        });
    }
    match o.limit {
        Some(limit) => check_positive(Lazy(field, "limit"), limit, "a limit must be positive"),
        None => Ok(()),
    }
}

/// Checks a voting rule's parameters (`prefix` names the object holding them in errors):
/// a supermajority needs a `threshold` in (0.5, 1]; `weighted` takes one in [0.5, 1)
/// (more than it wins); `majority` and `unanimous` refuse one, since ignoring it would
/// decide by another share than the caller asked for. `max_weight_share`, in (0, 1], is
/// accepted with every rule and used by `weighted` only. Shared by one-shot votes, live
/// rounds and the coordination of shared variables.
pub fn rule_params(
    prefix: &str,
    rule: Rule,
    threshold: Option<f64>,
    max_weight_share: Option<f64>,
) -> Result<(), CoordError> {
    let bad = |name: &str, hint: &str| CoordError::InvalidParameter {
        field: format!("{prefix}{name}"),
        hint: hint.to_string(),
    };
    match (rule, threshold) {
        (Rule::Supermajority, None) => {
            return Err(CoordError::MissingField {
                field: format!("{prefix}threshold"),
                hint: "a supermajority needs a threshold such as 0.67",
            });
        }
        (Rule::Supermajority, Some(t)) if !(t > 0.5 && t <= 1.0) => {
            return Err(bad(
                "threshold",
                "a supermajority threshold is above 0.5 and at most 1",
            ));
        }
        (Rule::Weighted, Some(t)) if !(0.5..1.0).contains(&t) => {
            return Err(bad(
                "threshold",
                "a weighted threshold is in [0.5, 1): the winner needs more than it",
            ));
        }
        (Rule::Majority | Rule::Unanimous, Some(_)) => {
            deny(
                &threshold,
                format_args!("{prefix}threshold"),
                "only supermajority and weighted rules take a threshold",
            )?;
        }
        _ => {}
    }
    if let Some(cap) = max_weight_share
        && !(cap > 0.0 && cap <= 1.0)
    {
        return Err(bad(
            "max_weight_share",
            "a share of the total weight in (0, 1]",
        ));
    }
    Ok(())
}

/// Validates a vote against `limits`. A vote's `weight` is accepted under every rule and
/// counted by `weighted` only (the other rules count one per vote).
pub fn consensus(c: &ConsensusSpec, limits: &Limits) -> Result<(), CoordError> {
    check_count("consensus.votes", c.votes.len(), limits.votes_max)?;
    rule_params("consensus.", c.rule, c.threshold, c.max_weight_share)?;
    let bad = |field: At<'_>, hint: &str| CoordError::InvalidParameter {
        field: field.to_string(),
        hint: hint.to_string(),
    };
    for (i, v) in c.votes.iter().enumerate() {
        check_id(At("consensus.votes", i, "agent_id"), &v.agent_id)?;
        if v.choice.is_empty() || v.choice.chars().count() > ID_LEN_MAX {
            return Err(bad(
                At("consensus.votes", i, "choice"),
                "a choice is 1-128 characters",
            ));
        }
        if v.weight == Some(0) {
            return Err(bad(
                At("consensus.votes", i, "weight"),
                "a weight is a positive integer",
            ));
        }
    }
    check_unique(
        "consensus.votes",
        c.votes.iter().map(|v| v.agent_id.as_str()),
    )
}

/// Validates an allocation against `limits`. A request's `priority` is accepted with every
/// strategy and used by `priority` only; a `quantity` of 0 is a request that gets 0.
pub fn allocation(a: &AllocationSpec, limits: &Limits) -> Result<(), CoordError> {
    check_count(
        "allocation.requests",
        a.requests.len(),
        limits.allocation_requests_max,
    )?;
    for (i, r) in a.requests.iter().enumerate() {
        check_id(At("allocation.requests", i, "agent_id"), &r.agent_id)?;
    }
    check_unique(
        "allocation.requests",
        a.requests.iter().map(|r| r.agent_id.as_str()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_found_by_pairs_and_by_hashing() {
        for n in [3usize, 16, 17, 200] {
            let mut ids: Vec<String> = (0..n).map(|i| format!("agent{i}")).collect();
            assert!(check_unique("l", ids.iter().map(String::as_str)).is_ok());
            ids.push("agent1".into());
            let e = check_unique("l", ids.iter().map(String::as_str)).unwrap_err();
            assert_eq!(
                e.field().map(str::to_string),
                Some(format!("l[{n}].agent_id"))
            );
        }
    }

    #[test]
    fn ids() {
        assert!(check_id("f", "agent-1.a:b_c").is_ok());
        assert!(check_id("f", &"x".repeat(128)).is_ok());
        for bad in ["", "a b", "é", &"x".repeat(129), "a/b"] {
            let e = check_id("auction.bids[0].agent_id", bad).unwrap_err();
            assert_eq!(
                (e.code(), e.field()),
                ("invalid_id", Some("auction.bids[0].agent_id"))
            );
        }
    }
}
