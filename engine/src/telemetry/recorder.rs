//! The per-thread recorder: the only writer of its counters, gauges and local histograms.
//!
//! Hot-path calls touch only memory this recorder owns: a counter is a relaxed load and
//! store on its own cache-padded atomic (no read-modify-write, no contention), a histogram
//! record is an index computation in a local HDR histogram. Histograms, minute windows and
//! anomaly events are *published* by `flush`, which merges them into the hub under
//! `try_lock`: if a reader holds the lock, the data stays local and goes out next time, so
//! the owning thread never waits. `tick(now_ms)` gives the recorder its clock and flushes
//! every `flush_interval_ms`, or sooner when a reader asked (`Telemetry::request_flush`).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use parking_lot::Mutex;

use super::anomaly::{AnomalyDetector, AnomalyEvent, Deviation, EventRing};
use super::error::TelemetryError;
use super::families::{Counter, Gauge, Hist, MICROS, MONEY_SCALE};
use super::hist::BoundedHist;
use super::hub::{Hub, Shard, new_hist};
use super::labels::{AgentState, AnomalyMetric, AuctionType, Outcome, Protocol, RejectReason};
use super::window::{MINUTE_MS, PendingWindows, WindowStore};

/// Records for one thread. Not `Clone`: exactly one owner writes its counters. `Send`, so
/// it can be created on one thread and moved to its worker. Dropping it publishes what is
/// left and folds its counters into the hub's totals.
pub struct Recorder {
    hub: Arc<Hub>,
    shard: Arc<Shard>,
    enabled: bool,
    now_ms: u64,
    next_flush_ms: u64,
    seen_epoch: u64,
    hists: Box<[BoundedHist]>,
    hists_dirty: bool,
    windows: PendingWindows,
    detectors: Box<[AnomalyDetector]>,
    events: EventRing,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("name", &self.shard.name)
            .field("enabled", &self.enabled)
            .field("now_ms", &self.now_ms)
            .finish_non_exhaustive()
    }
}

#[inline]
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Recorder {
    pub(crate) fn new(
        hub: Arc<Hub>,
        shard: Arc<Shard>,
        now_ms: u64,
    ) -> Result<Recorder, TelemetryError> {
        let s = &hub.settings;
        let detectors = AnomalyMetric::ALL
            .iter()
            .map(|_| {
                AnomalyDetector::new(
                    s.anomaly_window_samples as usize,
                    s.anomaly_min_samples as usize,
                    s.anomaly_threshold,
                )
            })
            .collect::<Result<Box<[_]>, _>>();
        let detectors = match detectors {
            Ok(d) => d,
            Err(e) => {
                hub.unregister(&shard);
                return Err(e);
            }
        };
        Ok(Recorder {
            enabled: s.enabled,
            next_flush_ms: now_ms.saturating_add(s.flush_interval_ms),
            seen_epoch: hub.flush_epoch.load(Relaxed),
            hists: Hist::all().into_iter().map(new_hist).collect(),
            hists_dirty: false,
            windows: PendingWindows::new(now_ms / MINUTE_MS),
            events: EventRing::new(s.buffer_size as usize),
            detectors,
            now_ms,
            shard,
            hub,
        })
    }

    /// The recorder's name (`worker-<n>` for workers).
    pub fn name(&self) -> &str {
        &self.shard.name
    }

    /// The worker index, for worker recorders.
    pub fn worker(&self) -> Option<u32> {
        self.shard.worker
    }

    /// The time given to the last `tick`, ms.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Set the clock (once per batch or request; time is always passed in) and publish if
    /// `flush_interval_ms` has passed or a reader asked. Returns true if it published
    /// everything it held.
    pub fn tick(&mut self, now_ms: u64) -> bool {
        if !self.enabled {
            return false;
        }
        let went_back = now_ms < self.now_ms;
        self.now_ms = now_ms;
        let minute = now_ms / MINUTE_MS;
        if minute != self.windows.current_minute() && !self.windows.rotate(minute) {
            // Several minutes went unpublished (readers held the lock each time): wait once.
            self.publish(true);
            self.windows.rotate(minute);
        }
        let epoch = self.hub.flush_epoch.load(Relaxed);
        if now_ms >= self.next_flush_ms || epoch != self.seen_epoch || went_back {
            self.seen_epoch = epoch;
            self.next_flush_ms = now_ms.saturating_add(self.hub.settings.flush_interval_ms);
            return self.publish(false);
        }
        false
    }

    /// Publish histograms, windows and events without waiting. Returns false if a reader
    /// held a lock; what was not published stays here for next time.
    pub fn flush(&mut self) -> bool {
        self.publish(false)
    }

    /// Publish everything, waiting for readers if needed (before parking or exiting).
    pub fn flush_blocking(&mut self) {
        self.publish(true);
    }

    fn publish(&mut self, wait: bool) -> bool {
        fn guard<T>(m: &Mutex<T>, wait: bool) -> Option<parking_lot::MutexGuard<'_, T>> {
            if wait { Some(m.lock()) } else { m.try_lock() }
        }
        let mut complete = true;
        if self.hists_dirty {
            match guard(&self.hub.hists, wait) {
                Some(mut shared) => {
                    for (dst, src) in shared.iter_mut().zip(self.hists.iter_mut()) {
                        if !src.is_empty() {
                            dst.add(src);
                            src.reset();
                        }
                    }
                    self.hists_dirty = false;
                }
                None => complete = false,
            }
        }
        if self.windows.has_data() {
            match guard::<WindowStore>(&self.hub.windows, wait) {
                Some(mut store) => self.windows.drain_into(&mut store),
                None => complete = false,
            }
        }
        if !self.events.is_empty() {
            match guard(&self.hub.events, wait) {
                Some(mut ring) => self.events.drain_into(&mut ring),
                None => complete = false,
            }
        }
        complete
    }

    /// Add one to a counter.
    #[inline]
    pub fn inc(&mut self, c: Counter) {
        self.add(c, 1);
    }

    /// Add `n` to a counter.
    #[inline]
    pub fn add(&mut self, c: Counter, n: u64) {
        if !self.enabled {
            return;
        }
        let cell = &self.shard.counters[c.slot()];
        // Single writer: a plain load and store, no locked read-modify-write.
        cell.store(cell.load(Relaxed).wrapping_add(n), Relaxed);
    }

    /// Set this recorder's part of a gauge.
    #[inline]
    pub fn set_gauge(&mut self, g: Gauge, value: i64) {
        if self.enabled {
            self.shard.gauges[g.slot()].store(value, Relaxed);
        }
    }

    /// Move this recorder's part of a gauge by `delta`.
    #[inline]
    pub fn add_gauge(&mut self, g: Gauge, delta: i64) {
        if self.enabled {
            let cell = &self.shard.gauges[g.slot()];
            cell.store(cell.load(Relaxed).wrapping_add(delta), Relaxed);
        }
    }

    /// Record a duration into a histogram (exposed in seconds).
    #[inline]
    pub fn record_duration(&mut self, h: Hist, d: Duration) {
        if !self.enabled {
            return;
        }
        if h.spec().scale == MICROS {
            self.record_stored(h, micros(d));
        } else {
            self.record_value(h, d.as_secs_f64());
        }
    }

    /// Record a value in the histogram's exposed unit (seconds, ratio, currency units).
    /// Negative or NaN values are recorded as 0 and counted as clamped.
    #[inline]
    pub fn record_value(&mut self, h: Hist, value: f64) {
        if !self.enabled {
            return;
        }
        let scaled = value * h.spec().scale;
        if scaled >= 0.0 {
            self.record_stored(h, scaled.round() as u64);
        } else {
            self.inc(Counter::ClampedValues);
            self.record_stored(h, 0);
        }
    }

    #[inline]
    fn record_stored(&mut self, h: Hist, stored: u64) {
        self.hists_dirty = true;
        if self.hists[h.slot()].record(stored) {
            self.inc(Counter::ClampedValues);
        }
    }

    #[inline]
    fn watch(&mut self, metric: AnomalyMetric, value: f64) {
        if let Some(dev) = self.detectors[metric.index()].observe(value) {
            self.flag(metric, value, dev);
        }
    }

    #[cold]
    fn flag(&mut self, metric: AnomalyMetric, value: f64, dev: Deviation) {
        self.inc(Counter::Anomalies(metric));
        self.events.push(AnomalyEvent {
            metric,
            value,
            mean: dev.mean,
            stddev: dev.stddev,
            at_ms: self.now_ms,
        });
    }

    fn ratio(&mut self, value: Option<f64>) -> Option<f64> {
        let v = value?;
        if (0.0..=1.0).contains(&v) {
            Some(v)
        } else {
            self.inc(Counter::ClampedValues);
            (!v.is_nan()).then(|| v.clamp(0.0, 1.0))
        }
    }

    /// A coordination request finished: counts it by protocol and result, records its
    /// duration (histogram, minute window, anomaly watch) and, when the protocol reports
    /// one, its efficiency for the window's mean (values outside 0..=1 are clamped).
    #[inline]
    pub fn record_coordination(
        &mut self,
        protocol: Protocol,
        outcome: Outcome,
        duration: Duration,
        efficiency: Option<f64>,
    ) {
        if !self.enabled {
            return;
        }
        self.inc(Counter::CoordinationRequests(protocol, outcome));
        let us = micros(duration);
        self.record_stored(Hist::CoordinationDuration(protocol), us);
        let efficiency = self.ratio(efficiency);
        self.windows.record(protocol, outcome, us, efficiency);
        self.watch(
            AnomalyMetric::coordination_duration(protocol),
            us as f64 / MICROS,
        );
    }

    /// A coordination request was refused before it ran.
    #[inline]
    pub fn record_rejection(&mut self, reason: RejectReason) {
        self.inc(Counter::CoordinationRejected(reason));
    }

    /// An auction cleared with `bids` bids after `duration`, at `efficiency` when known.
    pub fn record_auction(
        &mut self,
        kind: AuctionType,
        bids: u64,
        duration: Duration,
        efficiency: Option<f64>,
    ) {
        if !self.enabled {
            return;
        }
        self.inc(Counter::Auctions(kind));
        self.add(Counter::AuctionBids, bids);
        self.record_stored(Hist::AuctionDuration, micros(duration));
        if let Some(e) = self.ratio(efficiency) {
            self.record_value(Hist::AuctionEfficiency, e);
            self.watch(AnomalyMetric::AuctionEfficiency, e);
        }
    }

    /// A market cleared: `volume` traded at `clearing_price_micros` (money micro-units;
    /// `None` when nothing traded), at `efficiency` when known. A clearing with volume and
    /// a price counts as an equilibrium found.
    pub fn record_market(
        &mut self,
        volume: u64,
        clearing_price_micros: Option<i64>,
        efficiency: Option<f64>,
    ) {
        if !self.enabled {
            return;
        }
        self.add(Counter::MarketVolume, volume);
        if let (true, Some(price)) = (volume > 0, clearing_price_micros) {
            self.inc(Counter::MarketEquilibria);
            let stored = u64::try_from(price).unwrap_or_else(|_| {
                self.inc(Counter::ClampedValues);
                0
            });
            self.record_stored(Hist::MarketClearingPrice, stored);
            self.watch(
                AnomalyMetric::MarketClearingPrice,
                stored as f64 / MONEY_SCALE,
            );
        }
        if let Some(e) = self.ratio(efficiency) {
            self.record_value(Hist::MarketEfficiency, e);
            self.watch(AnomalyMetric::MarketEfficiency, e);
        }
    }

    /// An agent changed state (`None` = not present): moves the agents-by-state gauge.
    #[inline]
    pub fn agent_transition(&mut self, from: Option<AgentState>, to: Option<AgentState>) {
        if let Some(s) = from {
            self.add_gauge(Gauge::Agents(s), -1);
        }
        if let Some(s) = to {
            self.add_gauge(Gauge::Agents(s), 1);
        }
    }

    /// A worker tick ran for `duration` and handled `commands`; `stalled` when it overran
    /// its budget.
    #[inline]
    pub fn record_tick(&mut self, duration: Duration, commands: u64, stalled: bool) {
        if !self.enabled {
            return;
        }
        let us = micros(duration);
        self.record_stored(Hist::TickDuration, us);
        self.add(Counter::RuntimeCommands, commands);
        if stalled {
            self.inc(Counter::RuntimeStalls);
        }
        self.watch(AnomalyMetric::TickDuration, us as f64 / MICROS);
    }

    /// The worker is about to park: counts it and publishes everything (waiting if a
    /// reader holds a lock), so an idle worker's data is not held back.
    pub fn record_park(&mut self) {
        self.inc(Counter::RuntimeParks);
        if self.enabled {
            self.publish(true);
        }
    }

    /// A command was refused because this worker's inbox was full.
    #[inline]
    pub fn record_inbox_full(&mut self) {
        self.inc(Counter::RuntimeInboxFull);
    }

    /// Commands waiting in this worker's inbox.
    #[inline]
    pub fn set_inbox_depth(&mut self, depth: usize) {
        self.set_gauge(Gauge::InboxDepth, i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// A maintenance sweep paused this worker for `pause`.
    pub fn record_sweep(&mut self, pause: Duration) {
        if !self.enabled {
            return;
        }
        self.inc(Counter::GcSweeps);
        let us = micros(pause);
        self.record_stored(Hist::SweepPause, us);
        self.watch(AnomalyMetric::SweepPause, us as f64 / MICROS);
    }

    /// Items this worker has retired but not yet reclaimed.
    #[inline]
    pub fn set_reclaim_backlog(&mut self, items: u64) {
        self.set_gauge(
            Gauge::ReclaimBacklog,
            i64::try_from(items).unwrap_or(i64::MAX),
        );
    }

    /// Bytes this recorder holds for histograms (for sizing; allocated at creation).
    pub fn histogram_bytes(&self) -> usize {
        self.hists.iter().map(BoundedHist::footprint_bytes).sum()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if self.enabled {
            self.publish(true);
        }
        self.hub.unregister(&self.shard);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{Telemetry, TelemetrySettings};

    #[test]
    fn flush_does_not_wait_for_a_reader_and_loses_nothing() {
        let t = Telemetry::new(TelemetrySettings::default()).unwrap();
        let mut rec = t.recorder("tester", 0).unwrap();
        rec.record_duration(Hist::SweepPause, Duration::from_micros(700));
        rec.record_coordination(
            Protocol::Market,
            Outcome::Success,
            Duration::from_micros(9),
            None,
        );
        {
            // A reader holding every lock, as a long scrape would.
            let _h = t.hub.hists.lock();
            let _w = t.hub.windows.lock();
            assert!(
                !rec.flush(),
                "flush reports it could not publish instead of waiting"
            );
        }
        assert_eq!(t.histogram(Hist::SweepPause).count, 0);
        assert!(rec.flush());
        assert_eq!(t.histogram(Hist::SweepPause).count, 1);
        let s = t
            .coordination_metrics(Some("market"), crate::telemetry::Window::OneMinute, 0)
            .unwrap();
        assert_eq!(s.count, 1);
    }

    #[test]
    fn bad_values_are_clamped_and_counted() {
        let t = Telemetry::new(TelemetrySettings::default()).unwrap();
        let mut rec = t.recorder("tester", 0).unwrap();
        rec.record_value(Hist::MarketClearingPrice, -3.0);
        rec.record_value(Hist::TickDuration, f64::NAN);
        rec.record_duration(Hist::TickDuration, Duration::from_secs(3600));
        rec.record_market(5, Some(-1), Some(1.5));
        assert_eq!(t.counter(Counter::ClampedValues), 5);
        rec.flush();
        assert_eq!(t.histogram(Hist::TickDuration).count, 2);
        assert_eq!(t.histogram(Hist::MarketEfficiency).max, 1.0);
    }

    #[test]
    fn histogram_memory_per_recorder_is_bounded() {
        let t = Telemetry::new(TelemetrySettings::default()).unwrap();
        let rec = t.recorder("tester", 0).unwrap();
        assert!(
            rec.histogram_bytes() < 3 * 1024 * 1024,
            "{}",
            rec.histogram_bytes()
        );
    }
}
