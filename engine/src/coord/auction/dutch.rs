//! Dutch auction: a descending clock, solved in closed form.
//!
//! The price falls from `start` by `decrement` until it is at or below the highest maximum
//! `m1`: after `ceil((start - m1) / decrement)` steps. The clock never goes below the floor
//! (`reserve`, or one micro-unit without a reserve): a price under it means no sale, and the
//! clock stops at its last price at or above the floor.

use crate::coord::error::CoordError;
use crate::coord::money::Money;
use crate::coord::outcome::{AuctionOutcome, ClockOutcome, ratio};
use crate::coord::request::Bid;

/// A validated dutch auction (positive amounts, one bid per agent, `start >= reserve`).
#[derive(Debug, Clone, Copy)]
pub struct DutchAuction<'a> {
    /// The opening clock price (positive).
    pub start: Money,
    /// The clock step (positive).
    pub decrement: Money,
    /// The lowest acceptable price; `Money::ZERO` for none.
    pub reserve: Money,
    /// Each agent's maximum, in submission order.
    pub bids: &'a [Bid],
}

/// Clears a dutch auction.
pub fn clear(auction: &DutchAuction<'_>) -> Result<AuctionOutcome, CoordError> {
    let (mut top, mut m1) = (None::<usize>, Money::ZERO);
    let mut best_value = Money::ZERO;
    for (i, bid) in auction.bids.iter().enumerate() {
        best_value = best_value.max(bid.value());
        if top.is_none() || bid.amount > m1 {
            top = Some(i);
            m1 = bid.amount;
        }
    }
    let floor = auction.reserve.max(Money::MICRO);
    let start = i128::from(auction.start.micros());
    let dec = i128::from(auction.decrement.micros().max(1));
    // Steps until the clock is at or below m1 (0 when m1 >= start).
    let steps_to_sale = top.map(|_| {
        let gap = start - i128::from(m1.micros());
        if gap <= 0 { 0 } else { (gap + dec - 1) / dec }
    });
    let sale_price = steps_to_sale.map(|k| start - k * dec);
    let (winner, price, rounds) = match (top, steps_to_sale, sale_price) {
        (Some(i), Some(k), Some(p)) if p >= i128::from(floor.micros()) => {
            (Some(i), Money::from_i128(p), k)
        }
        _ => {
            // No sale: the clock ran down to its last price at or above the floor.
            let k = if start >= i128::from(floor.micros()) {
                (start - i128::from(floor.micros())) / dec
            } else {
                0
            };
            (None, None, k)
        }
    };
    let rounds = u64::try_from(rounds).map_err(|_| CoordError::overflow("dutch rounds"))?;
    let realised = winner.map_or(Money::ZERO, |i| auction.bids[i].value());
    Ok(AuctionOutcome::Dutch(ClockOutcome {
        sold: winner.is_some(),
        winner: winner.map(|i| auction.bids[i].agent_id.clone()),
        price: winner.and(price),
        rounds,
        efficiency: ratio(realised.micros().into(), best_value.micros().into()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coord::auction::reference;
    use proptest::prelude::*;

    fn bids(amounts: &[i64]) -> Vec<Bid> {
        amounts
            .iter()
            .enumerate()
            .map(|(i, &a)| Bid::new(format!("a{i}"), Money::from_micros(a)))
            .collect()
    }

    fn run(start: i64, dec: i64, reserve: i64, b: &[Bid]) -> ClockOutcome {
        let a = DutchAuction {
            start: Money(start),
            decrement: Money(dec),
            reserve: Money(reserve),
            bids: b,
        };
        match clear(&a).unwrap() {
            AuctionOutcome::Dutch(c) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn falls_to_the_highest_maximum() {
        let o = run(100, 10, 0, &bids(&[45, 62, 62]));
        assert_eq!(
            (o.winner.as_deref(), o.price, o.rounds),
            (Some("a1"), Some(Money(60)), 4)
        );
        let o = run(100, 10, 0, &bids(&[150]));
        assert_eq!((o.price, o.rounds), (Some(Money(100)), 0));
    }

    #[test]
    fn a_clock_that_reaches_the_reserve_does_not_sell() {
        let o = run(100, 10, 50, &bids(&[45, 30]));
        assert!(!o.sold && o.winner.is_none() && o.price.is_none());
        assert_eq!(o.rounds, 5);
        // exactly at the reserve is still a sale.
        let o = run(100, 10, 50, &bids(&[50]));
        assert_eq!(o.price, Some(Money(50)));
    }

    proptest! {
        #[test]
        fn closed_form_equals_the_simulated_clock(maxima in prop::collection::vec(1i64..200, 0..8), start in 1i64..200, dec in 1i64..30, reserve in 0i64..200) {
            let start = start.max(reserve);
            let b = bids(&maxima);
            let fast = run(start, dec, reserve, &b);
            let slow = reference::dutch(Money(start), Money(dec), Money(reserve), &b);
            prop_assert_eq!((fast.winner.clone(), fast.price, fast.rounds), slow);
            if let (Some(w), Some(p)) = (fast.winner, fast.price) {
                let bid = b.iter().find(|x| x.agent_id == w).unwrap();
                prop_assert!(p <= bid.amount && p >= Money(reserve));
            }
        }
    }
}
