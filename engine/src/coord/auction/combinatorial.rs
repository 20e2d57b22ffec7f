//! Combinatorial auction: exact winner determination by branch and bound.
//!
//! Bids name bundles over items with integer supply; an agent may bid on several bundles
//! and wins at most one (XOR). The accepted set maximises the sum of accepted amounts with
//! no item over supply. A bundle that asks for more than the supply simply cannot win: it
//! never voids the auction.
//!
//! Search: bids sorted by amount (highest first, earliest on ties), depth-first, include
//! before exclude, on an explicit stack (no recursion, whatever the bid count). A node is
//! pruned when its upper bound cannot beat the incumbent; the bound is the smaller of the
//! remaining amounts and a per-item bound (each item's remaining supply times the best
//! amount-per-unit among the remaining bids that use it). The incumbent starts from a
//! greedy allocation by amount per unit. Past `node_limit` nodes the best allocation found
//! is returned with `optimal: false`. Among allocations of equal revenue the first found in
//! this fixed order wins, so the result is deterministic.

use std::collections::BTreeMap;

use crate::coord::error::CoordError;
use crate::coord::money::Money;
use crate::coord::outcome::{AuctionOutcome, BundleWinner, CombinatorialOutcome, ratio};
use crate::coord::request::{Bid, Payment};

/// A validated combinatorial auction: every bid has a non-empty bundle of offered items with
/// positive quantities, and a positive amount.
#[derive(Debug, Clone, Copy)]
pub struct CombinatorialAuction<'a> {
    /// Supply per item.
    pub items: &'a BTreeMap<String, u64>,
    /// Pay as bid or VCG.
    pub payment: Payment,
    /// Most search nodes per winner determination before falling back to the best found.
    pub node_limit: u64,
    /// Bids in submission order.
    pub bids: &'a [Bid],
}

/// The winner-determination problem in index form.
struct Problem {
    items: usize,
    supply: Vec<u64>,
    /// Per bid: agent index, and need per item (row-major, `items` wide).
    agent: Vec<usize>,
    need: Vec<u64>,
    agents: usize,
}

/// A solved winner determination.
#[derive(Debug, Clone)]
pub(crate) struct Solution {
    /// Sum of the values of the chosen bids.
    pub(crate) value: i128,
    /// Chosen bid indices (submission order).
    pub(crate) chosen: Vec<usize>,
    /// Whether the search finished within the node limit.
    pub(crate) optimal: bool,
    /// Nodes explored.
    pub(crate) nodes: u64,
}

impl Problem {
    fn new(auction: &CombinatorialAuction<'_>) -> Result<Problem, CoordError> {
        let names: Vec<&String> = auction.items.keys().collect();
        let items = names.len();
        let supply = auction.items.values().copied().collect();
        let mut agent_ids: BTreeMap<&str, usize> = BTreeMap::new();
        let mut agent = Vec::with_capacity(auction.bids.len());
        let mut need = vec![0u64; auction.bids.len() * items];
        for (b, bid) in auction.bids.iter().enumerate() {
            let next = agent_ids.len();
            agent.push(*agent_ids.entry(bid.agent_id.as_str()).or_insert(next));
            for (item, &q) in bid.bundle.iter().flatten() {
                let j = names
                    .binary_search(&item)
                    .map_err(|_| CoordError::UnknownItem {
                        field: format!("auction.bids[{b}].bundle.{item}"),
                        item: item.clone(),
                    })?;
                need[b * items + j] = q;
            }
        }
        Ok(Problem {
            items,
            supply,
            agent,
            need,
            agents: agent_ids.len(),
        })
    }

    fn row(&self, b: usize) -> &[u64] {
        &self.need[b * self.items..(b + 1) * self.items]
    }

    /// Maximises the sum of `values` over feasible sets of bids, skipping `excluded` agent.
    fn solve(&self, values: &[i64], excluded: Option<usize>, node_limit: u64) -> Solution {
        let m = self.items;
        // Candidates: positive value, not excluded, bundle within supply on its own.
        let mut order: Vec<usize> = (0..values.len())
            .filter(|&b| values[b] > 0 && Some(self.agent[b]) != excluded)
            .filter(|&b| self.row(b).iter().zip(&self.supply).all(|(n, s)| n <= s))
            .collect();
        order.sort_by(|&a, &b| values[b].cmp(&values[a]));
        let n = order.len();
        let size: Vec<f64> = order
            .iter()
            .map(|&b| self.row(b).iter().map(|&q| q as f64).sum())
            .collect();
        // density[i*m + j]: best value per unit among order[i..] using item j.
        let mut density = vec![0f64; (n + 1) * m];
        let mut suffix = vec![0i128; n + 1];
        for i in (0..n).rev() {
            let b = order[i];
            suffix[i] = suffix[i + 1] + i128::from(values[b]);
            let d = values[b] as f64 / size[i].max(1.0);
            for j in 0..m {
                let below = density[(i + 1) * m + j];
                density[i * m + j] = if self.row(b)[j] > 0 {
                    below.max(d)
                } else {
                    below
                };
            }
        }
        let mut caps = self.supply.clone();
        let mut used = vec![false; self.agents];
        let fits = |k: usize, caps: &[u64], used: &[bool]| {
            let b = order[k];
            !used[self.agent[b]] && self.row(b).iter().zip(caps).all(|(n, c)| n <= c)
        };
        // Incumbent: greedy by value per unit.
        let (mut best, mut best_set) = {
            let mut by_density: Vec<usize> = (0..n).collect();
            by_density.sort_by(|&x, &y| {
                let (dx, dy) = (
                    values[order[x]] as f64 / size[x].max(1.0),
                    values[order[y]] as f64 / size[y].max(1.0),
                );
                dy.total_cmp(&dx)
            });
            let (mut c, mut u, mut v, mut set) = (caps.clone(), used.clone(), 0i128, Vec::new());
            for k in by_density {
                if fits(k, &c, &u) {
                    let b = order[k];
                    self.row(b)
                        .iter()
                        .zip(c.iter_mut())
                        .for_each(|(q, cap)| *cap -= q);
                    u[self.agent[b]] = true;
                    v += i128::from(values[b]);
                    set.push(k);
                }
            }
            (v, set)
        };
        let mut nodes = 0u64;
        let mut optimal = true;
        let mut value: i128 = 0;
        let mut chosen: Vec<usize> = Vec::new();
        // Frame: (position, state); state 0 = enter, 1 = after include, 2 = after exclude.
        let mut stack: Vec<(usize, u8)> = vec![(0, 0)];
        while let Some(frame) = stack.last_mut() {
            match frame.1 {
                0 => {
                    nodes += 1;
                    if nodes > node_limit {
                        optimal = false;
                        break;
                    }
                    if value > best {
                        best = value;
                        best_set.clone_from(&chosen);
                    }
                    let mut k = frame.0;
                    while k < n && !fits(k, &caps, &used) {
                        k += 1;
                    }
                    if k == n {
                        stack.pop();
                        continue;
                    }
                    let per_item: f64 = (0..m).map(|j| caps[j] as f64 * density[k * m + j]).sum();
                    let per_item = (per_item * (1.0 + 1e-9)).ceil() as i128 + 1;
                    if value + suffix[k].min(per_item) <= best {
                        stack.pop();
                        continue;
                    }
                    *frame = (k, 1);
                    let b = order[k];
                    self.row(b)
                        .iter()
                        .zip(caps.iter_mut())
                        .for_each(|(q, cap)| *cap -= q);
                    used[self.agent[b]] = true;
                    value += i128::from(values[b]);
                    chosen.push(k);
                    stack.push((k + 1, 0));
                }
                1 => {
                    let k = frame.0;
                    frame.1 = 2;
                    let b = order[k];
                    self.row(b)
                        .iter()
                        .zip(caps.iter_mut())
                        .for_each(|(q, cap)| *cap += q);
                    used[self.agent[b]] = false;
                    value -= i128::from(values[b]);
                    chosen.pop();
                    stack.push((k + 1, 0));
                }
                _ => {
                    stack.pop();
                }
            }
        }
        let mut chosen: Vec<usize> = best_set.iter().map(|&k| order[k]).collect();
        chosen.sort_unstable();
        Solution {
            value: best,
            chosen,
            optimal,
            nodes: nodes.min(node_limit),
        }
    }
}

/// Solves winner determination on the bid amounts (for tests).
#[cfg(test)]
pub(crate) fn winner_determination(
    auction: &CombinatorialAuction<'_>,
) -> Result<Solution, CoordError> {
    let p = Problem::new(auction)?;
    let amounts: Vec<i64> = auction.bids.iter().map(|b| b.amount.micros()).collect();
    Ok(p.solve(&amounts, None, auction.node_limit))
}

/// Clears a combinatorial auction.
pub fn clear(auction: &CombinatorialAuction<'_>) -> Result<AuctionOutcome, CoordError> {
    let p = Problem::new(auction)?;
    let amounts: Vec<i64> = auction.bids.iter().map(|b| b.amount.micros()).collect();
    let main = p.solve(&amounts, None, auction.node_limit);
    let mut optimal = main.optimal;
    let mut nodes = main.nodes;
    let mut winners = Vec::with_capacity(main.chosen.len());
    let mut revenue = Money::ZERO;
    for &b in &main.chosen {
        let bid = &auction.bids[b];
        let price = match auction.payment {
            Payment::PayAsBid => bid.amount,
            Payment::Vcg => {
                // Clarke pivot: the others' best welfare without this agent, minus the
                // others' welfare in the chosen allocation.
                let without = p.solve(&amounts, Some(p.agent[b]), auction.node_limit);
                optimal &= without.optimal;
                nodes = nodes.saturating_add(without.nodes);
                let others = main.value - i128::from(bid.amount.micros());
                let pay = (without.value - others).clamp(0, i128::from(bid.amount.micros()));
                Money::from_i128(pay).ok_or(CoordError::overflow("vcg payment"))?
            }
        };
        revenue = revenue
            .checked_add(price)
            .ok_or(CoordError::overflow("combinatorial revenue"))?;
        winners.push(BundleWinner {
            agent_id: bid.agent_id.clone(),
            bundle: bid.bundle.clone().unwrap_or_default(),
            price,
        });
    }
    let realised: i128 = main
        .chosen
        .iter()
        .map(|&b| i128::from(auction.bids[b].value().micros()))
        .sum();
    let best = if auction.bids.iter().any(|b| b.true_value.is_some()) {
        let values: Vec<i64> = auction.bids.iter().map(|b| b.value().micros()).collect();
        let by_value = p.solve(&values, None, auction.node_limit);
        optimal &= by_value.optimal;
        nodes = nodes.saturating_add(by_value.nodes);
        by_value.value.max(realised)
    } else {
        main.value
    };
    Ok(AuctionOutcome::Combinatorial(CombinatorialOutcome {
        winners,
        revenue,
        optimal,
        payment: auction.payment,
        nodes,
        efficiency: ratio(realised, best),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coord::auction::reference;
    use proptest::prelude::*;

    fn bundle(spec: &[(&str, u64)]) -> BTreeMap<String, u64> {
        spec.iter().map(|&(k, v)| (k.to_string(), v)).collect()
    }

    fn bid(agent: &str, amount: i64, spec: &[(&str, u64)]) -> Bid {
        Bid {
            bundle: Some(bundle(spec)),
            ..Bid::new(agent, Money::from_units(amount).unwrap())
        }
    }

    fn run(
        items: &BTreeMap<String, u64>,
        payment: Payment,
        limit: u64,
        bids: &[Bid],
    ) -> CombinatorialOutcome {
        let a = CombinatorialAuction {
            items,
            payment,
            node_limit: limit,
            bids,
        };
        match clear(&a).unwrap() {
            AuctionOutcome::Combinatorial(c) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn picks_the_best_packing_and_ignores_an_infeasible_bundle() {
        let items = bundle(&[("cpu", 2), ("gpu", 1)]);
        let bids = [
            bid("a", 10, &[("cpu", 1), ("gpu", 1)]),
            bid("b", 6, &[("cpu", 1)]),
            bid("c", 7, &[("cpu", 1)]),
            bid("d", 100, &[("cpu", 3)]), // asks for more than the supply: cannot win
            bid("e", 12, &[("gpu", 1)]),
        ];
        let o = run(&items, Payment::PayAsBid, 10_000, &bids);
        let ids: Vec<_> = o.winners.iter().map(|w| w.agent_id.as_str()).collect();
        assert_eq!(ids, ["b", "c", "e"]);
        assert_eq!(o.revenue, Money::from_units(25).unwrap());
        assert!(o.optimal);
    }

    #[test]
    fn efficiency_against_the_best_allocation_at_true_values() {
        let items = bundle(&[("x", 1)]);
        let mut bids = [bid("a", 10, &[("x", 1)]), bid("b", 9, &[("x", 1)])];
        bids[1].true_value = Some(Money::from_units(40).unwrap());
        let o = run(&items, Payment::PayAsBid, 10_000, &bids);
        assert_eq!(o.winners[0].agent_id, "a");
        assert_eq!(o.efficiency, Some(0.25));
    }

    #[test]
    fn vcg_charges_the_externality() {
        let items = bundle(&[("x", 1), ("y", 1)]);
        let bids = [
            bid("a", 10, &[("x", 1), ("y", 1)]),
            bid("b", 6, &[("x", 1)]),
            bid("c", 5, &[("y", 1)]),
        ];
        let o = run(&items, Payment::Vcg, 10_000, &bids);
        let pays: Vec<_> = o
            .winners
            .iter()
            .map(|w| (w.agent_id.as_str(), w.price))
            .collect();
        // b and c win 11 together; without b, a would win 10 -> b pays 10 - 5 = 5; c pays 10 - 6 = 4.
        assert_eq!(
            pays,
            [
                ("b", Money::from_units(5).unwrap()),
                ("c", Money::from_units(4).unwrap())
            ]
        );
    }

    #[test]
    fn xor_one_bundle_per_agent_and_node_limit_reports_approximation() {
        let items = bundle(&[("x", 2)]);
        let bids = [
            bid("a", 5, &[("x", 1)]),
            bid("a", 4, &[("x", 1)]),
            bid("b", 3, &[("x", 1)]),
        ];
        let o = run(&items, Payment::PayAsBid, 10_000, &bids);
        assert_eq!(o.revenue, Money::from_units(8).unwrap());
        let o = run(&items, Payment::PayAsBid, 1, &bids);
        assert!(!o.optimal);
        assert_eq!(
            o.revenue,
            Money::from_units(8).unwrap(),
            "the greedy incumbent still stands"
        );
    }

    fn instance() -> impl Strategy<Value = (BTreeMap<String, u64>, Vec<Bid>)> {
        let supply = prop::collection::vec(1u64..3, 3);
        let bids = prop::collection::vec(
            (0usize..4, 1i64..20, prop::collection::vec(0u64..3, 3)),
            0..9,
        );
        (supply, bids).prop_map(|(supply, raw)| {
            let names = ["i0", "i1", "i2"];
            let items = names
                .iter()
                .zip(&supply)
                .map(|(n, &s)| (n.to_string(), s))
                .collect();
            let bids = raw
                .into_iter()
                .map(|(agent, amount, mut need)| {
                    if need.iter().all(|&q| q == 0) {
                        need[0] = 1;
                    }
                    let spec: Vec<(&str, u64)> = names
                        .iter()
                        .zip(&need)
                        .filter(|(_, q)| **q > 0)
                        .map(|(n, q)| (*n, *q))
                        .collect();
                    bid(&format!("g{agent}"), amount, &spec)
                })
                .collect();
            (items, bids)
        })
    }

    proptest! {
        #[test]
        fn revenue_is_optimal_and_feasible((items, bids) in instance(), vcg in any::<bool>()) {
            let payment = if vcg { Payment::Vcg } else { Payment::PayAsBid };
            let o = run(&items, payment, 1_000_000, &bids);
            prop_assert!(o.optimal);
            let a = CombinatorialAuction { items: &items, payment, node_limit: 1_000_000, bids: &bids };
            let wd = winner_determination(&a).unwrap();
            prop_assert_eq!(wd.value, reference::best_packing(&items, &bids, None));
            // Feasible: no item over supply, one bundle per agent.
            let mut used: BTreeMap<&str, u64> = BTreeMap::new();
            for w in &o.winners {
                for (k, q) in &w.bundle { *used.entry(k.as_str()).or_default() += q; }
                prop_assert!(w.price <= bids.iter().filter(|b| b.agent_id == w.agent_id).map(|b| b.amount).max().unwrap());
            }
            for (k, q) in used { prop_assert!(q <= items[k]); }
            let mut agents: Vec<_> = o.winners.iter().map(|w| &w.agent_id).collect();
            agents.dedup();
            prop_assert_eq!(agents.len(), o.winners.len());
            if vcg {
                for w in &o.winners {
                    let without = reference::best_packing(&items, &bids, Some(&w.agent_id));
                    let own: i128 = bids.iter().filter(|b| b.agent_id == w.agent_id && b.bundle.as_ref() == Some(&w.bundle)).map(|b| i128::from(b.amount.micros())).max().unwrap();
                    prop_assert_eq!(i128::from(w.price.micros()), without - (wd.value - own));
                }
            }
        }
    }
}
