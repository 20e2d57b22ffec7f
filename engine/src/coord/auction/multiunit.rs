//! Multi-unit auction for `units` identical units: uniform price or discriminatory.
//!
//! Eligible bids (unit amount at or above the reserve) are accepted best first, earliest on
//! ties, each for as many of its `quantity` units as remain; the last accepted bid may be
//! partly filled. Uniform pricing charges every unit the lowest accepted bid (the stop-out
//! price); discriminatory pricing charges each winner its own bid.

use crate::coord::error::CoordError;
use crate::coord::money::Money;
use crate::coord::outcome::{AuctionOutcome, MultiUnitOutcome, UnitWinner, efficiency};
use crate::coord::request::{Bid, UnitPricing};

/// A validated multi-unit auction (positive amounts and quantities, one bid per agent).
#[derive(Debug, Clone, Copy)]
pub struct MultiUnitAuction<'a> {
    /// Units for sale.
    pub units: u64,
    /// Uniform or discriminatory.
    pub pricing: UnitPricing,
    /// Lowest acceptable unit price; `Money::ZERO` for none.
    pub reserve: Money,
    /// Bids (`amount` per unit for `quantity` units, 1 when absent), in submission order.
    pub bids: &'a [Bid],
}

fn quantity(bid: &Bid) -> u64 {
    bid.quantity.unwrap_or(1)
}

/// Clears a multi-unit auction.
pub fn clear(auction: &MultiUnitAuction<'_>) -> Result<AuctionOutcome, CoordError> {
    let mut order: Vec<usize> = (0..auction.bids.len())
        .filter(|&i| auction.bids[i].amount >= auction.reserve)
        .collect();
    // Stable: equal amounts keep submission order.
    order.sort_by(|&a, &b| auction.bids[b].amount.cmp(&auction.bids[a].amount));
    let mut left = auction.units;
    let mut accepted: Vec<(usize, u64)> = Vec::new();
    for &i in &order {
        if left == 0 {
            break;
        }
        let q = quantity(&auction.bids[i]).min(left);
        left -= q;
        accepted.push((i, q));
    }
    let clearing_price = accepted.last().map(|&(i, _)| auction.bids[i].amount);
    let mut revenue = Money::ZERO;
    let mut realised: i128 = 0;
    let mut winners = Vec::with_capacity(accepted.len());
    for &(i, q) in &accepted {
        let bid = &auction.bids[i];
        let price = match auction.pricing {
            UnitPricing::Uniform => clearing_price.unwrap_or(bid.amount),
            UnitPricing::Discriminatory => bid.amount,
        };
        let payment = price
            .checked_mul_qty(q)
            .ok_or(CoordError::overflow("multi-unit payment"))?;
        revenue = revenue
            .checked_add(payment)
            .ok_or(CoordError::overflow("multi-unit revenue"))?;
        realised += gain(auction, bid.value()) * i128::from(q);
        winners.push(UnitWinner {
            agent_id: bid.agent_id.clone(),
            quantity: q,
            price,
            payment,
        });
    }
    Ok(AuctionOutcome::MultiUnit(MultiUnitOutcome {
        pricing: auction.pricing,
        units: auction.units,
        units_sold: auction.units - left,
        clearing_price,
        winners,
        revenue,
        efficiency: efficiency(realised, best_surplus(auction)),
    }))
}

/// What selling one unit to a bidder of value `v` gains: the seller values a unit at the
/// reserve.
fn gain(auction: &MultiUnitAuction<'_>, v: Money) -> i128 {
    i128::from(v.micros()) - i128::from(auction.reserve.micros())
}

/// The best feasible surplus: the `units` highest-valued units among bidders valuing a unit at
/// or above the reserve; `None` when no bidder does (no trade is feasible).
fn best_surplus(auction: &MultiUnitAuction<'_>) -> Option<i128> {
    let mut by_value: Vec<(Money, u64)> = auction
        .bids
        .iter()
        .filter(|b| b.value() >= auction.reserve)
        .map(|b| (b.value(), quantity(b)))
        .collect();
    if by_value.is_empty() {
        return None;
    }
    by_value.sort_by_key(|v| std::cmp::Reverse(v.0));
    let mut left = auction.units;
    let mut total: i128 = 0;
    for (v, q) in by_value {
        let take = q.min(left);
        total += gain(auction, v) * i128::from(take);
        left -= take;
        if left == 0 {
            break;
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coord::auction::reference;
    use proptest::prelude::*;

    fn bids(spec: &[(i64, u64)]) -> Vec<Bid> {
        spec.iter()
            .enumerate()
            .map(|(i, &(a, q))| Bid {
                quantity: Some(q),
                ..Bid::new(format!("a{i}"), Money(a))
            })
            .collect()
    }

    fn run(units: u64, pricing: UnitPricing, reserve: i64, b: &[Bid]) -> MultiUnitOutcome {
        let a = MultiUnitAuction {
            units,
            pricing,
            reserve: Money(reserve),
            bids: b,
        };
        match clear(&a).unwrap() {
            AuctionOutcome::MultiUnit(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn uniform_and_discriminatory() {
        let b = bids(&[(10, 2), (8, 2), (12, 1), (5, 3)]);
        let u = run(4, UnitPricing::Uniform, 0, &b);
        assert_eq!(u.units_sold, 4);
        assert_eq!(u.clearing_price, Some(Money(8)));
        assert_eq!(u.revenue, Money(32));
        let ids: Vec<_> = u
            .winners
            .iter()
            .map(|w| (w.agent_id.as_str(), w.quantity))
            .collect();
        assert_eq!(ids, [("a2", 1), ("a0", 2), ("a1", 1)]);
        let d = run(4, UnitPricing::Discriminatory, 0, &b);
        assert_eq!(d.revenue, Money(12 + 20 + 8));
        assert_eq!(d.efficiency, Some(1.0));
        let r = run(4, UnitPricing::Uniform, 9, &b);
        assert_eq!((r.units_sold, r.clearing_price), (3, Some(Money(10))));
    }

    proptest! {
        #[test]
        fn matches_the_unit_by_unit_reference(spec in prop::collection::vec((1i64..20, 1u64..5), 0..8), units in 0u64..12, reserve in 0i64..10, disc in any::<bool>()) {
            let b = bids(&spec);
            let pricing = if disc { UnitPricing::Discriminatory } else { UnitPricing::Uniform };
            let fast = run(units, pricing, reserve, &b);
            let (sold, revenue) = reference::multi_unit(units, disc, Money(reserve), &b);
            prop_assert_eq!(fast.units_sold, sold);
            prop_assert_eq!(fast.revenue, revenue);
            // Values are the bids: the best units sell, so efficiency is 1 whenever a trade
            // is feasible, null otherwise.
            let feasible = b.iter().any(|x| x.amount >= Money(reserve));
            prop_assert_eq!(fast.efficiency, feasible.then_some(1.0));
            prop_assert!(fast.units_sold <= units);
            for w in &fast.winners {
                let bid = b.iter().find(|x| x.agent_id == w.agent_id).unwrap();
                prop_assert!(w.price <= bid.amount && w.quantity <= bid.quantity.unwrap());
            }
        }
    }
}
