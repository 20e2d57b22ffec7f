//! Uniform-price call auction: maximum volume in O(n log n), exact price.
//!
//! Buys sorted by limit (highest first), sells by limit (lowest first), each stable so equal
//! limits keep submission order. Walking both lists and matching units while the buy limit
//! covers the sell limit gives the largest tradable volume `V` (and the largest surplus).
//! Every price between the limit of the sell holding the V-th unit (`lo`) and the limit of
//! the buy holding the V-th unit (`hi`) clears `V`: demand at such a price is at least `V`
//! and so is supply. The price is the midpoint of `[lo, hi]`, rounded down to the micro-unit.
//! Only limits are compared: no price grid, so the answer is exact.

use crate::coord::error::CoordError;
use crate::coord::money::Money;
use crate::coord::outcome::{Fill, MarketOutcome, ratio};
use crate::coord::request::{Order, Side};

/// Per-order result of a call clearing (used by the multi-period simulation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Matched {
    pub(crate) price: Option<Money>,
    pub(crate) volume: u64,
    /// Units filled per input order.
    pub(crate) filled: Vec<u64>,
    /// Buys then sells in priority order: (order index, units).
    pub(crate) fills: Vec<(usize, u64)>,
    /// Gains from trade over the matched units (independent of the price).
    pub(crate) max_surplus: i128,
}

fn limit_of(orders: &[Order], i: usize) -> Result<Money, CoordError> {
    orders[i].limit.ok_or_else(|| CoordError::MissingField {
        field: format!("market.orders[{i}].limit"),
        hint: "a call market needs a limit price on every order",
    })
}

/// Matches the orders of a call market (every order must carry a limit).
pub(crate) fn match_orders(orders: &[Order]) -> Result<Matched, CoordError> {
    let mut buys: Vec<(Money, usize)> = Vec::new();
    let mut sells: Vec<(Money, usize)> = Vec::new();
    for i in 0..orders.len() {
        let limit = limit_of(orders, i)?;
        match orders[i].side {
            Side::Buy => buys.push((limit, i)),
            Side::Sell => sells.push((limit, i)),
        }
    }
    // (limit, index) pairs are distinct, so an unstable sort is still deterministic.
    buys.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    sells.sort_unstable();
    let (mut i, mut j) = (0usize, 0usize);
    let (mut rb, mut rs) = (
        buys.first().map_or(0, |b| orders[b.1].quantity),
        sells.first().map_or(0, |s| orders[s.1].quantity),
    );
    let mut volume: u64 = 0;
    let mut max_surplus: i128 = 0;
    let mut marginal: Option<(Money, Money)> = None;
    while i < buys.len() && j < sells.len() && buys[i].0 >= sells[j].0 {
        let t = rb.min(rs);
        volume = volume
            .checked_add(t)
            .ok_or(CoordError::overflow("market volume"))?;
        max_surplus += i128::from(t) * i128::from(buys[i].0.micros() - sells[j].0.micros());
        marginal = Some((sells[j].0, buys[i].0));
        rb -= t;
        rs -= t;
        if rb == 0 {
            i += 1;
            rb = buys.get(i).map_or(0, |b| orders[b.1].quantity);
        }
        if rs == 0 {
            j += 1;
            rs = sells.get(j).map_or(0, |s| orders[s.1].quantity);
        }
    }
    let price = marginal.map(|(lo, hi)| lo.midpoint_floor(hi));
    let mut filled = vec![0u64; orders.len()];
    let mut fills = Vec::new();
    for list in [&buys, &sells] {
        let mut left = volume;
        for &(_, k) in list.iter() {
            if left == 0 {
                break;
            }
            let q = orders[k].quantity.min(left);
            left -= q;
            filled[k] = q;
            fills.push((k, q));
        }
    }
    Ok(Matched {
        price,
        volume,
        filled,
        fills,
        max_surplus,
    })
}

/// Clears a call market over `orders` (submission order; every order needs a limit).
pub fn clear(orders: &[Order]) -> Result<MarketOutcome, CoordError> {
    let m = match_orders(orders)?;
    let Some(price) = m.price else {
        return Ok(MarketOutcome {
            clearing_price: None,
            volume: 0,
            fills: Vec::new(),
            surplus: Money::ZERO,
            efficiency: 1.0,
        });
    };
    let mut surplus: i128 = 0;
    let mut fills = Vec::with_capacity(m.fills.len());
    for &(k, q) in &m.fills {
        let o = &orders[k];
        let limit = limit_of(orders, k)?;
        let gain = match o.side {
            Side::Buy => limit.micros() - price.micros(),
            Side::Sell => price.micros() - limit.micros(),
        };
        surplus += i128::from(gain) * i128::from(q);
        fills.push(Fill {
            agent_id: o.agent_id.clone(),
            side: o.side,
            quantity: q,
            price,
        });
    }
    Ok(MarketOutcome {
        clearing_price: Some(price),
        volume: m.volume,
        fills,
        surplus: Money::from_i128(surplus).ok_or(CoordError::overflow("market surplus"))?,
        efficiency: ratio(surplus, m.max_surplus),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coord::market::reference;
    use proptest::prelude::*;

    fn units(v: i64) -> Money {
        Money::from_units(v).unwrap()
    }

    #[test]
    fn the_api_example() {
        let orders = [
            Order::limit("s1", Side::Sell, 10, units(5)),
            Order::limit("b1", Side::Buy, 6, units(8)),
        ];
        let o = clear(&orders).unwrap();
        assert_eq!(o.clearing_price, Some(Money(6_500_000)));
        assert_eq!(o.volume, 6);
        assert_eq!(o.surplus, units(18));
        assert_eq!(o.efficiency, 1.0);
        assert_eq!(
            o.fills[0],
            Fill {
                agent_id: "b1".into(),
                side: Side::Buy,
                quantity: 6,
                price: Money(6_500_000)
            }
        );
        assert_eq!(o.fills[1].quantity, 6);
    }

    #[test]
    fn no_trade_and_marginal_orders_by_submission() {
        let o = clear(&[
            Order::limit("s", Side::Sell, 1, units(9)),
            Order::limit("b", Side::Buy, 1, units(8)),
        ])
        .unwrap();
        assert_eq!((o.clearing_price, o.volume, o.fills.len()), (None, 0, 0));
        let orders = [
            Order::limit("s", Side::Sell, 3, units(4)),
            Order::limit("b1", Side::Buy, 2, units(6)),
            Order::limit("b2", Side::Buy, 2, units(6)),
        ];
        let o = clear(&orders).unwrap();
        let got: Vec<_> = o
            .fills
            .iter()
            .map(|f| (f.agent_id.as_str(), f.quantity))
            .collect();
        assert_eq!(got, [("b1", 2), ("b2", 1), ("s", 3)]);
        assert_eq!(o.clearing_price, Some(units(5)));
        let missing = Order {
            limit: None,
            ..Order::limit("x", Side::Buy, 1, units(1))
        };
        assert_eq!(clear(&[missing]).unwrap_err().code(), "missing_field");
    }

    /// A 101-point grid over [0, 10] (step 0.1) cannot find this price; the exact
    /// clearing does: limits 6.03 and 6.08 give 6.055.
    #[test]
    fn exact_where_a_price_grid_is_not() {
        let orders = [
            Order::limit("s", Side::Sell, 5, Money(6_030_000)),
            Order::limit("b", Side::Buy, 5, Money(6_080_000)),
        ];
        let o = clear(&orders).unwrap();
        assert_eq!(o.clearing_price, Some(Money(6_055_000)));
        assert_eq!(o.volume, 5);
        let grid_hits = (0..=100)
            .map(|k| Money(k * 100_000))
            .filter(|p| *p >= Money(6_030_000) && *p <= Money(6_080_000))
            .count();
        assert_eq!(grid_hits, 0, "no grid point clears this market at all");
    }

    fn orders() -> impl Strategy<Value = Vec<Order>> {
        prop::collection::vec((any::<bool>(), 1u64..6, 1i64..20), 0..14).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (buy, q, l))| {
                    Order::limit(
                        format!("t{i}"),
                        if buy { Side::Buy } else { Side::Sell },
                        q,
                        units(l),
                    )
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn maximal_volume_conservation_and_rationality(orders in orders()) {
            let o = clear(&orders).unwrap();
            let (volume, price) = reference::call(&orders);
            prop_assert_eq!(o.volume, volume);
            prop_assert_eq!(o.clearing_price, price);
            let bought: u64 = o.fills.iter().filter(|f| f.side == Side::Buy).map(|f| f.quantity).sum();
            let sold: u64 = o.fills.iter().filter(|f| f.side == Side::Sell).map(|f| f.quantity).sum();
            prop_assert_eq!(bought, o.volume);
            prop_assert_eq!(sold, o.volume);
            for f in &o.fills {
                let order = orders.iter().find(|x| x.agent_id == f.agent_id).unwrap();
                prop_assert!(f.quantity <= order.quantity);
                match f.side {
                    Side::Buy => prop_assert!(f.price <= order.limit.unwrap()),
                    Side::Sell => prop_assert!(f.price >= order.limit.unwrap()),
                }
            }
            prop_assert!(o.surplus >= Money::ZERO);
            prop_assert_eq!(o.efficiency, 1.0);
        }

        /// Monotonicity: adding a buy order never lowers the volume.
        #[test]
        fn more_demand_never_lowers_volume(orders in orders(), q in 1u64..5, l in 1i64..20) {
            let before = clear(&orders).unwrap().volume;
            let mut more = orders.clone();
            more.push(Order::limit("extra", Side::Buy, q, units(l)));
            prop_assert!(clear(&more).unwrap().volume >= before);
        }
    }
}
