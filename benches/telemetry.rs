//! Telemetry hot path: a recorder's counter increment and histogram record, beside the
//! naive shared alternatives in the same run (a shared `AtomicU64::fetch_add` contended by
//! a second thread, and a `Mutex<Histogram>`). Quote ratios, not absolute times.
//!
//! `cargo bench --bench telemetry -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hdrhistogram::Histogram;
use mabeam_engine::telemetry::{
    Counter, Hist, Outcome, Protocol, Recorder, Telemetry, TelemetrySettings,
};
use parking_lot::Mutex;

/// A background thread running `work` until dropped.
struct Contender {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Contender {
    fn spawn(mut work: impl FnMut() + Send + 'static) -> Contender {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                for _ in 0..64 {
                    work();
                }
            }
        });
        Contender {
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for Contender {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn durations() -> Vec<Duration> {
    // Spread over several HDR buckets; built outside the timed loop.
    (0..1024u64)
        .map(|i| Duration::from_nanos(20_000 + (i * 7919) % 2_000_000))
        .collect()
}

fn telemetry() -> Telemetry {
    Telemetry::new(TelemetrySettings::default()).expect("default settings are valid")
}

fn worker(t: &Telemetry, id: u32) -> Recorder {
    t.worker_recorder(id, 0).expect("recorder")
}

fn counters(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter_increment");
    let t = telemetry();

    let mut rec = worker(&t, 0);
    // As the runtime calls it: the counter is a constant at the call site.
    g.bench_function("recorder_inc", |b| {
        b.iter(|| rec.add(Counter::RuntimeCommands, black_box(1)))
    });
    // Labels known only at run time (protocol and result of a request).
    let mut k = 0usize;
    g.bench_function("recorder_inc_runtime_labels", |b| {
        b.iter(|| {
            k = (k + 1) % 15;
            let p = Protocol::ALL[k % Protocol::COUNT];
            let o = Outcome::ALL[k % Outcome::COUNT];
            rec.inc(Counter::CoordinationRequests(black_box(p), black_box(o)))
        })
    });

    // Same, while another thread records into its own recorder: no shared line to fight over.
    let mut other = worker(&t, 1);
    let busy = Contender::spawn(move || other.inc(Counter::RuntimeCommands));
    g.bench_function("recorder_inc_beside_busy_recorder", |b| {
        b.iter(|| rec.add(Counter::RuntimeCommands, black_box(1)))
    });
    drop(busy);

    let shared = Arc::new(AtomicU64::new(0));
    g.bench_function("shared_fetch_add_uncontended", |b| {
        b.iter(|| shared.fetch_add(black_box(1), Ordering::Relaxed))
    });
    let s2 = Arc::clone(&shared);
    let busy = Contender::spawn(move || {
        s2.fetch_add(1, Ordering::Relaxed);
    });
    g.bench_function("shared_fetch_add_contended_2_threads", |b| {
        b.iter(|| shared.fetch_add(black_box(1), Ordering::Relaxed))
    });
    drop(busy);
    g.finish();
}

fn histograms(c: &mut Criterion) {
    let mut g = c.benchmark_group("histogram_record");
    let d = durations();
    let t = telemetry();
    let mut rec = worker(&t, 0);

    let mut i = 0usize;
    g.bench_function("recorder_record_duration", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            rec.record_duration(Hist::TickDuration, black_box(d[i]));
        })
    });
    g.bench_function("recorder_record_coordination", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            rec.record_coordination(
                Protocol::Market,
                Outcome::Success,
                black_box(d[i]),
                Some(1.0),
            );
        })
    });

    let mk = || Histogram::<u64>::new_with_bounds(1, 120_000_000, 3).expect("valid bounds");
    let shared = Arc::new(Mutex::new(mk()));
    g.bench_function("mutex_histogram_record_uncontended", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let _ = shared.lock().record(black_box(d[i].as_micros() as u64));
        })
    });
    let s2 = Arc::clone(&shared);
    let busy = Contender::spawn(move || {
        let _ = s2.lock().record(250);
    });
    g.bench_function("mutex_histogram_record_contended_2_threads", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let _ = shared.lock().record(black_box(d[i].as_micros() as u64));
        })
    });
    drop(busy);
    g.finish();
}

fn publishing(c: &mut Criterion) {
    // Off the hot path, for scale: a flush of a recorder with data in every histogram, and
    // a full scrape, beside cloning one histogram (the cheapest "copy out" a reader could do).
    let mut g = c.benchmark_group("publish_and_scrape");
    let d = durations();
    let t = telemetry();
    let mut rec = worker(&t, 0);
    g.bench_function("flush_after_64_records", |b| {
        b.iter(|| {
            for (k, dur) in d.iter().take(64).enumerate() {
                let p = Protocol::ALL[k % Protocol::COUNT];
                rec.record_coordination(p, Outcome::Success, *dur, None);
            }
            rec.flush()
        })
    });
    g.bench_function("render_prometheus", |b| {
        b.iter(|| t.render_prometheus().len())
    });
    let h = {
        let mut h = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3).expect("valid bounds");
        for dur in &d {
            let _ = h.record(dur.as_micros() as u64);
        }
        h
    };
    g.bench_function("baseline_clone_one_histogram", |b| {
        b.iter(|| h.clone().len())
    });
    g.finish();
}

criterion_group!(benches, counters, histograms, publishing);
criterion_main!(benches);
