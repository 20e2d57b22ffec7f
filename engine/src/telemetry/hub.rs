//! The shared hub: the registry of recorders and everything they publish, merged on read.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

use crossbeam_utils::CachePadded;
use parking_lot::{Mutex, RwLock};

use super::anomaly::{AnomalyReport, EventRing};
use super::error::TelemetryError;
use super::families::{Counter, Gauge, Hist};
use super::hist::{BoundedHist, HistExport, SIGFIG, Spread};
use super::labels::Protocol;
use super::memory::{self, MemoryStats};
use super::recorder::Recorder;
use super::settings::TelemetrySettings;
use super::window::{CleanupReport, CoordinationSummary, Window, WindowStore};

/// Longest recorder name.
pub const RECORDER_NAME_MAX: usize = 64;

/// One recorder's live counters and gauges: written by that recorder only, read by anyone.
#[derive(Debug)]
pub(crate) struct Shard {
    pub(crate) name: String,
    pub(crate) worker: Option<u32>,
    pub(crate) counters: CachePadded<[AtomicU64; Counter::COUNT]>,
    pub(crate) gauges: CachePadded<[AtomicI64; Gauge::COUNT]>,
}

#[derive(Debug)]
struct ShardTable {
    live: Vec<Arc<Shard>>,
    /// Counters of recorders that were dropped, so totals never go down.
    retired: Vec<u64>,
}

/// Shared state behind [`Telemetry`].
#[derive(Debug)]
pub(crate) struct Hub {
    pub(crate) settings: TelemetrySettings,
    shards: RwLock<ShardTable>,
    pub(crate) hists: Mutex<Vec<BoundedHist>>,
    pub(crate) windows: Mutex<WindowStore>,
    pub(crate) events: Mutex<EventRing>,
    pub(crate) flush_epoch: AtomicU64,
    last_cleanup_ms: AtomicU64,
    memory_used_bytes: AtomicU64,
    memory_known: AtomicBool,
    start_unix_seconds: f64,
}

/// Everything merged at one instant, for exposition.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub(crate) counters: Vec<u64>,
    pub(crate) gauges: Vec<i64>,
    pub(crate) worker_gauges: Vec<(u32, Vec<i64>)>,
    pub(crate) hists: Vec<HistExport>,
    pub(crate) recorders: usize,
    pub(crate) anomaly_events_dropped: u64,
    pub(crate) window_buckets: usize,
    pub(crate) window_late_dropped: u64,
    pub(crate) memory: MemoryStats,
    pub(crate) start_unix_seconds: f64,
}

/// Merged quantiles of one histogram, exposed units.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct HistSummary {
    /// Values recorded (and published).
    pub count: u64,
    /// Exact sum.
    pub sum: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest value.
    pub max: f64,
}

/// The telemetry hub: hands out recorders and merges what they record. Cheap to clone;
/// every clone is the same hub.
#[derive(Clone, Debug)]
pub struct Telemetry {
    pub(crate) hub: Arc<Hub>,
}

pub(crate) fn new_hist(h: Hist) -> BoundedHist {
    // Specs are constants; `hist::tests` builds every one.
    BoundedHist::new(h.spec().high, SIGFIG).expect("histogram specs are constant and valid")
}

fn valid_name(name: &str) -> bool {
    (1..=RECORDER_NAME_MAX).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

impl Telemetry {
    /// A hub with validated settings.
    pub fn new(settings: TelemetrySettings) -> Result<Telemetry, TelemetryError> {
        settings.validate()?;
        let start_unix_seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let hub = Hub {
            shards: RwLock::new(ShardTable {
                live: Vec::with_capacity(settings.max_recorders as usize),
                retired: vec![0; Counter::COUNT],
            }),
            hists: Mutex::new(Hist::all().into_iter().map(new_hist).collect()),
            windows: Mutex::new(WindowStore::new(settings.retention_minutes)),
            events: Mutex::new(EventRing::new(settings.buffer_size as usize)),
            flush_epoch: AtomicU64::new(0),
            last_cleanup_ms: AtomicU64::new(0),
            memory_used_bytes: AtomicU64::new(0),
            memory_known: AtomicBool::new(false),
            start_unix_seconds,
            settings,
        };
        Ok(Telemetry { hub: Arc::new(hub) })
    }

    /// The settings in force.
    pub fn settings(&self) -> &TelemetrySettings {
        &self.hub.settings
    }

    /// A recorder for worker `worker` (named `worker-<n>`; its inbox depth is exposed with
    /// `worker="<n>"`). Give it to that worker thread; it starts its clock at `now_ms`.
    pub fn worker_recorder(&self, worker: u32, now_ms: u64) -> Result<Recorder, TelemetryError> {
        self.register(format!("worker-{worker}"), Some(worker), now_ms)
    }

    /// A recorder for any other thread (HTTP, maintenance, tests), named `name`
    /// (1-64 characters of `[A-Za-z0-9_.:-]`, unique among live recorders).
    pub fn recorder(&self, name: &str, now_ms: u64) -> Result<Recorder, TelemetryError> {
        if !valid_name(name) {
            return Err(TelemetryError::InvalidRecorderName {
                name: name.chars().take(RECORDER_NAME_MAX).collect(),
            });
        }
        self.register(name.to_owned(), None, now_ms)
    }

    fn register(
        &self,
        name: String,
        worker: Option<u32>,
        now_ms: u64,
    ) -> Result<Recorder, TelemetryError> {
        let shard = {
            let mut table = self.hub.shards.write();
            let max = self.hub.settings.max_recorders as usize;
            if table.live.len() >= max {
                return Err(TelemetryError::TooManyRecorders { max });
            }
            if table.live.iter().any(|s| s.name == name) {
                return Err(TelemetryError::DuplicateRecorder { name });
            }
            let shard = Arc::new(Shard {
                name,
                worker,
                counters: CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0))),
                gauges: CachePadded::new(std::array::from_fn(|_| AtomicI64::new(0))),
            });
            table.live.push(Arc::clone(&shard));
            shard
        };
        Recorder::new(Arc::clone(&self.hub), shard, now_ms)
    }

    /// Live recorders.
    pub fn recorders(&self) -> usize {
        self.hub.shards.read().live.len()
    }

    /// Ask every recorder to publish at its next `tick` (rendering does this itself).
    pub fn request_flush(&self) {
        self.hub.flush_epoch.fetch_add(1, Relaxed);
    }

    /// A counter's total over all recorders, live and dropped.
    pub fn counter(&self, c: Counter) -> u64 {
        let table = self.hub.shards.read();
        let slot = c.slot();
        table.retired[slot]
            + table
                .live
                .iter()
                .map(|s| s.counters[slot].load(Relaxed))
                .sum::<u64>()
    }

    /// A gauge summed over live recorders (for `InboxDepth`: the total over workers).
    pub fn gauge(&self, g: Gauge) -> i64 {
        let table = self.hub.shards.read();
        table
            .live
            .iter()
            .map(|s| s.gauges[g.slot()].load(Relaxed))
            .sum()
    }

    /// Quantiles of a histogram, merged over what recorders have published.
    pub fn histogram(&self, h: Hist) -> HistSummary {
        let hists = self.hub.hists.lock();
        let b = &hists[h.slot()];
        let scale = h.spec().scale;
        let Spread {
            quantiles: [p50, p90, p99],
            max,
        } = b.spread([0.5, 0.9, 0.99], None);
        HistSummary {
            count: b.len(),
            sum: b.sum() as f64 / scale,
            p50: p50 as f64 / scale,
            p90: p90 as f64 / scale,
            p99: p99 as f64 / scale,
            max: max as f64 / scale,
        }
    }

    /// Coordination results over `window` ending at `now_ms`, for `protocol` (by its API
    /// name) or all protocols. Reflects what recorders have published (see `flush`).
    pub fn coordination_metrics(
        &self,
        protocol: Option<&str>,
        window: Window,
        now_ms: u64,
    ) -> Result<CoordinationSummary, TelemetryError> {
        let protocol = protocol.map(str::parse::<Protocol>).transpose()?;
        Ok(self.hub.windows.lock().summary(protocol, window, now_ms))
    }

    /// Drop minute buckets out of retention at `now_ms`. Call every `cleanup_interval_ms`.
    pub fn cleanup(&self, now_ms: u64) -> CleanupReport {
        self.hub.last_cleanup_ms.store(now_ms, Relaxed);
        self.hub.windows.lock().cleanup(now_ms)
    }

    /// `cleanup(now_ms)` when `cleanup_interval_ms` has passed since the last one.
    pub fn cleanup_if_due(&self, now_ms: u64) -> Option<CleanupReport> {
        let last = self.hub.last_cleanup_ms.load(Relaxed);
        (now_ms.saturating_sub(last) >= self.hub.settings.cleanup_interval_ms)
            .then(|| self.cleanup(now_ms))
    }

    /// Recent anomalies (oldest first) and how many were dropped from the full buffer.
    pub fn anomalies(&self) -> AnomalyReport {
        self.hub.events.lock().report()
    }

    /// Take a full memory sample (allocator and kernel) and remember its admission size
    /// for `memory_over_limit`.
    pub fn refresh_memory(&self) -> MemoryStats {
        let stats = memory::sample();
        self.remember_used(stats.used_bytes());
        stats
    }

    /// Read the admission size only ([`memory::used_bytes`]: the resident set size, one
    /// `/proc/self/statm` read) and remember it for `memory_over_limit`. The engine's
    /// memory sampler calls this at start and every `performance.memory_sample_interval_ms`.
    pub fn refresh_memory_used(&self) -> Option<u64> {
        let used = memory::used_bytes();
        self.remember_used(used);
        used
    }

    fn remember_used(&self, used: Option<u64>) {
        match used {
            Some(b) => {
                self.hub.memory_used_bytes.store(b, Relaxed);
                self.hub.memory_known.store(true, Relaxed);
            }
            None => self.hub.memory_known.store(false, Relaxed),
        }
    }

    /// The admission size of the last sample, bytes (`None` before the first, or when
    /// unreadable).
    pub fn memory_used(&self) -> Option<u64> {
        let known = self.hub.memory_known.load(Relaxed);
        known.then(|| self.hub.memory_used_bytes.load(Relaxed))
    }

    /// Admission control: true when the last sample exceeds `limit_mb` MiB (`0` = no
    /// limit; never sampled or unreadable = not over). Two relaxed loads.
    pub fn memory_over_limit(&self, limit_mb: u64) -> bool {
        memory::over_limit(self.memory_used(), limit_mb)
    }
}

impl Hub {
    pub(crate) fn snapshot(&self) -> Snapshot {
        let (counters, gauges, worker_gauges, recorders) = {
            let table = self.shards.read();
            let mut counters = table.retired.clone();
            let mut gauges = vec![0i64; Gauge::COUNT];
            let mut worker_gauges = Vec::new();
            for s in &table.live {
                for (acc, c) in counters.iter_mut().zip(s.counters.iter()) {
                    *acc += c.load(Relaxed);
                }
                for (acc, g) in gauges.iter_mut().zip(s.gauges.iter()) {
                    *acc += g.load(Relaxed);
                }
                if let Some(w) = s.worker {
                    worker_gauges.push((w, s.gauges.iter().map(|g| g.load(Relaxed)).collect()));
                }
            }
            worker_gauges.sort_by_key(|(w, _)| *w);
            (counters, gauges, worker_gauges, table.live.len())
        };
        let hists = {
            let hists = self.hists.lock();
            Hist::all()
                .into_iter()
                .map(|h| hists[h.slot()].export(&h.spec()))
                .collect()
        };
        let anomaly_events_dropped = self.events.lock().dropped();
        let (window_buckets, window_late_dropped) = {
            let w = self.windows.lock();
            (w.len(), w.late_dropped())
        };
        Snapshot {
            counters,
            gauges,
            worker_gauges,
            hists,
            recorders,
            anomaly_events_dropped,
            window_buckets,
            window_late_dropped,
            memory: memory::sample(),
            start_unix_seconds: self.start_unix_seconds,
        }
    }

    /// Remove a dropped recorder's shard, folding its counters into the retired totals
    /// under the same lock readers take, so totals never dip or double.
    pub(crate) fn unregister(&self, shard: &Arc<Shard>) {
        let mut table = self.shards.write();
        if let Some(pos) = table.live.iter().position(|s| Arc::ptr_eq(s, shard)) {
            let gone = table.live.swap_remove(pos);
            for (acc, c) in table.retired.iter_mut().zip(gone.counters.iter()) {
                *acc += c.load(Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_is_shareable_and_recorders_movable() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<Telemetry>();
        send::<Recorder>();
    }

    #[test]
    fn recorder_names_are_checked() {
        let t = Telemetry::new(TelemetrySettings::test_min()).unwrap();
        assert!(matches!(
            t.recorder("", 0),
            Err(TelemetryError::InvalidRecorderName { .. })
        ));
        assert!(matches!(
            t.recorder("has space", 0),
            Err(TelemetryError::InvalidRecorderName { .. })
        ));
        let _a = t.recorder("http-0", 0).unwrap();
        assert!(matches!(
            t.recorder("http-0", 0),
            Err(TelemetryError::DuplicateRecorder { .. })
        ));
        let _w = t.worker_recorder(0, 0).unwrap();
        assert!(matches!(
            t.worker_recorder(0, 0),
            Err(TelemetryError::DuplicateRecorder { .. })
        ));
    }

    #[test]
    fn recorder_limit_is_an_error_and_frees_on_drop() {
        let t = Telemetry::new(TelemetrySettings::test_min()).unwrap();
        let max = t.settings().max_recorders as usize;
        let mut held: Vec<_> = (0..max)
            .map(|i| t.recorder(&format!("r{i}"), 0).unwrap())
            .collect();
        assert_eq!(
            t.recorder("one-more", 0).unwrap_err(),
            TelemetryError::TooManyRecorders { max }
        );
        held.pop();
        assert!(t.recorder("one-more", 0).is_ok());
    }

    #[test]
    fn memory_limit_uses_cached_sample() {
        let t = Telemetry::new(TelemetrySettings::default()).unwrap();
        assert!(!t.memory_over_limit(1), "never refreshed: not over");
        let s = t.refresh_memory();
        if let Some(used) = s.used_bytes() {
            let mib = used / (1024 * 1024);
            for limit in [1, mib, mib + 1, 1 << 40] {
                assert_eq!(
                    t.memory_over_limit(limit),
                    memory::over_limit(Some(used), limit),
                    "limit {limit} MiB, used {used} bytes"
                );
            }
            assert!(!t.memory_over_limit(1 << 40));
            assert!(!t.memory_over_limit(0), "0 disables the limit");
        }
    }
}
