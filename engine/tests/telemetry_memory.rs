//! Memory and "GC": allocator statistics (jemalloc feature), RSS fallback, admission
//! helper, sweep pauses and the reclamation backlog.

use std::time::Duration;

use mabeam_engine::telemetry::{self, Counter, Gauge, Hist, Telemetry, TelemetrySettings};

#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const MIB: u64 = 1024 * 1024;

#[cfg(feature = "jemalloc")]
#[test]
fn jemalloc_statistics_follow_allocations() {
    let before = telemetry::memory::allocator_stats().expect("jemalloc stats readable");
    let block = vec![1u8; 64 * MIB as usize];
    let during = telemetry::memory::allocator_stats().unwrap();
    // Other tests of this binary allocate and free in parallel, so compare with
    // the block itself rather than with the figure before it.
    assert!(
        during.allocated >= 64 * MIB,
        "allocated {} -> {} while a 64 MiB block is live (epoch refreshed?)",
        before.allocated,
        during.allocated
    );
    assert!(during.active >= during.allocated);
    assert!(during.resident >= 60 * MIB);
    drop(block);
    let s = telemetry::memory::sample();
    assert_eq!(s.allocator_note, "jemalloc");
    let text = Telemetry::new(TelemetrySettings::default())
        .unwrap()
        .render_prometheus();
    assert!(text.contains("mabeam_memory_allocator_stats_available 1"));
    for g in ["allocated", "active", "resident", "retained"] {
        assert!(
            text.contains(&format!("# TYPE mabeam_memory_{g}_bytes gauge")),
            "{g}"
        );
    }
}

#[cfg(not(feature = "jemalloc"))]
#[test]
fn without_jemalloc_the_allocator_is_reported_unavailable_and_rss_is_used() {
    let s = telemetry::memory::sample();
    assert!(s.allocator.is_none());
    assert!(
        s.allocator_note.contains("unavailable"),
        "{}",
        s.allocator_note
    );
    if cfg!(target_os = "linux") {
        let rss = s.process.resident_bytes.expect("RSS readable on Linux");
        assert_eq!(s.used_bytes(), Some(rss));
    }
    let text = Telemetry::new(TelemetrySettings::default())
        .unwrap()
        .render_prometheus();
    assert!(text.contains("mabeam_memory_allocator_stats_available 0"));
    assert!(!text.contains("mabeam_memory_allocated_bytes"));
}

#[test]
fn memory_over_limit_tracks_usage() {
    let block = vec![7u8; 48 * MIB as usize];
    let used = telemetry::memory::sample()
        .used_bytes()
        .expect("this platform reports memory use");
    assert!(used >= 40 * MIB, "used {used} with a 48 MiB block live");
    assert!(telemetry::memory_over_limit(8));
    assert!(!telemetry::memory_over_limit(1 << 30));
    assert!(!telemetry::memory_over_limit(0), "0 means no limit");
    let t = Telemetry::new(TelemetrySettings::default()).unwrap();
    t.refresh_memory();
    assert!(t.memory_over_limit(8));
    assert!(!t.memory_over_limit(1 << 30));
    assert_eq!(block[block.len() - 1], 7);
}

#[test]
fn sweeps_and_backlog_are_recorded() {
    let t = Telemetry::new(TelemetrySettings::default()).unwrap();
    let mut w0 = t.worker_recorder(0, 0).unwrap();
    let mut w1 = t.worker_recorder(1, 0).unwrap();
    for ms in [1, 2, 3] {
        w0.record_sweep(Duration::from_millis(ms));
    }
    w1.record_sweep(Duration::from_millis(40));
    w0.set_reclaim_backlog(100);
    w1.set_reclaim_backlog(20);
    w0.flush();
    w1.flush();
    assert_eq!(t.counter(Counter::GcSweeps), 4);
    assert_eq!(t.gauge(Gauge::ReclaimBacklog), 120);
    let h = t.histogram(Hist::SweepPause);
    assert_eq!(h.count, 4);
    assert!((h.sum - 0.046).abs() < 1e-9);
    assert!((h.max - 0.040).abs() < 0.00005);
    // The backlog drains: a later report replaces the earlier one.
    w0.set_reclaim_backlog(0);
    w1.set_reclaim_backlog(0);
    assert_eq!(t.gauge(Gauge::ReclaimBacklog), 0);
    let text = t.render_prometheus();
    assert!(text.contains("mabeam_gc_sweep_pause_seconds_count 4"));
    assert!(text.contains("mabeam_gc_sweep_pause_seconds_bucket{le=\"0.05\"} 4"));
    assert!(text.contains("mabeam_gc_sweep_pause_seconds_bucket{le=\"0.025\"} 3"));
}
