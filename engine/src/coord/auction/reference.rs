//! Brute-force oracles for the auction fast paths (test builds only).

use std::collections::BTreeMap;

use crate::coord::money::Money;
use crate::coord::request::Bid;

/// Sealed bid by sorting everything: (winner, price).
pub(crate) fn sealed(
    second: bool,
    reserve: Money,
    bids: &[Bid],
) -> (Option<String>, Option<Money>) {
    let mut eligible: Vec<&Bid> = bids.iter().filter(|b| b.amount >= reserve).collect();
    eligible.sort_by_key(|b| std::cmp::Reverse(b.amount));
    match eligible.first() {
        None => (None, None),
        Some(w) => {
            let price = if second {
                eligible.get(1).map_or(reserve, |s| s.amount.max(reserve))
            } else {
                w.amount
            };
            (Some(w.agent_id.clone()), Some(price))
        }
    }
}

/// The english clock stepped one round at a time: (winner, price, rounds).
pub(crate) fn english(
    start: Money,
    inc: Money,
    reserve: Money,
    max_rounds: Option<u64>,
    bids: &[Bid],
) -> (Option<String>, Option<Money>, u64) {
    let mut price = start;
    let mut rounds = 0u64;
    loop {
        if max_rounds.is_some_and(|m| rounds >= m) {
            break;
        }
        let next = Money(price.0 + inc.0);
        if bids.iter().filter(|b| b.amount >= next).count() < 2 {
            break;
        }
        price = next;
        rounds += 1;
    }
    let top = bids.iter().fold(None::<&Bid>, |best, b| match best {
        Some(x) if x.amount >= b.amount => Some(x),
        _ => Some(b),
    });
    let pay = price.max(reserve);
    match top {
        Some(w) if w.amount >= pay => (Some(w.agent_id.clone()), Some(pay), rounds),
        _ => (None, None, rounds),
    }
}

/// The dutch clock stepped one round at a time, the last step stopping at the floor:
/// (winner, price, rounds).
pub(crate) fn dutch(
    start: Money,
    dec: Money,
    reserve: Money,
    bids: &[Bid],
) -> (Option<String>, Option<Money>, u64) {
    let floor = reserve.max(Money::MICRO);
    let mut price = start;
    let mut rounds = 0u64;
    loop {
        if let Some(w) = bids
            .iter()
            .filter(|b| b.amount >= price)
            .fold(None::<&Bid>, |best, b| match best {
                Some(x) if x.amount >= b.amount => Some(x),
                _ => Some(b),
            })
        {
            return (Some(w.agent_id.clone()), Some(price), rounds);
        }
        if price <= floor {
            return (None, None, rounds);
        }
        // A step that would pass the floor stops at it.
        price = Money((price.0 - dec.0).max(floor.0));
        rounds += 1;
    }
}

/// Multi-unit by expanding every bid into single units: (units sold, revenue).
pub(crate) fn multi_unit(
    units: u64,
    discriminatory: bool,
    reserve: Money,
    bids: &[Bid],
) -> (u64, Money) {
    let mut all: Vec<Money> = Vec::new();
    for b in bids.iter().filter(|b| b.amount >= reserve) {
        for _ in 0..b.quantity.unwrap_or(1) {
            all.push(b.amount);
        }
    }
    all.sort_by(|a, b| b.cmp(a));
    all.truncate(units as usize);
    let sold = all.len() as u64;
    let revenue = if discriminatory {
        all.iter().map(|m| m.0).sum()
    } else {
        all.last().map_or(0, |p| p.0 * sold as i64)
    };
    (sold, Money(revenue))
}

/// Best packing by enumerating every subset of bids (XOR per agent), skipping `without`:
/// its value, and the accepted bids' indices (ascending) of the lexicographically smallest
/// allocation of that value. Quantities are summed in `u128`, so any supply is exact.
pub(crate) fn best_packing_set(
    items: &BTreeMap<String, u64>,
    bids: &[Bid],
    without: Option<&str>,
) -> (i128, Vec<usize>) {
    let n = bids.len();
    let mut best = (0i128, Vec::new());
    for mask in 0u32..(1u32 << n) {
        let mut used: BTreeMap<&str, u128> = BTreeMap::new();
        let mut agents: Vec<&str> = Vec::new();
        let mut value = 0i128;
        let mut set = Vec::new();
        let mut ok = true;
        for (i, b) in bids.iter().enumerate() {
            if mask & (1 << i) == 0 {
                continue;
            }
            if Some(b.agent_id.as_str()) == without || agents.contains(&b.agent_id.as_str()) {
                ok = false;
                break;
            }
            agents.push(&b.agent_id);
            for (k, q) in b.bundle.iter().flatten() {
                *used.entry(k.as_str()).or_default() += u128::from(*q);
            }
            value += i128::from(b.amount.0);
            set.push(i);
        }
        let fits = used
            .iter()
            .all(|(k, q)| items.get(*k).is_some_and(|s| *q <= u128::from(*s)));
        if ok && fits && (value > best.0 || (value == best.0 && set < best.1)) {
            best = (value, set);
        }
    }
    best
}

/// The value of [`best_packing_set`].
pub(crate) fn best_packing(
    items: &BTreeMap<String, u64>,
    bids: &[Bid],
    without: Option<&str>,
) -> i128 {
    best_packing_set(items, bids, without).0
}
