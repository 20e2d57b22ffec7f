//! Sealed-bid single-item auctions: first price and second price (Vickrey), with a reserve.
//!
//! One pass over the bids keeps the best and second-best eligible bid (strictly greater
//! replaces, so the earliest of equal bids wins) and the best value for efficiency.

use crate::coord::error::CoordError;
use crate::coord::money::Money;
use crate::coord::outcome::{AuctionOutcome, SingleItemOutcome, single_item_efficiency};
use crate::coord::request::Bid;

/// What the winner of a sealed-bid auction pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SealedPricing {
    /// Its own bid.
    FirstPrice,
    /// max(second-highest eligible bid, reserve).
    SecondPrice,
}

/// A validated sealed-bid auction (positive amounts, one bid per agent).
#[derive(Debug, Clone, Copy)]
pub struct SealedAuction<'a> {
    /// First or second price.
    pub pricing: SealedPricing,
    /// Bids below the reserve are not eligible; `Money::ZERO` for none.
    pub reserve: Money,
    /// Bids in submission order.
    pub bids: &'a [Bid],
}

/// Clears a sealed-bid auction.
pub fn clear(auction: &SealedAuction<'_>) -> Result<AuctionOutcome, CoordError> {
    let reserve = auction.reserve;
    let mut best: Option<usize> = None;
    let mut best_amount = Money::ZERO;
    let mut second: Option<Money> = None;
    let mut eligible = 0usize;
    for (i, bid) in auction.bids.iter().enumerate() {
        if bid.amount < reserve {
            continue;
        }
        eligible += 1;
        if best.is_none() || bid.amount > best_amount {
            if best.is_some() {
                second = Some(best_amount);
            }
            best = Some(i);
            best_amount = bid.amount;
        } else if second.is_none_or(|s| bid.amount > s) {
            second = Some(bid.amount);
        }
    }
    let price = best.map(|_| match auction.pricing {
        SealedPricing::FirstPrice => best_amount,
        SealedPricing::SecondPrice => second.map_or(reserve, |s| s.max(reserve)),
    });
    let out = SingleItemOutcome {
        sold: best.is_some(),
        winner: best.map(|i| auction.bids[i].agent_id.clone()),
        price,
        bids: auction.bids.len(),
        eligible,
        efficiency: single_item_efficiency(
            auction.bids.iter().map(Bid::value),
            best.map(|i| auction.bids[i].value()),
            reserve,
        ),
    };
    Ok(match auction.pricing {
        SealedPricing::FirstPrice => AuctionOutcome::FirstPrice(out),
        SealedPricing::SecondPrice => AuctionOutcome::SecondPrice(out),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coord::auction::reference;
    use proptest::prelude::*;

    fn units(v: i64) -> Money {
        Money::from_units(v).unwrap()
    }

    fn bids(amounts: &[i64]) -> Vec<Bid> {
        amounts
            .iter()
            .enumerate()
            .map(|(i, &a)| Bid::new(format!("a{i}"), units(a)))
            .collect()
    }

    fn single(o: AuctionOutcome) -> SingleItemOutcome {
        match o {
            AuctionOutcome::FirstPrice(s) | AuctionOutcome::SecondPrice(s) => s,
            other => panic!("not a sealed outcome: {other:?}"),
        }
    }

    fn run(pricing: SealedPricing, reserve: i64, b: &[Bid]) -> SingleItemOutcome {
        single(
            clear(&SealedAuction {
                pricing,
                reserve: units(reserve),
                bids: b,
            })
            .unwrap(),
        )
    }

    #[test]
    fn classic_ten_fifteen_twelve() {
        let b = bids(&[10, 15, 12]);
        let first = run(SealedPricing::FirstPrice, 0, &b);
        assert_eq!(
            (first.winner.as_deref(), first.price),
            (Some("a1"), Some(units(15)))
        );
        let second = run(SealedPricing::SecondPrice, 0, &b);
        assert_eq!(
            (second.winner.as_deref(), second.price),
            (Some("a1"), Some(units(12)))
        );
    }

    #[test]
    fn equal_top_bids_go_to_the_first_listed() {
        let b = bids(&[7, 9, 9, 3]);
        let o = run(SealedPricing::SecondPrice, 0, &b);
        assert_eq!((o.winner.as_deref(), o.price), (Some("a1"), Some(units(9))));
        let o = run(SealedPricing::FirstPrice, 0, &b);
        assert_eq!(o.winner.as_deref(), Some("a1"));
    }

    #[test]
    fn efficiency_uses_true_values_when_stated() {
        let mut b = bids(&[10, 8]);
        b[1].true_value = Some(units(20));
        let o = run(SealedPricing::FirstPrice, 0, &b);
        assert_eq!(o.winner.as_deref(), Some("a0"));
        assert_eq!(
            o.efficiency,
            Some(0.5),
            "the winner values it 10, the best value is 20"
        );
        assert_eq!(
            run(SealedPricing::FirstPrice, 0, &bids(&[10, 8])).efficiency,
            Some(1.0)
        );
        // With a reserve the seller values the item at the reserve: (10 - 6) / (20 - 6).
        let o = run(SealedPricing::FirstPrice, 6, &b);
        assert_eq!(o.efficiency, Some(4.0 / 14.0));
    }

    #[test]
    fn reserve_sets_eligibility_and_the_floor() {
        let o = run(SealedPricing::SecondPrice, 10, &bids(&[15, 8]));
        assert_eq!((o.price, o.eligible), (Some(units(10)), 1));
        let o = run(SealedPricing::FirstPrice, 20, &bids(&[15, 8]));
        assert!(!o.sold && o.winner.is_none() && o.price.is_none());
        assert_eq!(
            o.efficiency, None,
            "no value reaches the reserve: no trade is feasible"
        );
        let o = run(SealedPricing::FirstPrice, 0, &[]);
        assert!(!o.sold);
        assert_eq!(o.efficiency, None, "no bids: no trade is feasible");
    }

    proptest! {
        #[test]
        fn matches_the_brute_force_reference(amounts in prop::collection::vec(1i64..30, 0..12), reserve in 0i64..20, second in any::<bool>()) {
            let b = bids(&amounts);
            let pricing = if second { SealedPricing::SecondPrice } else { SealedPricing::FirstPrice };
            let fast = run(pricing, reserve, &b);
            let slow = reference::sealed(second, units(reserve), &b);
            prop_assert_eq!(fast.winner.clone(), slow.0);
            prop_assert_eq!(fast.price, slow.1);
            // Efficiency: null exactly when no value reaches the reserve; else in [0, 1],
            // and 1 when values are the bids (the highest eligible bid wins).
            let feasible = b.iter().any(|x| x.value() >= units(reserve));
            prop_assert_eq!(fast.efficiency, feasible.then_some(1.0));
            // Individual rationality: a winner never pays above its bid, nor below the reserve.
            if let (Some(w), Some(p)) = (fast.winner.as_ref(), fast.price) {
                let bid = b.iter().find(|x| &x.agent_id == w).unwrap();
                prop_assert!(p <= bid.amount && p >= units(reserve));
            }
        }

        /// Vickrey truthfulness: over a grid of deviations no bidder gains by bidding other
        /// than its value.
        #[test]
        fn second_price_is_truthful(values in prop::collection::vec(1i64..20, 1..6), reserve in 0i64..10, who in 0usize..6) {
            let who = who % values.len();
            let utility = |amounts: &[i64]| {
                let o = run(SealedPricing::SecondPrice, reserve, &bids(amounts));
                match (o.winner, o.price) {
                    (Some(w), Some(p)) if w == format!("a{who}") => units(values[who]).micros() - p.micros(),
                    _ => 0,
                }
            };
            let truthful = utility(&values);
            for deviation in 1..25i64 {
                let mut lie = values.clone();
                lie[who] = deviation;
                prop_assert!(utility(&lie) <= truthful, "bidding {} beat truth {}", deviation, values[who]);
            }
        }

        /// Monotonicity: raising the winner's bid keeps it the winner.
        #[test]
        fn raising_the_winning_bid_keeps_it_winning(amounts in prop::collection::vec(1i64..30, 1..10), raise in 1i64..10) {
            let b = bids(&amounts);
            let o = run(SealedPricing::FirstPrice, 0, &b);
            let w = o.winner.unwrap();
            let mut higher = b.clone();
            let i = higher.iter().position(|x| x.agent_id == w).unwrap();
            higher[i].amount = units(amounts[i] + raise);
            prop_assert_eq!(run(SealedPricing::FirstPrice, 0, &higher).winner, Some(w));
        }
    }
}
