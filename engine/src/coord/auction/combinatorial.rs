//! Combinatorial auction: exact winner determination by branch and bound.
//!
//! Bids name bundles over items with integer supply; an agent may bid on several bundles
//! and wins at most one (XOR). The accepted set maximises the sum of accepted amounts with
//! no item over supply. A bundle that asks for more than the supply simply cannot win: it
//! never voids the auction.
//!
//! Search: bids sorted by amount (highest first, earliest on ties), depth-first, include
//! before exclude, on an explicit stack (no recursion, whatever the bid count). A node is
//! pruned when its upper bound is below the incumbent; the bound is the smaller of the
//! remaining amounts and a per-item bound (each item's remaining supply times the best
//! amount-per-unit among the remaining bids that use it), computed without overflow at any
//! supply. The incumbent starts from a greedy allocation by amount per unit (earliest
//! submission first on ties).
//!
//! Ties: among allocations of equal total, the one whose accepted bids' submission
//! indices, sorted ascending, are lexicographically smallest wins (x{A}=5, y{B}=5,
//! z{AB}=10: x and y win). The search applies it when it compares with the incumbent, and
//! never prunes a subtree that could tie, so an exact answer is the rule's answer.
//!
//! Work: one budget (`node_limit`) per clearing, shared by every search the clearing runs
//! (see [`clear_cancellable`]); past it the best allocation found is returned with
//! `optimal: false`. A [`Cancel`] flag stops the search from outside.

use std::collections::BTreeMap;

use crate::coord::error::CoordError;
use crate::coord::money::Money;
use crate::coord::outcome::{AuctionOutcome, BundleWinner, CombinatorialOutcome, ratio};
use crate::coord::request::{Bid, Payment};
use crate::coord::work::{CHECK_EVERY, Cancel};

/// A validated combinatorial auction: every bid has a non-empty bundle of offered items with
/// positive quantities, and a positive amount.
#[derive(Debug, Clone, Copy)]
pub struct CombinatorialAuction<'a> {
    /// Supply per item.
    pub items: &'a BTreeMap<String, u64>,
    /// Pay as bid or VCG.
    pub payment: Payment,
    /// The work budget of the whole clearing, shared by every search it runs (the winner
    /// determination, each VCG re-solve, the efficiency search): one unit per bid examined.
    /// Past it the best found is returned with `optimal: false`.
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
    /// Whether the search finished within its limit.
    pub(crate) optimal: bool,
    /// Work units spent: one per candidate bid for the start (candidate list, bound tables,
    /// greedy incumbent), then one per bid examined by the search.
    pub(crate) work: u64,
    /// Candidate bids the search started with (the cost of its start).
    pub(crate) candidates: u64,
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

    /// Maximises the sum of `values` over feasible sets of bids, skipping `excluded` agent,
    /// spending at most `limit` work units beyond its start (see [`Solution::work`]).
    /// Among sets of equal value the one whose sorted submission indices are
    /// lexicographically smallest wins. Reads `cancel` every [`CHECK_EVERY`] units.
    fn solve(
        &self,
        values: &[i64],
        excluded: Option<usize>,
        limit: u64,
        cancel: &Cancel,
    ) -> Result<Solution, CoordError> {
        cancel.check()?;
        let m = self.items;
        // Candidates: positive value, not excluded, bundle within supply on its own.
        let mut order: Vec<usize> = (0..values.len())
            .filter(|&b| values[b] > 0 && Some(self.agent[b]) != excluded)
            .filter(|&b| self.row(b).iter().zip(&self.supply).all(|(n, s)| n <= s))
            .collect();
        // Highest value first; the sort is stable, so the earliest first on ties.
        order.sort_by(|&a, &b| values[b].cmp(&values[a]));
        let n = order.len();
        let size: Vec<f64> = order
            .iter()
            .map(|&b| self.row(b).iter().map(|&q| q as f64).sum())
            .collect();
        // density[i*m + j]: best value per unit among order[i..] using item j.
        let mut density = vec![0f64; (n + 1) * m];
        // suffix[i]: sum of the values of order[i..]; at most n * i64::MAX < 2^127.
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
        let key = |set: &[usize]| -> Vec<usize> {
            let mut k: Vec<usize> = set.iter().map(|&i| order[i]).collect();
            k.sort_unstable();
            k
        };
        let mut caps = self.supply.clone();
        let mut used = vec![false; self.agents];
        let fits = |k: usize, caps: &[u64], used: &[bool]| {
            let b = order[k];
            !used[self.agent[b]] && self.row(b).iter().zip(caps).all(|(n, c)| n <= c)
        };
        // Incumbent: greedy by value per unit, the earliest submission first on ties.
        let (mut best, mut best_key) = {
            let mut by_density: Vec<usize> = (0..n).collect();
            by_density.sort_by(|&x, &y| {
                let (dx, dy) = (
                    values[order[x]] as f64 / size[x].max(1.0),
                    values[order[y]] as f64 / size[y].max(1.0),
                );
                dy.total_cmp(&dx).then(order[x].cmp(&order[y]))
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
            (v, key(&set))
        };
        // The start (candidates, bound tables, greedy) costs one unit per candidate.
        let start = n as u64;
        let mut work = 0u64;
        let mut next_check = CHECK_EVERY;
        let mut optimal = true;
        let mut value: i128 = 0;
        let mut chosen: Vec<usize> = Vec::new();
        // Frame: (position, state); state 0 = enter, 1 = after include, 2 = after exclude.
        let mut stack: Vec<(usize, u8)> = vec![(0, 0)];
        while let Some(frame) = stack.last_mut() {
            match frame.1 {
                0 => {
                    if value > best || (value == best && key(&chosen) < best_key) {
                        best = value;
                        best_key = key(&chosen);
                    }
                    let mut k = frame.0;
                    let from = k;
                    while k < n && !fits(k, &caps, &used) {
                        k += 1;
                    }
                    // One unit per bid examined (each a fit check against the supply left).
                    work = work.saturating_add((k - from) as u64 + 1);
                    if work > limit {
                        optimal = false;
                        break;
                    }
                    if work >= next_check {
                        cancel.check()?;
                        next_check = work.saturating_add(CHECK_EVERY);
                    }
                    if k == n {
                        stack.pop();
                        continue;
                    }
                    // Prune only below the incumbent: a subtree that can only tie may still
                    // hold an allocation that wins the tie.
                    if value + self.bound(&caps, &density[k * m..(k + 1) * m], suffix[k]) < best {
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
        Ok(Solution {
            value: best,
            chosen: best_key,
            optimal,
            work: start.saturating_add(work.min(limit)),
            candidates: start,
        })
    }

    /// An upper bound on the value the bids from one position on can still add: the
    /// smaller of their total (`suffix`) and the per-item bound (each item's remaining
    /// supply times the best value per unit among them). The per-item bound is computed in
    /// `f64` (supplies reach `u64::MAX`, so products reach 2^127) and only used when it is
    /// below `suffix`, where it converts to `i128` without saturating; rounding is covered
    /// by a relative margin and one micro-unit.
    fn bound(&self, caps: &[u64], density: &[f64], suffix: i128) -> i128 {
        let per_item: f64 = caps
            .iter()
            .zip(density)
            .map(|(&c, &d)| c as f64 * d)
            .sum::<f64>()
            * (1.0 + 1e-9);
        if per_item.is_finite() && per_item < suffix as f64 {
            // per_item < suffix < 2^127: the cast is exact to the margin and cannot saturate.
            (per_item.ceil() as i128).saturating_add(1).min(suffix)
        } else {
            suffix
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
    p.solve(&amounts, None, auction.node_limit, &Cancel::new())
}

/// Clears a combinatorial auction (never cancelled; the work budget still applies).
pub fn clear(auction: &CombinatorialAuction<'_>) -> Result<AuctionOutcome, CoordError> {
    clear_cancellable(auction, &Cancel::new())
}

/// Clears a combinatorial auction within one work budget (`node_limit`) shared by every
/// search it runs, stopping with [`CoordError::Cancelled`] once `cancel` is set.
///
/// The budget: the winner determination may spend all of it (half when VCG re-solves or
/// the efficiency search follow); each later search gets an equal share of what is left
/// (what one leaves goes to the next). A search always finishes its greedy start; a later
/// search whose share cannot pay for its start (one unit per candidate bid) is not run.
/// Then the VCG payment of that winner uses the best allocation found without it, which is
/// the chosen allocation less that winner: it pays 0, and `payments_approximate` is set.
/// Approximate VCG payments are never above the exact ones.
pub fn clear_cancellable(
    auction: &CombinatorialAuction<'_>,
    cancel: &Cancel,
) -> Result<AuctionOutcome, CoordError> {
    let p = Problem::new(auction)?;
    let amounts: Vec<i64> = auction.bids.iter().map(|b| b.amount.micros()).collect();
    let vcg = matches!(auction.payment, Payment::Vcg);
    let by_value = auction.bids.iter().any(|b| b.true_value.is_some());
    let budget = auction.node_limit;
    let main_limit = if vcg || by_value { budget / 2 } else { budget };
    let main = p.solve(&amounts, None, main_limit, cancel)?;
    let mut optimal = main.optimal;
    let mut spent = main.work;
    let mut solves_left = if vcg { main.chosen.len() } else { 0 } + usize::from(by_value);
    // The share of what is left for the next search.
    let next_share = |spent: u64, solves_left: &mut usize| {
        let share = budget.saturating_sub(spent) / (*solves_left).max(1) as u64;
        *solves_left = solves_left.saturating_sub(1);
        share
    };
    let mut payments_approximate = false;
    let mut winners = Vec::with_capacity(main.chosen.len());
    let mut revenue = Money::ZERO;
    for &b in &main.chosen {
        let bid = &auction.bids[b];
        let price = match auction.payment {
            Payment::PayAsBid => bid.amount,
            Payment::Vcg => {
                // Clarke pivot: the others' best welfare without this agent, minus the
                // others' welfare in the chosen allocation.
                let others = main.value - i128::from(bid.amount.micros());
                let share = next_share(spent, &mut solves_left);
                // The chosen allocation less this winner is feasible without it.
                let without = if share >= main.candidates {
                    let s = p.solve(&amounts, Some(p.agent[b]), share - main.candidates, cancel)?;
                    spent = spent.saturating_add(s.work);
                    payments_approximate |= !s.optimal;
                    s.value.max(others)
                } else {
                    payments_approximate = true;
                    others
                };
                let pay = (without - others).clamp(0, i128::from(bid.amount.micros()));
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
    optimal &= !payments_approximate;
    let realised: i128 = main
        .chosen
        .iter()
        .map(|&b| i128::from(auction.bids[b].value().micros()))
        .sum();
    let best = if by_value {
        let values: Vec<i64> = auction.bids.iter().map(|b| b.value().micros()).collect();
        let share = next_share(spent, &mut solves_left);
        let start = auction.bids.len() as u64;
        if share >= start {
            let s = p.solve(&values, None, share - start, cancel)?;
            spent = spent.saturating_add(s.work);
            optimal &= s.optimal;
            s.value.max(realised)
        } else {
            optimal = false;
            realised
        }
    } else {
        main.value
    };
    Ok(AuctionOutcome::Combinatorial(CombinatorialOutcome {
        winners,
        revenue,
        optimal,
        payments_approximate,
        payment: auction.payment,
        nodes: spent,
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

    #[test]
    fn equal_totals_go_to_the_earliest_submissions() {
        let items = bundle(&[("A", 1), ("B", 1)]);
        // x{A}=5, y{B}=5, z{AB}=10: {x, y} = [0, 1] is smaller than {z} = [2].
        let bids = [
            bid("x", 5, &[("A", 1)]),
            bid("y", 5, &[("B", 1)]),
            bid("z", 10, &[("A", 1), ("B", 1)]),
        ];
        for limit in [1_000_000, 0] {
            let o = run(&items, Payment::PayAsBid, limit, &bids);
            let ids: Vec<_> = o.winners.iter().map(|w| w.agent_id.as_str()).collect();
            assert_eq!(ids, ["x", "y"], "limit {limit}");
        }
        // Submitted first, z wins: [0] is smaller than [1, 2].
        let bids = [bids[2].clone(), bids[0].clone(), bids[1].clone()];
        let o = run(&items, Payment::PayAsBid, 1_000_000, &bids);
        let ids: Vec<_> = o.winners.iter().map(|w| w.agent_id.as_str()).collect();
        assert_eq!(ids, ["z"]);
    }

    #[test]
    fn a_supply_near_u64_max_does_not_prune_the_optimum() {
        // The per-item bound of the root is about u64::MAX * amount: it must not wrap.
        let items = bundle(&[("a", u64::MAX), ("b", u64::MAX)]);
        let big = |agent: &str, micros: i64, spec: &[(&str, u64)]| Bid {
            bundle: Some(bundle(spec)),
            ..Bid::new(agent, Money(micros))
        };
        let bids = [
            big("g", 1, &[("a", u64::MAX), ("b", u64::MAX)]),
            big("p", i64::MAX, &[("a", 1)]),
            big("q", i64::MAX, &[("b", 1)]),
        ];
        let a = CombinatorialAuction {
            items: &items,
            payment: Payment::PayAsBid,
            node_limit: 1_000_000,
            bids: &bids,
        };
        let wd = winner_determination(&a).unwrap();
        assert!(wd.optimal);
        assert_eq!(wd.chosen, [1, 2]);
        assert_eq!(wd.value, 2 * i128::from(i64::MAX));
    }

    #[test]
    fn cancel_stops_a_long_search() {
        // 400 single-item bids of nearly equal value on 40 items of supply 5: a search far
        // longer than the test.
        let names: Vec<String> = (0..40).map(|i| format!("i{i}")).collect();
        let items: BTreeMap<String, u64> = names.iter().map(|n| (n.clone(), 5)).collect();
        let bids: Vec<Bid> = (0..400)
            .map(|k| {
                let spec = [
                    (names[k % 40].as_str(), 1 + (k as u64 % 3)),
                    (names[(k * 7 + 3) % 40].as_str(), 1),
                ];
                bid(&format!("g{k}"), 100 + (k as i64 % 7), &spec)
            })
            .collect();
        let a = CombinatorialAuction {
            items: &items,
            payment: Payment::Vcg,
            node_limit: u64::MAX,
            bids: &bids,
        };
        let cancel = Cancel::new();
        cancel.cancel();
        assert!(matches!(
            clear_cancellable(&a, &cancel),
            Err(CoordError::Cancelled)
        ));
        let cancel = std::sync::Arc::new(Cancel::new());
        let setter = std::sync::Arc::clone(&cancel);
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            setter.cancel();
        });
        let started = std::time::Instant::now();
        let res = clear_cancellable(&a, &cancel);
        t.join().unwrap();
        assert!(matches!(res, Err(CoordError::Cancelled)), "{res:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn one_budget_for_the_clearing_and_its_vcg_re_solves() {
        let names: Vec<String> = (0..16).map(|i| format!("i{i}")).collect();
        let items: BTreeMap<String, u64> = names.iter().map(|n| (n.clone(), 3)).collect();
        let bids: Vec<Bid> = (0..120)
            .map(|k| {
                let spec = [
                    (names[k % 16].as_str(), 1),
                    (names[(k * 5 + 1) % 16].as_str(), 1),
                ];
                bid(&format!("g{k}"), 10 + (k as i64 * 37 % 11), &spec)
            })
            .collect();
        let budget = 2_000;
        let o = run(&items, Payment::Vcg, budget, &bids);
        assert!(o.nodes <= budget, "{} units spent of {budget}", o.nodes);
        assert!(!o.optimal && o.payments_approximate);
        // A budget the whole clearing fits in: exact.
        let small = &bids[..12];
        let exact = run(&items, Payment::Vcg, 1_000_000, small);
        assert!(exact.optimal && !exact.payments_approximate);
        assert!(exact.nodes <= 1_000_000);
        let pay = run(&items, Payment::PayAsBid, 10, &bids);
        assert!(!pay.payments_approximate);
    }

    /// Three items with `supply`, and one bid per `(agent, amount, need)`: a bundle of the
    /// items needed (at least one unit of the first when it needs none).
    fn packing(
        supply: Vec<u64>,
        raw: Vec<(usize, Money, Vec<u64>)>,
    ) -> (BTreeMap<String, u64>, Vec<Bid>) {
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
                let spec: BTreeMap<String, u64> = names
                    .iter()
                    .zip(&need)
                    .filter(|(_, q)| **q > 0)
                    .map(|(n, q)| (n.to_string(), *q))
                    .collect();
                Bid {
                    bundle: Some(spec),
                    ..Bid::new(format!("g{agent}"), amount)
                }
            })
            .collect();
        (items, bids)
    }

    fn instance_with(
        amounts: impl Strategy<Value = i64>,
    ) -> impl Strategy<Value = (BTreeMap<String, u64>, Vec<Bid>)> {
        let supply = prop::collection::vec(1u64..3, 3);
        let amount = amounts.prop_map(|units| Money::from_units(units).unwrap());
        let bids =
            prop::collection::vec((0usize..4, amount, prop::collection::vec(0u64..3, 3)), 0..9);
        (supply, bids).prop_map(|(supply, raw)| packing(supply, raw))
    }

    fn instance() -> impl Strategy<Value = (BTreeMap<String, u64>, Vec<Bid>)> {
        instance_with(1i64..20)
    }

    /// Supplies, quantities and amounts at the ends of their ranges.
    fn extreme_instance() -> impl Strategy<Value = (BTreeMap<String, u64>, Vec<Bid>)> {
        let big_u64 = prop_oneof![
            Just(u64::MAX),
            Just(u64::MAX - 1),
            Just(u64::MAX / 2),
            Just(1u64 << 53),
            1u64..4,
        ];
        let quantity = prop_oneof![
            Just(0u64),
            Just(1),
            Just(u64::MAX / 2),
            Just(u64::MAX),
            0u64..3
        ];
        let amount = prop_oneof![
            Just(i64::MAX),
            Just(i64::MAX - 1),
            Just(i64::MAX / 3),
            1i64..1_000
        ];
        let supply = prop::collection::vec(big_u64, 3);
        let bids = prop::collection::vec(
            (
                0usize..4,
                amount.prop_map(Money),
                prop::collection::vec(quantity, 3),
            ),
            0..9,
        );
        (supply, bids).prop_map(|(supply, raw)| packing(supply, raw))
    }

    proptest! {
        #[test]
        fn ties_follow_the_rule_in_search_and_greedy((items, bids) in instance_with(1i64..4)) {
            let a = CombinatorialAuction { items: &items, payment: Payment::PayAsBid, node_limit: 1_000_000, bids: &bids };
            let wd = winner_determination(&a).unwrap();
            prop_assert!(wd.optimal);
            prop_assert_eq!((wd.value, wd.chosen), reference::best_packing_set(&items, &bids, None));
        }

        #[test]
        fn extreme_supplies_and_amounts_match_the_reference((items, bids) in extreme_instance()) {
            let a = CombinatorialAuction { items: &items, payment: Payment::PayAsBid, node_limit: 1_000_000, bids: &bids };
            let wd = winner_determination(&a).unwrap();
            prop_assert!(wd.optimal);
            prop_assert_eq!((wd.value, wd.chosen), reference::best_packing_set(&items, &bids, None));
        }

        #[test]
        fn a_small_budget_gives_feasible_winners_and_payments_never_above_vcg(
            (items, bids) in instance(),
            budget in 0u64..60,
        ) {
            let o = run(&items, Payment::Vcg, budget, &bids);
            prop_assert!(o.nodes <= budget.max(bids.len() as u64 + budget / 2));
            let (best, _) = reference::best_packing_set(&items, &bids, None);
            let value: i128 = o.winners.iter().map(|w| {
                bids.iter().filter(|b| b.agent_id == w.agent_id && b.bundle.as_ref() == Some(&w.bundle)).map(|b| i128::from(b.amount.micros())).max().unwrap()
            }).sum();
            prop_assert!(value <= best);
            prop_assert!(!o.optimal || value == best);
            for w in &o.winners {
                let own: i128 = bids.iter().filter(|b| b.agent_id == w.agent_id && b.bundle.as_ref() == Some(&w.bundle)).map(|b| i128::from(b.amount.micros())).max().unwrap();
                let exact = (reference::best_packing(&items, &bids, Some(&w.agent_id)) - (value - own)).clamp(0, own);
                prop_assert!(i128::from(w.price.micros()) <= exact);
                if !o.payments_approximate {
                    prop_assert_eq!(i128::from(w.price.micros()), exact);
                }
            }
        }

        #[test]
        fn revenue_is_optimal_and_feasible((items, bids) in instance(), vcg in any::<bool>()) {
            let payment = if vcg { Payment::Vcg } else { Payment::PayAsBid };
            let o = run(&items, payment, 1_000_000, &bids);
            prop_assert!(o.optimal);
            let a = CombinatorialAuction { items: &items, payment, node_limit: 1_000_000, bids: &bids };
            let wd = winner_determination(&a).unwrap();
            prop_assert_eq!((wd.value, wd.chosen), reference::best_packing_set(&items, &bids, None));
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
