//! Live-auction bid throughput through the embedding API: two producer threads
//! place bids in auctions spread over 2 workers (each bid a command to the
//! auction's owner worker, answered with a receipt), beside a naive baseline in
//! the same run: the same 2 threads pushing the same bids into a
//! `parking_lot::Mutex<HashMap<SessionId, Vec<Bid>>>`.
//!
//! Inputs (bids with distinct agent ids) are built outside the timed section.
//! Each producer keeps a window of bids in flight and waits for their receipts in
//! order, retrying the few refused by a full inbox. After the group the ratio of
//! bids/s (engine / baseline) is printed; the machine is shared, so quote the
//! ratio, not the absolute rates.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mabeam_engine::api::{Engine, Handle, Pending};
use mabeam_engine::coord::{AuctionType, Bid, Money};
use mabeam_engine::profile::Config;
use mabeam_engine::session::{BidReceipt, OpenAuction};
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const PRODUCERS: usize = 2;
const AUCTIONS: usize = 8;
const WINDOW: usize = 128;

type SessionId = String;

fn engine() -> Engine {
    let mut c = Config::default();
    c.engine.workers = 2;
    c.engine.pin_workers = false;
    c.performance.memory_limit_mb = 0;
    c.core.coordination_timeout = Duration::from_secs(60);
    c.coordination.protocol_timeout = Duration::from_secs(120);
    c.coordination.bids_per_auction_max = 10_000_000;
    Engine::start(c).expect("engine starts")
}

/// Bids for each producer: distinct agents, spread round-robin over the auctions.
fn inputs(iters: u64, auctions: &[SessionId]) -> Vec<Vec<(SessionId, Bid)>> {
    let per = (iters as usize).div_ceil(PRODUCERS);
    (0..PRODUCERS)
        .map(|p| {
            (0..per)
                .map(|i| {
                    let bid = Bid::new(format!("p{p}-{i}"), Money(1_000_000 + i as i64));
                    (auctions[(i + p) % auctions.len()].clone(), bid)
                })
                .collect()
        })
        .collect()
}

/// One producer: keeps up to WINDOW bids in flight, waiting for the oldest. The
/// windows of both producers together stay far below the inbox depth, so no bid is
/// refused and none needs a copy kept for a retry.
fn produce(h: &Handle, bids: Vec<(SessionId, Bid)>) -> u64 {
    let mut in_flight: VecDeque<Pending<BidReceipt>> = VecDeque::with_capacity(WINDOW);
    let mut placed = 0u64;
    let mut take = |p: Pending<BidReceipt>| match p.wait() {
        Ok(_) => placed += 1,
        Err(e) => panic!("bid refused: {e}"),
    };
    for (a, b) in bids {
        if in_flight.len() == WINDOW
            && let Some(p) = in_flight.pop_front()
        {
            take(p);
        }
        in_flight.push_back(h.bid(&a, b, None));
    }
    for p in in_flight {
        take(p);
    }
    placed
}

fn open_auctions(h: &Handle) -> Vec<SessionId> {
    (0..AUCTIONS)
        .map(|_| {
            h.open_auction(OpenAuction::new(AuctionType::FirstPrice))
                .wait()
                .expect("auction opens")
                .id
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let engine = engine();
    let h = engine.handle();
    let totals: Arc<Mutex<[(Duration, u64); 2]>> = Arc::default();
    let mut g = c.benchmark_group("live_auction_bids_2_threads");
    g.throughput(Throughput::Elements(1));

    let t = Arc::clone(&totals);
    g.bench_function("mabeam_handle_2_workers", |b| {
        b.iter_custom(|iters| {
            let auctions = open_auctions(&h);
            let inputs = inputs(iters, &auctions);
            let started = Instant::now();
            let placed: u64 = thread::scope(|s| {
                let hs: Vec<_> = inputs
                    .into_iter()
                    .map(|bids| {
                        let h = h.clone();
                        s.spawn(move || produce(&h, bids))
                    })
                    .collect();
                hs.into_iter().map(|j| j.join().expect("producer")).sum()
            });
            let took = started.elapsed();
            for a in &auctions {
                let _ = h.cancel_session(a).wait();
            }
            let mut t = t.lock();
            t[0].0 += took;
            t[0].1 += placed;
            took.mul_f64(iters as f64 / placed.max(1) as f64)
        })
    });

    let t = Arc::clone(&totals);
    g.bench_function("mutex_hashmap_baseline", |b| {
        b.iter_custom(|iters| {
            let auctions: Vec<SessionId> = (0..AUCTIONS).map(|i| format!("auc-{i}")).collect();
            let map: Mutex<HashMap<SessionId, Vec<Bid>>> =
                Mutex::new(auctions.iter().map(|a| (a.clone(), Vec::new())).collect());
            let inputs = inputs(iters, &auctions);
            let started = Instant::now();
            let placed: u64 = thread::scope(|s| {
                let hs: Vec<_> = inputs
                    .into_iter()
                    .map(|bids| {
                        let map = &map;
                        s.spawn(move || {
                            let mut n = 0u64;
                            for (a, bid) in bids {
                                let mut m = map.lock();
                                let Some(list) = m.get_mut(&a) else { continue };
                                list.push(bid);
                                n += std::hint::black_box(list.len() as u64).min(1);
                            }
                            n
                        })
                    })
                    .collect();
                hs.into_iter().map(|j| j.join().expect("producer")).sum()
            });
            let took = started.elapsed();
            let mut t = t.lock();
            t[1].0 += took;
            t[1].1 += placed;
            took.mul_f64(iters as f64 / placed.max(1) as f64)
        })
    });
    g.finish();

    let t = totals.lock();
    let rate = |(d, n): (Duration, u64)| n as f64 / d.as_secs_f64().max(1e-9);
    let (ours, base) = (rate(t[0]), rate(t[1]));
    eprintln!(
        "live auction bids, 2 producer threads: mabeam {:.0} bids/s, mutex baseline {:.0} bids/s, ratio (mabeam/baseline) {:.3} (shared machine: quote the ratio)",
        ours,
        base,
        ours / base.max(1e-9)
    );
    drop(t);
    engine.shutdown();
}

criterion_group!(benches, bench);
criterion_main!(benches);
