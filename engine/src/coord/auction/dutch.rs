//! Dutch auction: a descending clock, solved in closed form.
//!
//! The price falls from `start` by `decrement` until it is at or below the highest maximum
//! `m1`: after `ceil((start - m1) / decrement)` steps. The clock never goes below the floor
//! (`reserve`, or one micro-unit without a reserve): a step that would pass it stops at the
//! floor itself, so the clock's last price is the reserve and a maximum at or above the
//! reserve always wins (at the reserve when the regular steps skip past it). No maximum at
//! or above the floor: no sale, the clock having run down to the floor.

use crate::coord::error::CoordError;
use crate::coord::money::Money;
use crate::coord::outcome::{AuctionOutcome, ClockOutcome, single_item_efficiency};
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
    for (i, bid) in auction.bids.iter().enumerate() {
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
    let floor_micros = i128::from(floor.micros());
    // Steps until the clock reaches the floor, the last one cut short at the floor.
    let steps_to_floor = (start - floor_micros + dec - 1) / dec;
    let (winner, price, rounds) = match (top, steps_to_sale) {
        (Some(i), Some(k)) if start - k * dec >= floor_micros => {
            (Some(i), Money::from_i128(start - k * dec), k)
        }
        // The regular steps pass the floor: the last step stops at it, and m1 covers it.
        (Some(i), Some(_)) if m1 >= floor => (Some(i), Some(floor), steps_to_floor),
        _ => (None, None, steps_to_floor),
    };
    let rounds = u64::try_from(rounds).map_err(|_| CoordError::overflow("dutch rounds"))?;
    Ok(AuctionOutcome::Dutch(ClockOutcome {
        sold: winner.is_some(),
        winner: winner.map(|i| auction.bids[i].agent_id.clone()),
        price: winner.and(price),
        rounds,
        efficiency: single_item_efficiency(
            auction.bids.iter().map(Bid::value),
            winner.map(|i| auction.bids[i].value()),
            auction.reserve,
        ),
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

    #[test]
    fn the_last_step_stops_at_the_reserve() {
        // 100, 70, 40 would pass the reserve 50: the clock's last price is 50.
        let o = run(100, 30, 50, &bids(&[55, 30]));
        assert_eq!(
            (o.winner.as_deref(), o.price, o.rounds),
            (Some("a0"), Some(Money(50)), 2)
        );
        let o = run(100, 30, 50, &bids(&[50]));
        assert_eq!(o.price, Some(Money(50)));
        // Below the reserve: the clock ran down to it, no sale.
        let o = run(100, 30, 50, &bids(&[49]));
        assert_eq!((o.sold, o.price, o.rounds), (false, None, 2));
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
