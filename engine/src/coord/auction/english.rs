//! English auction: an ascending clock over proxy maxima, solved in closed form.
//!
//! The clock starts at `start` and rises by `increment` while at least two maxima cover the
//! next price, so it stops after `k = floor((m2 - start) / increment)` steps, where `m2` is
//! the second-highest maximum (capped by `max_rounds`). No step-by-step simulation: the
//! result is exact and O(n) whatever the number of rounds.

use crate::coord::error::CoordError;
use crate::coord::money::Money;
use crate::coord::outcome::{AuctionOutcome, ClockOutcome, single_item_efficiency};
use crate::coord::request::Bid;

/// A validated english auction (positive amounts, one bid per agent).
#[derive(Debug, Clone, Copy)]
pub struct EnglishAuction<'a> {
    /// The opening clock price (positive).
    pub start: Money,
    /// The clock step (positive).
    pub increment: Money,
    /// The lowest acceptable price; `Money::ZERO` for none.
    pub reserve: Money,
    /// Most clock steps; `None` for no limit.
    pub max_rounds: Option<u64>,
    /// Each agent's maximum, in submission order.
    pub bids: &'a [Bid],
}

/// Clears an english auction.
pub fn clear(auction: &EnglishAuction<'_>) -> Result<AuctionOutcome, CoordError> {
    let (mut top, mut m1, mut m2): (Option<usize>, Money, Option<Money>) =
        (None, Money::ZERO, None);
    for (i, bid) in auction.bids.iter().enumerate() {
        if top.is_none() || bid.amount > m1 {
            if top.is_some() {
                m2 = Some(m1);
            }
            top = Some(i);
            m1 = bid.amount;
        } else if m2.is_none_or(|s| bid.amount > s) {
            m2 = Some(bid.amount);
        }
    }
    let rounds = match m2 {
        Some(m2) if m2 >= auction.start && auction.increment.is_positive() => {
            let steps = (m2.micros() - auction.start.micros()) / auction.increment.micros();
            let steps = u64::try_from(steps).map_err(|_| CoordError::overflow("english rounds"))?;
            auction.max_rounds.map_or(steps, |cap| steps.min(cap))
        }
        _ => 0,
    };
    // rounds <= (m2 - start) / increment, so the clock never passes m2: no overflow.
    let clock = i128::from(auction.start.micros())
        + i128::from(rounds) * i128::from(auction.increment.micros());
    let clock = Money::from_i128(clock).ok_or(CoordError::overflow("english clock"))?;
    let price = clock.max(auction.reserve);
    let winner = top.filter(|_| m1 >= price);
    Ok(AuctionOutcome::English(ClockOutcome {
        sold: winner.is_some(),
        winner: winner.map(|i| auction.bids[i].agent_id.clone()),
        price: winner.map(|_| price),
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

    fn run(start: i64, inc: i64, reserve: i64, max_rounds: Option<u64>, b: &[Bid]) -> ClockOutcome {
        let a = EnglishAuction {
            start: Money::from_micros(start),
            increment: Money::from_micros(inc),
            reserve: Money::from_micros(reserve),
            max_rounds,
            bids: b,
        };
        match clear(&a).unwrap() {
            AuctionOutcome::English(c) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stops_where_the_last_rival_drops() {
        // maxima 20, 35, 50; start 10, step 5: the clock stops at 35 after 5 steps.
        let o = run(10, 5, 0, None, &bids(&[20, 35, 50]));
        assert_eq!(
            (o.winner.as_deref(), o.price, o.rounds),
            (Some("a2"), Some(Money(35)), 5)
        );
        // max_rounds cuts the clock short.
        let o = run(10, 5, 0, Some(2), &bids(&[20, 35, 50]));
        assert_eq!((o.price, o.rounds), (Some(Money(20)), 2));
        // equal maxima: the clock climbs to them and the first listed wins.
        let o = run(10, 5, 0, None, &bids(&[40, 40]));
        assert_eq!(
            (o.winner.as_deref(), o.price),
            (Some("a0"), Some(Money(40)))
        );
        // a lone bidder wins at the start price; the reserve lifts it.
        let o = run(10, 5, 30, None, &bids(&[50]));
        assert_eq!((o.price, o.rounds), (Some(Money(30)), 0));
        // nobody reaches the reserve.
        let o = run(10, 5, 60, None, &bids(&[50, 55]));
        assert!(!o.sold && o.price.is_none());
        // nobody covers the start.
        assert!(!run(10, 5, 0, None, &bids(&[5, 9])).sold);
    }

    proptest! {
        #[test]
        fn closed_form_equals_the_simulated_clock(maxima in prop::collection::vec(1i64..200, 0..8), start in 1i64..60, inc in 1i64..15, reserve in 0i64..120, cap in prop::option::of(0u64..20)) {
            let b = bids(&maxima);
            let fast = run(start, inc, reserve, cap, &b);
            let slow = reference::english(Money(start), Money(inc), Money(reserve), cap, &b);
            prop_assert_eq!((fast.winner.clone(), fast.price, fast.rounds), slow);
            if let (Some(w), Some(p)) = (fast.winner, fast.price) {
                let bid = b.iter().find(|x| x.agent_id == w).unwrap();
                prop_assert!(p <= bid.amount && p >= Money(start) && p >= Money(reserve));
            }
        }
    }
}
