//! Allocation of `available` units among requests: by priority or in proportion.
//!
//! `priority` serves requests highest priority first (earliest on ties), each in full while
//! stock lasts. `proportional` gives everyone its ask when demand fits; otherwise each gets
//! the floor of its exact share `available * asked / demand` (integer arithmetic) and the
//! units left go one each to the largest remainders (earliest on ties). So the sum never
//! exceeds `available`, equals it when demand exceeds it, and nobody gets more than it asked.

use crate::coord::error::CoordError;
use crate::coord::outcome::{Allocation, AllocationOutcome};
use crate::coord::request::{AllocationRequest, AllocationSpec, Strategy};

/// Allocates a validated request.
pub fn allocate(spec: &AllocationSpec) -> Result<AllocationOutcome, CoordError> {
    let shares = match spec.strategy {
        Strategy::Priority => priority(spec.available, &spec.requests),
        Strategy::Proportional => proportional(spec.available, &spec.requests),
    };
    let allocated: u64 = shares.iter().sum(); // <= available by construction
    Ok(AllocationOutcome {
        strategy: spec.strategy,
        allocations: spec
            .requests
            .iter()
            .zip(shares)
            .map(|(r, quantity)| Allocation {
                agent_id: r.agent_id.clone(),
                quantity,
            })
            .collect(),
        allocated,
        unallocated: spec.available - allocated,
    })
}

/// Shares (in request order) by priority.
pub fn priority(available: u64, requests: &[AllocationRequest]) -> Vec<u64> {
    let mut order: Vec<usize> = (0..requests.len()).collect();
    // Stable: equal priorities keep request order.
    order.sort_by(|&a, &b| {
        requests[b]
            .priority
            .unwrap_or(0)
            .cmp(&requests[a].priority.unwrap_or(0))
    });
    let mut shares = vec![0u64; requests.len()];
    let mut left = available;
    for i in order {
        let q = requests[i].quantity.min(left);
        shares[i] = q;
        left -= q;
    }
    shares
}

/// Shares (in request order) in proportion to the asks, rounded by largest remainder.
pub fn proportional(available: u64, requests: &[AllocationRequest]) -> Vec<u64> {
    let demand: u128 = requests.iter().map(|r| u128::from(r.quantity)).sum();
    if demand <= u128::from(available) {
        return requests.iter().map(|r| r.quantity).collect();
    }
    let avail = u128::from(available);
    let mut shares = Vec::with_capacity(requests.len());
    let mut remainders = Vec::with_capacity(requests.len());
    let mut given: u128 = 0;
    for (i, r) in requests.iter().enumerate() {
        let exact = avail * u128::from(r.quantity); // < 2^128: both factors < 2^64
        let floor = exact / demand;
        given += floor;
        shares.push(floor as u64); // floor < quantity, so it fits
        remainders.push((exact % demand, i));
    }
    let left = (avail - given) as usize; // < number of requests
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders.iter().take(left) {
        shares[i] += 1;
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reqs(spec: &[(u64, Option<i64>)]) -> Vec<AllocationRequest> {
        spec.iter()
            .enumerate()
            .map(|(i, &(quantity, priority))| AllocationRequest {
                agent_id: format!("a{i}"),
                quantity,
                priority,
            })
            .collect()
    }

    #[test]
    fn priority_is_a_real_ordering() {
        let r = reqs(&[(5, Some(1)), (4, Some(3)), (3, Some(3)), (9, None)]);
        assert_eq!(priority(10, &r), [3, 4, 3, 0]);
        assert_eq!(priority(100, &r), [5, 4, 3, 9]);
    }

    #[test]
    fn proportional_largest_remainder() {
        let r = reqs(&[(10, None), (10, None), (10, None)]);
        assert_eq!(proportional(10, &r), [4, 3, 3]);
        let r = reqs(&[(1, None), (1, None), (8, None)]);
        assert_eq!(proportional(5, &r), [1, 0, 4]);
        assert_eq!(proportional(0, &r), [0, 0, 0]);
        let r = reqs(&[(u64::MAX, None), (u64::MAX, None)]);
        assert_eq!(proportional(u64::MAX, &r), [u64::MAX / 2 + 1, u64::MAX / 2]);
    }

    proptest! {
        #[test]
        fn never_over_allocates_and_uses_everything_when_oversubscribed(asks in prop::collection::vec(1u64..50, 0..12), available in 0u64..200, prio in any::<bool>()) {
            let r = reqs(&asks.iter().map(|&q| (q, None)).collect::<Vec<_>>());
            let shares = if prio { priority(available, &r) } else { proportional(available, &r) };
            let demand: u64 = asks.iter().sum();
            prop_assert_eq!(shares.iter().sum::<u64>(), demand.min(available));
            for (s, q) in shares.iter().zip(&asks) {
                prop_assert!(s <= q);
                if !prio && demand > available {
                    // Within one unit of the exact share.
                    let exact = available as f64 * *q as f64 / demand as f64;
                    prop_assert!((*s as f64 - exact).abs() < 1.0);
                }
            }
        }

        /// Monotonicity: more stock never shrinks anyone's proportional share.
        #[test]
        fn more_stock_never_hurts(asks in prop::collection::vec(1u64..50, 1..8), available in 0u64..200) {
            let r = reqs(&asks.iter().map(|&q| (q, None)).collect::<Vec<_>>());
            let total: u64 = proportional(available, &r).iter().sum();
            let more: u64 = proportional(available + 1, &r).iter().sum();
            prop_assert!(more >= total);
        }
    }
}
