//! Coordination clearing benchmarks, each beside a naive baseline in the same run.
//!
//! - `sealed/*`: second-price `sealed::clear` vs a bare pass over the bids (sum and max) and
//!   a sort-everything sealed bid. Goal: 100 bids within 5x the bare pass.
//! - `call_market/*`: the exact O(n log n) call auction vs a 101-point price-grid scan.
//!   Goal: >= 10x faster at 10k orders (`exact_clearing`: price, volume and per-order fills;
//!   `exact_outcome` adds the JSON-ready fills list, ids copied inline). The grid is also inexact: with limits 6.03 (sell) and
//!   6.08 (buy) no grid point over [0, 10] clears anything, while the exact clearing trades
//!   at 6.055 (see `market::call` test `exact_where_a_price_grid_is_not`).
//! - `combinatorial/*`: branch and bound at 20 items and 200 bids vs a greedy by amount per
//!   unit (fast, not optimal).
//! - `batch/*`: 10,000 sealed auctions cleared serially vs on a 2-thread `ClearingPool`.
//!   Goal: >= 1.6x on 2 cores.
//!
//! Inputs are built outside the timed loop. Quote ratios, not times: the machine is shared.
//! Run: `cargo bench --bench coord -- --warm-up-time 1 --measurement-time 3`.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mabeam_engine::coord::auction::combinatorial::{self, CombinatorialAuction};
use mabeam_engine::coord::auction::sealed::{self, SealedAuction, SealedPricing};
use mabeam_engine::coord::market::call;
use mabeam_engine::coord::{
    AuctionOutcome, AuctionSpec, AuctionType, Bid, ClearingPool, CoordinationRequest, Limits,
    Money, Order, Payment, Side, clear_serial,
};

/// A small deterministic generator (inputs only; no timing depends on it).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn bids(n: usize, seed: u64) -> Vec<Bid> {
    let mut r = Lcg(seed);
    (0..n)
        .map(|i| {
            Bid::new(
                format!("agent-{i}"),
                Money(1 + r.below(1_000_000_000) as i64),
            )
        })
        .collect()
}

fn bare_pass(bids: &[Bid]) -> (i64, i64) {
    let mut sum = 0i64;
    let mut max = 0i64;
    for b in bids {
        sum = sum.wrapping_add(b.amount.micros());
        max = max.max(b.amount.micros());
    }
    (sum, max)
}

fn sort_everything(bids: &[Bid]) -> Option<(String, Money)> {
    let mut all: Vec<&Bid> = bids.iter().collect();
    all.sort_by_key(|b| std::cmp::Reverse(b.amount));
    let w = all.first()?;
    Some((
        w.agent_id.clone(),
        all.get(1).map_or(Money::ZERO, |s| s.amount),
    ))
}

fn bench_sealed(c: &mut Criterion) {
    let mut g = c.benchmark_group("sealed");
    for n in [10usize, 100, 1_000] {
        let b = bids(n, n as u64);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("bare_pass", n), &b, |bench, b| {
            bench.iter(|| bare_pass(black_box(b)))
        });
        g.bench_with_input(BenchmarkId::new("sort_everything", n), &b, |bench, b| {
            bench.iter(|| sort_everything(black_box(b)))
        });
        g.bench_with_input(BenchmarkId::new("second_price", n), &b, |bench, b| {
            let a = SealedAuction {
                pricing: SealedPricing::SecondPrice,
                reserve: Money::ZERO,
                bids: b,
            };
            bench.iter(|| sealed::clear(black_box(&a)))
        });
    }
    g.finish();
}

fn orders(n: usize, seed: u64) -> Vec<Order> {
    let mut r = Lcg(seed);
    (0..n)
        .map(|i| {
            let side = if r.below(2) == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            // Limits around 100 in whole cents, buyers a little higher on average.
            let base = 9_000 + r.below(2_000) as i64 + if side == Side::Buy { 100 } else { 0 };
            Order::limit(format!("t{i}"), side, 1 + r.below(50), Money(base * 10_000))
        })
        .collect()
}

/// The naive equilibrium: 101 evenly spaced prices between the lowest and highest limit,
/// each scanned over every order; the price with the largest tradable volume wins.
fn grid_scan(orders: &[Order]) -> (Money, u64) {
    let lo = orders
        .iter()
        .filter_map(|o| o.limit)
        .min()
        .unwrap_or(Money::ZERO)
        .micros();
    let hi = orders
        .iter()
        .filter_map(|o| o.limit)
        .max()
        .unwrap_or(Money::ZERO)
        .micros();
    let mut best = (Money::ZERO, 0u64);
    for k in 0..=100i64 {
        let p = Money(lo + (hi - lo) * k / 100);
        let (mut demand, mut supply) = (0u64, 0u64);
        for o in orders {
            let l = o.limit.unwrap_or(Money::ZERO);
            match o.side {
                Side::Buy if l >= p => demand += o.quantity,
                Side::Sell if l <= p => supply += o.quantity,
                _ => {}
            }
        }
        if demand.min(supply) > best.1 {
            best = (p, demand.min(supply));
        }
    }
    best
}

fn bench_call_market(c: &mut Criterion) {
    let mut g = c.benchmark_group("call_market");
    g.sample_size(20);
    for n in [1_000usize, 10_000, 100_000] {
        let o = orders(n, 7 + n as u64);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("grid_101", n), &o, |b, o| {
            b.iter(|| grid_scan(black_box(o)))
        });
        // Same work as the grid (price, volume) plus per-order fills, in index form.
        g.bench_with_input(BenchmarkId::new("exact_clearing", n), &o, |b, o| {
            b.iter(|| call::clearing(black_box(o)))
        });
        // The full JSON-ready outcome: also copies every filled agent id (inline) into the fills.
        g.bench_with_input(BenchmarkId::new("exact_outcome", n), &o, |b, o| {
            b.iter(|| call::clear(black_box(o)))
        });
    }
    g.finish();
}

fn combinatorial_instance(items: usize, n: usize, seed: u64) -> (BTreeMap<String, u64>, Vec<Bid>) {
    let mut r = Lcg(seed);
    let supply: BTreeMap<String, u64> = (0..items)
        .map(|i| (format!("item{i:02}"), 1 + r.below(3)))
        .collect();
    let names: Vec<String> = supply.keys().cloned().collect();
    let bids = (0..n)
        .map(|i| {
            let size = 1 + r.below(4) as usize;
            let mut bundle = BTreeMap::new();
            for _ in 0..size {
                bundle.insert(names[r.below(items as u64) as usize].clone(), 1);
            }
            let amount = Money((bundle.len() as i64) * (50 + r.below(100) as i64) * 1_000_000);
            Bid {
                bundle: Some(bundle),
                ..Bid::new(format!("agent{}", i % (n / 2)), amount)
            }
        })
        .collect();
    (supply, bids)
}

fn greedy(items: &BTreeMap<String, u64>, bids: &[Bid]) -> Money {
    let mut order: Vec<&Bid> = bids.iter().collect();
    let size = |b: &Bid| {
        b.bundle
            .as_ref()
            .map_or(1, |m| m.values().sum::<u64>().max(1)) as i64
    };
    order.sort_by_key(|b| std::cmp::Reverse(b.amount.micros() / size(b)));
    let mut left = items.clone();
    let mut agents = std::collections::HashSet::new();
    let mut total = Money::ZERO;
    for b in order {
        let bundle = b.bundle.as_ref().unwrap();
        if agents.contains(&b.agent_id) || bundle.iter().any(|(k, q)| left[k] < *q) {
            continue;
        }
        bundle
            .iter()
            .for_each(|(k, q)| *left.get_mut(k).unwrap() -= q);
        agents.insert(b.agent_id.clone());
        total = Money(total.micros() + b.amount.micros());
    }
    total
}

fn bench_combinatorial(c: &mut Criterion) {
    let mut g = c.benchmark_group("combinatorial");
    g.sample_size(10);
    let (items, b) = combinatorial_instance(20, 200, 42);
    let limit = Limits::default().combinatorial_node_limit;
    g.bench_function("greedy_baseline/20x200", |bench| {
        bench.iter(|| greedy(black_box(&items), black_box(&b)))
    });
    for payment in [Payment::PayAsBid, Payment::Vcg] {
        let a = CombinatorialAuction {
            items: &items,
            payment,
            node_limit: limit,
            bids: &b,
        };
        if let Ok(AuctionOutcome::Combinatorial(o)) = combinatorial::clear(&a) {
            eprintln!(
                "combinatorial {payment:?}: optimal {} after {} nodes, {} winners, revenue {} (greedy {})",
                o.optimal,
                o.nodes,
                o.winners.len(),
                o.revenue,
                greedy(&items, &b)
            );
        }
        g.bench_function(format!("branch_and_bound_{payment:?}/20x200"), |bench| {
            bench.iter(|| combinatorial::clear(black_box(&a)))
        });
    }
    g.finish();
}

fn bench_batch(c: &mut Criterion) {
    let mut g = c.benchmark_group("batch");
    g.sample_size(10);
    let reqs: Vec<CoordinationRequest> = (0..10_000u64)
        .map(|i| {
            CoordinationRequest::Auction(AuctionSpec {
                kind: if i % 2 == 0 {
                    AuctionType::SecondPrice
                } else {
                    AuctionType::FirstPrice
                },
                reserve: Some(Money(1_000)),
                start: None,
                increment: None,
                decrement: None,
                max_rounds: None,
                units: None,
                pricing: None,
                items: None,
                payment: None,
                bids: bids(20, i),
            })
        })
        .collect();
    let limits = Limits::default();
    g.throughput(Throughput::Elements(reqs.len() as u64));
    g.bench_function("serial/10000_sealed", |b| {
        b.iter(|| clear_serial(black_box(&reqs), &limits))
    });
    for threads in [1usize, 2] {
        let pool = ClearingPool::new(threads).expect("pool");
        g.bench_function(format!("rayon_{threads}_threads/10000_sealed"), |b| {
            b.iter(|| pool.clear_batch(black_box(&reqs), &limits))
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_sealed,
    bench_call_market,
    bench_combinatorial,
    bench_batch
);
criterion_main!(benches);
