//! Per-thread recorders merged on read: exact totals from several threads, gauges summed,
//! totals kept when recorders go away, and publication without blocking the owner.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use mabeam_engine::telemetry::{
    Counter, Gauge, Hist, Outcome, Protocol, Telemetry, TelemetrySettings,
};

const THREADS: u32 = 4;
const PER_THREAD: u64 = 20_000;

#[test]
fn counters_and_histograms_merge_exactly_across_threads() {
    let t = Telemetry::new(TelemetrySettings::default()).unwrap();
    let start = Arc::new(Barrier::new(THREADS as usize));
    let handles: Vec<_> = (0..THREADS)
        .map(|w| {
            let mut rec = t.worker_recorder(w, 0).unwrap();
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                for i in 0..PER_THREAD {
                    if i % 1000 == 0 {
                        rec.tick(i); // publishes every flush_interval_ms of "time"
                    }
                    rec.inc(Counter::RuntimeCommands);
                    rec.record_coordination(
                        Protocol::Allocation,
                        if i % 4 == 0 {
                            Outcome::Failure
                        } else {
                            Outcome::Success
                        },
                        Duration::from_micros(100 + u64::from(w) * 100),
                        None,
                    );
                }
                rec.add_gauge(Gauge::CoordinationInFlight, i64::from(w) + 1);
                rec.flush_blocking();
                rec // keep it alive: gauges belong to live recorders
            })
        })
        .collect();
    let recs: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let total = u64::from(THREADS) * PER_THREAD;
    assert_eq!(t.counter(Counter::RuntimeCommands), total);
    assert_eq!(
        t.counter(Counter::CoordinationRequests(
            Protocol::Allocation,
            Outcome::Failure
        )),
        total / 4
    );
    assert_eq!(
        t.counter(Counter::CoordinationRequests(
            Protocol::Allocation,
            Outcome::Success
        )),
        total * 3 / 4
    );
    assert_eq!(t.gauge(Gauge::CoordinationInFlight), 1 + 2 + 3 + 4);
    let h = t.histogram(Hist::CoordinationDuration(Protocol::Allocation));
    assert_eq!(h.count, total);
    // Workers 0..4 recorded 100, 200, 300, 400 us in equal numbers.
    let exact_sum = PER_THREAD as f64 * (100.0 + 200.0 + 300.0 + 400.0) / 1e6;
    assert!((h.sum - exact_sum).abs() < 1e-6, "{} vs {exact_sum}", h.sum);
    assert!((h.p50 - 0.0002).abs() < 0.0000005, "p50 {}", h.p50);
    assert!((h.max - 0.0004).abs() < 0.0000005, "max {}", h.max);

    // Dropping recorders keeps the counters (no reset seen by Prometheus) and clears gauges.
    drop(recs);
    assert_eq!(t.recorders(), 0);
    assert_eq!(t.counter(Counter::RuntimeCommands), total);
    assert_eq!(t.gauge(Gauge::CoordinationInFlight), 0);
    assert_eq!(
        t.histogram(Hist::CoordinationDuration(Protocol::Allocation))
            .count,
        total
    );
}

#[test]
fn readers_see_monotonic_totals_while_writers_run() {
    let t = Telemetry::new(TelemetrySettings::default()).unwrap();
    let mut writers = Vec::new();
    for w in 0..2 {
        let mut rec = t.worker_recorder(w, 0).unwrap();
        writers.push(thread::spawn(move || {
            for _ in 0..200_000 {
                rec.inc(Counter::AuctionBids);
            }
        }));
    }
    // A churning non-worker recorder: created, used, dropped, again.
    let churn_t = t.clone();
    let churn = thread::spawn(move || {
        for i in 0..200 {
            let mut r = churn_t.recorder("http-churn", 0).unwrap();
            r.add(Counter::AuctionBids, 10);
            drop(r);
            if i % 50 == 0 {
                thread::yield_now();
            }
        }
    });
    let mut last = 0;
    while !(writers.iter().all(|w| w.is_finished()) && churn.is_finished()) {
        let now = t.counter(Counter::AuctionBids);
        assert!(now >= last, "total went down: {last} -> {now}");
        last = now;
    }
    for w in writers {
        w.join().unwrap();
    }
    churn.join().unwrap();
    assert_eq!(t.counter(Counter::AuctionBids), 2 * 200_000 + 200 * 10);
}

#[test]
fn tick_publishes_on_interval_and_on_request() {
    let settings = TelemetrySettings::test_min(); // flush_interval_ms = 10
    let t = Telemetry::new(settings).unwrap();
    let mut rec = t.worker_recorder(0, 0).unwrap();
    rec.record_tick(Duration::from_micros(30), 1, false);
    assert!(!rec.tick(5), "not due yet");
    assert_eq!(t.histogram(Hist::TickDuration).count, 0);
    assert!(rec.tick(10), "due after flush_interval_ms");
    assert_eq!(t.histogram(Hist::TickDuration).count, 1);
    rec.record_tick(Duration::from_micros(30), 1, false);
    let _ = t.render_prometheus(); // asks for a flush
    assert!(rec.tick(11), "a render request makes the next tick publish");
    assert_eq!(t.histogram(Hist::TickDuration).count, 2);
}
