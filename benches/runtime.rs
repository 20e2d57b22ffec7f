//! Embedded round trip: a command sent from a non-worker thread to a worker and
//! its reply, at rest and at half of saturation, beside a plain
//! crossbeam-channel request/reply baseline in the same run.
//!
//! Criterion reports mean times; the percentiles the latency goal is about
//! (p50 < 1 us, p99 < 5 us at rest) are recorded per call into an HDR histogram
//! and printed after each group, with the ratio to the baseline.

use criterion::{Criterion, criterion_group, criterion_main};
use crossbeam_channel::{Receiver, Sender, bounded};
use hdrhistogram::Histogram;
use mabeam_engine::api::{Engine, Handle};
use mabeam_engine::profile::Config;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

fn engine() -> Engine {
    let mut c = Config::default();
    c.engine.workers = 1;
    c.engine.idle_spin_us = Duration::from_micros(200);
    Engine::start(c).expect("engine starts")
}

/// The baseline: one server thread answering requests on a channel pair.
struct Baseline {
    req: Sender<u64>,
    resp: Receiver<u64>,
    stop: Arc<AtomicBool>,
    server: Option<thread::JoinHandle<()>>,
}

impl Baseline {
    fn new() -> Self {
        let (req, rx) = bounded::<u64>(1024);
        let (tx, resp) = bounded::<u64>(1024);
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let server = thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Ok(v) = rx.recv_timeout(Duration::from_millis(10)) {
                    let _ = tx.send(v + 1);
                }
            }
        });
        Self {
            req,
            resp,
            stop,
            server: Some(server),
        }
    }

    fn round_trip(&self, v: u64) -> u64 {
        self.req.send(v).expect("baseline server alive");
        self.resp.recv().expect("baseline server alive")
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(s) = self.server.take() {
            let _ = s.join();
        }
    }
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}

fn report(label: &str, ours: &Histogram<u64>, base: &Histogram<u64>) {
    let q = |h: &Histogram<u64>, p: f64| h.value_at_quantile(p) as f64 / 1000.0;
    eprintln!(
        "{label}: mabeam p50 {:.2} us p99 {:.2} us p99.9 {:.2} us | crossbeam p50 {:.2} us p99 {:.2} us | ratio (ours/baseline) p50 {:.2} p99 {:.2} | n={}",
        q(ours, 0.5),
        q(ours, 0.99),
        q(ours, 0.999),
        q(base, 0.5),
        q(base, 0.99),
        q(ours, 0.5) / q(base, 0.5).max(1e-9),
        q(ours, 0.99) / q(base, 0.99).max(1e-9),
        ours.len()
    );
}

/// Rate (round trips/s) one closed-loop caller reaches through the engine.
fn saturation(h: &Handle) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_millis(500) {
        h.ping(0).wait().expect("worker answers");
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Background load at `rate` round trips/s until `stop`.
fn paced_load(h: Handle, rate: f64, stop: Arc<AtomicBool>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let gap = Duration::from_secs_f64(1.0 / rate.max(1.0));
        let mut next = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let _ = h.ping(0).wait();
            next += gap;
            let now = Instant::now();
            if next > now {
                thread::sleep(next - now);
            } else {
                next = now;
            }
        }
    })
}

fn round_trip(c: &mut Criterion) {
    let engine = engine();
    let h = engine.handle();
    let baseline = Baseline::new();
    let (mut ours, mut base) = (hist(), hist());

    let mut g = c.benchmark_group("round_trip_at_rest");
    g.bench_function("mabeam_handle_ping", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let r = h.ping(0).wait();
                let d = t.elapsed();
                assert!(r.is_ok());
                total += d;
                let _ = ours.record(d.as_nanos() as u64);
            }
            total
        })
    });
    g.bench_function("crossbeam_channel_request_reply", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                let t = Instant::now();
                let r = baseline.round_trip(i);
                let d = t.elapsed();
                assert_eq!(r, i + 1);
                total += d;
                let _ = base.record(d.as_nanos() as u64);
            }
            total
        })
    });
    g.finish();
    report("at rest", &ours, &base);

    // Half of saturation: a second thread keeps the worker half busy.
    let sat = saturation(&h);
    let stop = Arc::new(AtomicBool::new(false));
    let load = paced_load(h.clone(), sat / 2.0, Arc::clone(&stop));
    let (mut ours, base) = (hist(), base);
    let mut g = c.benchmark_group("round_trip_half_saturation");
    g.bench_function("mabeam_handle_ping", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let r = h.ping(0).wait();
                let d = t.elapsed();
                assert!(r.is_ok());
                total += d;
                let _ = ours.record(d.as_nanos() as u64);
            }
            total
        })
    });
    g.finish();
    stop.store(true, Ordering::Relaxed);
    let _ = load.join();
    eprintln!(
        "saturation (one closed-loop caller): {sat:.0} round trips/s; background load at half"
    );
    report("half saturation (baseline: at rest)", &ours, &base);
    drop(engine);
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = round_trip
}
criterion_main!(benches);
