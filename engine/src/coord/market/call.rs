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
use crate::coord::outcome::{AgentId, Fill, MarketOutcome, efficiency};
use crate::coord::request::{Order, Side};

/// A call clearing in index form: what an embedder that owns the orders needs to apply
/// the fills (no ids cloned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clearing {
    /// The uniform price, `None` when nothing trades.
    pub price: Option<Money>,
    /// Units traded.
    pub volume: u64,
    /// Units filled per input order (same indices as the input).
    pub filled: Vec<u64>,
    /// Fills in priority order, buys then sells: (order index, units).
    pub fills: Vec<(usize, u64)>,
    /// Gains from trade over the matched units in micros (the largest possible surplus).
    pub max_surplus: i128,
}

/// The limits market orders (orders without a `limit`) take in a call: a market buy the
/// highest limit any order of the call names, a market sell the lowest, so that they rank
/// with the most aggressive limit orders and the price stays within the limits named.
/// `None` when no order names a limit: market orders alone do not trade.
fn market_limits(orders: &[Order]) -> Option<(Money, Money)> {
    let mut limits = orders.iter().filter_map(|o| o.limit);
    let first = limits.next()?;
    let (lo, hi) = limits.fold((first, first), |(lo, hi), l| (lo.min(l), hi.max(l)));
    Some((hi, lo))
}

/// An order's limit in the call: its own, or the one [`market_limits`] gives it.
fn limit_of(o: &Order, market: Option<(Money, Money)>) -> Option<Money> {
    o.limit.or_else(|| {
        market.map(|(buy, sell)| match o.side {
            Side::Buy => buy,
            Side::Sell => sell,
        })
    })
}

/// Maps an i64 to a u64 with the same order.
fn ordered(x: i64) -> u64 {
    (x as u64) ^ (1 << 63)
}

fn unordered(x: u64) -> i64 {
    (x ^ (1 << 63)) as i64
}

/// Sorts (key, index) pairs by key, stably: LSD radix sort over the key bytes that vary
/// (limits in one market usually differ only in their low bytes), a comparison sort for
/// short lists.
fn radix_sort(v: &mut Vec<(u64, u32)>) {
    if v.len() <= 64 {
        v.sort_by_key(|e| e.0);
        return;
    }
    let first = v[0].0;
    let varying = v.iter().fold(0u64, |acc, e| acc | (e.0 ^ first));
    let mut src = std::mem::take(v);
    let mut dst = vec![(0u64, 0u32); src.len()];
    for shift in (0..64).step_by(8) {
        if (varying >> shift) & 0xff == 0 {
            continue;
        }
        let mut offsets = [0usize; 256];
        for e in &src {
            offsets[((e.0 >> shift) & 0xff) as usize] += 1;
        }
        let mut sum = 0;
        for o in offsets.iter_mut() {
            (*o, sum) = (sum, sum + *o);
        }
        for e in &src {
            let digit = ((e.0 >> shift) & 0xff) as usize;
            dst[offsets[digit]] = *e;
            offsets[digit] += 1;
        }
        std::mem::swap(&mut src, &mut dst);
    }
    *v = src;
}

/// The sorted books and what matching them gives; shared by [`clearing`] and [`clear`].
struct Matched {
    /// The limits market orders take ([`market_limits`]).
    market: Option<(Money, Money)>,
    /// (key, order index) by price then time priority: buys best (highest) limit first.
    buys: Vec<(u64, u32)>,
    /// Sells best (lowest) limit first.
    sells: Vec<(u64, u32)>,
    price: Option<Money>,
    volume: u64,
    max_surplus: i128,
}

impl Matched {
    /// The fills in priority order, buys then sells: (order index, units), `volume` units
    /// on each side.
    fn fills<'a>(&'a self, orders: &'a [Order]) -> impl Iterator<Item = (usize, u64)> + 'a {
        let side = move |list: &'a [(u64, u32)]| {
            let mut left = self.volume;
            list.iter().map_while(move |&(_, k)| {
                if left == 0 {
                    return None;
                }
                let k = k as usize;
                let q = orders[k].quantity.min(left);
                left -= q;
                Some((k, q))
            })
        };
        side(&self.buys).chain(side(&self.sells))
    }
}

/// Sorts both books and matches them (market orders at [`market_limits`]).
fn match_books(orders: &[Order]) -> Result<Matched, CoordError> {
    // Sort keys: the limit mapped to an order-preserving u64 (complemented for buys, so
    // the best comes first); a stable sort of orders taken in submission order then gives
    // price priority, then time priority.
    let mut buys: Vec<(u64, u32)> = Vec::with_capacity(orders.len());
    let mut sells: Vec<(u64, u32)> = Vec::with_capacity(orders.len());
    if u32::try_from(orders.len()).is_err() {
        return Err(CoordError::TooMany {
            field: "market.orders".into(),
            count: orders.len(),
            max: u32::MAX as usize,
        });
    }
    let market = market_limits(orders);
    for (i, o) in orders.iter().enumerate() {
        // Without any limit in the call, market orders do not trade (they are left out).
        let Some(limit) = limit_of(o, market) else {
            continue;
        };
        let limit = limit.micros();
        // In range: checked above.
        let i = i as u32;
        match o.side {
            Side::Buy => buys.push((!ordered(limit), i)),
            Side::Sell => sells.push((ordered(limit), i)),
        }
    }
    radix_sort(&mut buys);
    radix_sort(&mut sells);
    let buy = |k: (u64, u32)| (unordered(!k.0), k.1 as usize);
    let sell = |k: (u64, u32)| (unordered(k.0), k.1 as usize);
    let (mut i, mut j) = (0usize, 0usize);
    let (mut rb, mut rs) = (
        buys.first().map_or(0, |&k| orders[k.1 as usize].quantity),
        sells.first().map_or(0, |&k| orders[k.1 as usize].quantity),
    );
    let mut volume: u64 = 0;
    let mut max_surplus: i128 = 0;
    let mut marginal: Option<(i64, i64)> = None;
    while i < buys.len() && j < sells.len() {
        let (bl, sl) = (buy(buys[i]).0, sell(sells[j]).0);
        if bl < sl {
            break;
        }
        let t = rb.min(rs);
        volume = volume
            .checked_add(t)
            .ok_or(CoordError::overflow("market volume"))?;
        max_surplus += i128::from(t) * (i128::from(bl) - i128::from(sl));
        marginal = Some((sl, bl));
        rb -= t;
        rs -= t;
        if rb == 0 {
            i += 1;
            rb = buys.get(i).map_or(0, |&k| orders[k.1 as usize].quantity);
        }
        if rs == 0 {
            j += 1;
            rs = sells.get(j).map_or(0, |&k| orders[k.1 as usize].quantity);
        }
    }
    // Keep only the orders that may fill: the first V units lie within buys[..=i] and
    // sells[..=j] (the rest are never read again).
    buys.truncate(i + 1);
    sells.truncate(j + 1);
    Ok(Matched {
        market,
        buys,
        sells,
        price: marginal.map(|(lo, hi)| Money(lo).midpoint_floor(Money(hi))),
        volume,
        max_surplus,
    })
}

/// Clears a call market in index form (orders without a limit are market orders).
pub fn clearing(orders: &[Order]) -> Result<Clearing, CoordError> {
    let m = match_books(orders)?;
    let mut filled = vec![0u64; orders.len()];
    let mut fills = Vec::with_capacity(m.buys.len() + m.sells.len());
    for (k, q) in m.fills(orders) {
        filled[k] = q;
        fills.push((k, q));
    }
    Ok(Clearing {
        price: m.price,
        volume: m.volume,
        filled,
        fills,
        max_surplus: m.max_surplus,
    })
}

/// Clears a call market over `orders` (submission order; an order without a limit is a market
/// order, taking the most aggressive limit of the call: the highest named for a buy, the
/// lowest for a sell).
///
/// Fills carry [`AgentId`]s, copied inline from the orders
/// (no allocation for ids of up to 22 bytes).
pub fn clear(orders: &[Order]) -> Result<MarketOutcome, CoordError> {
    let m = match_books(orders)?;
    outcome(orders, &m)
}

/// Clears a call market and hands back what did not trade: every order's unfilled
/// remainder, in submission order, so that it keeps its time priority at the next call.
/// On an error every order comes back whole.
pub fn clear_carrying(orders: Vec<Order>) -> (Result<MarketOutcome, CoordError>, Vec<Order>) {
    let cleared = match_books(&orders).and_then(|m| {
        let o = outcome(&orders, &m)?;
        let mut filled = vec![0u64; orders.len()];
        for (k, q) in m.fills(&orders) {
            filled[k] = q;
        }
        Ok((o, filled))
    });
    match cleared {
        Ok((o, filled)) => {
            let carry = orders
                .into_iter()
                .zip(filled)
                .filter_map(|(mut order, f)| {
                    order.quantity -= f; // f <= quantity: no order fills beyond it
                    (order.quantity > 0).then_some(order)
                })
                .collect();
            (Ok(o), carry)
        }
        Err(e) => (Err(e), orders),
    }
}

/// The outcome of matched books: fills at the uniform price, surplus and efficiency.
fn outcome(orders: &[Order], m: &Matched) -> Result<MarketOutcome, CoordError> {
    let Some(price) = m.price else {
        return Ok(MarketOutcome {
            clearing_price: None,
            volume: 0,
            fills: Vec::new(),
            surplus: Money::ZERO,
            efficiency: None,
        });
    };
    let mut surplus: i128 = 0;
    let mut fills = Vec::with_capacity(m.buys.len() + m.sells.len());
    for (k, q) in m.fills(orders) {
        let o = &orders[k];
        // Every filled order has a limit in the call.
        let limit = limit_of(o, m.market).ok_or(CoordError::overflow("market order limit"))?;
        let gain = match o.side {
            Side::Buy => limit.micros() - price.micros(),
            Side::Sell => price.micros() - limit.micros(),
        };
        surplus += i128::from(gain) * i128::from(q);
        fills.push(Fill {
            agent_id: AgentId::from(o.agent_id.as_str()),
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
        efficiency: efficiency(surplus, Some(m.max_surplus)),
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
        assert_eq!(o.efficiency, Some(1.0));
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
        assert_eq!(
            o.efficiency, None,
            "no crossing orders: no trade is feasible"
        );
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
        // Market orders alone do not trade; beside limit orders they take the most
        // aggressive limit of the call (a buy the highest: 6 here).
        let market = |id: &str, side, q| Order {
            limit: None,
            ..Order::limit(id, side, q, units(1))
        };
        let o = clear(&[market("x", Side::Buy, 1), market("y", Side::Sell, 1)]).unwrap();
        assert_eq!((o.volume, o.clearing_price), (0, None));
        let o = clear(&[
            Order::limit("s", Side::Sell, 2, units(4)),
            Order::limit("b", Side::Buy, 1, units(6)),
            market("m", Side::Buy, 1),
        ])
        .unwrap();
        assert_eq!((o.volume, o.clearing_price), (2, Some(units(5))));
    }

    #[test]
    fn the_residual_comes_back_in_submission_order() {
        let orders = vec![
            Order::limit("s1", Side::Sell, 4, units(5)),
            Order::limit("b1", Side::Buy, 3, units(8)),
            Order::limit("s2", Side::Sell, 2, units(9)),
        ];
        let (o, carry) = clear_carrying(orders.clone());
        assert_eq!(o.unwrap(), clear(&orders).unwrap());
        let left: Vec<_> = carry
            .iter()
            .map(|o| (o.agent_id.as_str(), o.quantity))
            .collect();
        assert_eq!(left, [("s1", 1), ("s2", 2)]);
        // Market orders alone do not trade: all of them come back.
        let alone = vec![Order {
            limit: None,
            ..Order::limit("x", Side::Buy, 1, units(1))
        }];
        let (o, carry) = clear_carrying(alone.clone());
        assert_eq!(o.unwrap().volume, 0);
        assert_eq!(carry, alone);
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
        /// Past 64 orders per side the radix sort takes over: same answers as the oracle.
        #[test]
        fn large_books_match_the_reference(spec in prop::collection::vec((any::<bool>(), 1u64..6, -5_000_000i64..5_000_000), 130..300)) {
            let orders: Vec<Order> = spec.iter().enumerate().map(|(i, &(buy, q, l))| {
                Order::limit(format!("t{i}"), if buy { Side::Buy } else { Side::Sell }, q, Money(l))
            }).collect();
            let o = clearing(&orders).unwrap();
            prop_assert_eq!((o.volume, o.price), reference::call(&orders));
            let mut keys: Vec<(u64, u32)> = spec.iter().enumerate().map(|(i, s)| (ordered(s.2), i as u32)).collect();
            let mut expected = keys.clone();
            expected.sort();
            radix_sort(&mut keys);
            prop_assert_eq!(keys, expected);
        }

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
            // What a live call hands back is exactly what did not fill, in submission order.
            let (again, carry) = clear_carrying(orders.clone());
            prop_assert_eq!(again.as_ref().ok(), Some(&o));
            let filled = clearing(&orders).unwrap().filled;
            let left: Vec<(String, u64)> = orders.iter().zip(&filled)
                .filter(|(x, f)| x.quantity > **f)
                .map(|(x, f)| (x.agent_id.clone(), x.quantity - f))
                .collect();
            let carried: Vec<(String, u64)> = carry.iter().map(|x| (x.agent_id.clone(), x.quantity)).collect();
            prop_assert_eq!(carried, left);
            prop_assert_eq!(o.efficiency, if o.volume > 0 { Some(1.0) } else { None });
        }

        /// Market orders clear as limit orders at the call's most aggressive limits.
        #[test]
        fn market_orders_clear_at_the_most_aggressive_limits(orders in orders(), market in prop::collection::vec(any::<bool>(), 14)) {
            let mixed: Vec<Order> = orders.iter().zip(&market).map(|(o, &m)| Order {
                limit: if m { None } else { o.limit },
                ..o.clone()
            }).collect();
            let o = clear(&mixed).unwrap();
            let bounds = market_limits(&mixed);
            let as_limits: Vec<Order> = mixed.iter().filter_map(|x| {
                limit_of(x, bounds).map(|l| Order { limit: Some(l), ..x.clone() })
            }).collect();
            prop_assert_eq!((o.volume, o.clearing_price), reference::call(&as_limits));
            for f in &o.fills {
                let order = mixed.iter().find(|x| x.agent_id == f.agent_id).unwrap();
                prop_assert!(f.quantity <= order.quantity);
                if let Some(l) = order.limit {
                    match f.side {
                        Side::Buy => prop_assert!(f.price <= l),
                        Side::Sell => prop_assert!(f.price >= l),
                    }
                }
            }
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
