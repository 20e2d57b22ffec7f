//! Brute-force oracle for the call market (test builds only).

use crate::coord::money::Money;
use crate::coord::request::{Order, Side};

/// Volume and price by scanning every limit as a candidate price with naive demand and
/// supply sums: (volume, midpoint of the prices that clear the largest volume).
pub(crate) fn call(orders: &[Order]) -> (u64, Option<Money>) {
    let traded = |p: Money| {
        let demand: u64 = orders
            .iter()
            .filter(|o| o.side == Side::Buy && o.limit.unwrap() >= p)
            .map(|o| o.quantity)
            .sum();
        let supply: u64 = orders
            .iter()
            .filter(|o| o.side == Side::Sell && o.limit.unwrap() <= p)
            .map(|o| o.quantity)
            .sum();
        demand.min(supply)
    };
    let candidates: Vec<Money> = orders.iter().map(|o| o.limit.unwrap()).collect();
    let volume = candidates.iter().map(|&p| traded(p)).max().unwrap_or(0);
    if volume == 0 {
        return (0, None);
    }
    let clearing: Vec<Money> = candidates
        .into_iter()
        .filter(|&p| traded(p) == volume)
        .collect();
    let lo = *clearing.iter().min().unwrap();
    let hi = *clearing.iter().max().unwrap();
    (volume, Some(lo.midpoint_floor(hi)))
}
