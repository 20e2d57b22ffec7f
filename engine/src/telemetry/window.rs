//! Windowed coordination summaries: per-minute buckets in a bounded ring.
//!
//! Each recorder accumulates the current minute locally (one `MinuteSet`: a `MinuteStats`
//! per protocol) and merges it into the hub's `WindowStore` when it flushes. The store
//! keeps the current minute and the `retention_minutes` whole minutes before it, oldest
//! first; anything older is dropped on insertion and by `cleanup(now)`. A window of `n`
//! minutes reads the last `n` whole minutes plus the current one, so it never misses data
//! and over-covers by at most the current partial minute (`from_ms`/`to_ms` say exactly
//! what was covered). Durations here use a coarse HDR histogram (1 significant digit:
//! quantiles within about 6%) so a day of minutes stays small.

use std::collections::VecDeque;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::TelemetryError;
use super::families::MICROS;
use super::hist::{BoundedHist, Spread};
use super::labels::{Outcome, Protocol};

/// Milliseconds per bucket.
pub const MINUTE_MS: u64 = 60_000;
/// Highest duration a window bucket tracks exactly, microseconds (longer ones are clamped).
const WINDOW_HIGH_US: u64 = 3_600_000_000;
/// Significant digits of the window histograms.
const WINDOW_SIGFIG: u8 = 1;
/// Evicted buckets kept for reuse.
const FREE_MAX: usize = 8;

/// A summary window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Window {
    /// The last minute (`"1m"`).
    #[serde(rename = "1m")]
    OneMinute,
    /// The last hour (`"1h"`).
    #[serde(rename = "1h")]
    OneHour,
    /// The last day (`"24h"`).
    #[serde(rename = "24h")]
    OneDay,
}

impl Window {
    /// Every window.
    pub const ALL: [Window; 3] = [Window::OneMinute, Window::OneHour, Window::OneDay];

    /// Whole minutes covered (besides the current one).
    pub const fn minutes(self) -> u64 {
        match self {
            Window::OneMinute => 1,
            Window::OneHour => 60,
            Window::OneDay => 1440,
        }
    }

    /// The query text: `1m`, `1h`, `24h`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Window::OneMinute => "1m",
            Window::OneHour => "1h",
            Window::OneDay => "24h",
        }
    }
}

impl FromStr for Window {
    type Err = TelemetryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Window::ALL
            .into_iter()
            .find(|w| w.as_str() == s)
            .ok_or_else(|| TelemetryError::UnknownLabel {
                kind: "window",
                value: s.chars().take(64).collect(),
                expected: "1m, 1h, 24h".to_owned(),
            })
    }
}

/// Coordination results over a window (JSON for `GET /api/metrics/coordination`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoordinationSummary {
    /// The protocol, or `"all"`.
    pub protocol: &'static str,
    /// The window asked for.
    pub window: Window,
    /// Start of the oldest minute read, ms.
    pub from_ms: u64,
    /// The `now_ms` the summary was taken at.
    pub to_ms: u64,
    /// Requests finished (`successes + failures`).
    pub count: u64,
    /// Requests that succeeded.
    pub successes: u64,
    /// Requests that failed, including timeouts.
    pub failures: u64,
    /// Of the failures, those that timed out.
    pub timeouts: u64,
    /// `successes / count`; null when `count` is 0.
    pub success_rate: Option<f64>,
    /// Median duration, seconds (one significant digit, never above `max_seconds`); null
    /// when `count` is 0.
    pub p50_seconds: Option<f64>,
    /// 90th percentile duration, seconds.
    pub p90_seconds: Option<f64>,
    /// 99th percentile duration, seconds.
    pub p99_seconds: Option<f64>,
    /// Longest duration, seconds (exact).
    pub max_seconds: Option<f64>,
    /// Mean duration, seconds (exact).
    pub mean_seconds: Option<f64>,
    /// Mean efficiency of requests that reported one (auctions, markets); null otherwise.
    pub mean_efficiency: Option<f64>,
}

/// One protocol's results within one minute.
#[derive(Clone, Debug)]
pub(crate) struct MinuteStats {
    successes: u64,
    failures: u64,
    timeouts: u64,
    efficiency_sum: f64,
    efficiency_count: u64,
    max_us: u64,
    durations: BoundedHist,
}

impl MinuteStats {
    fn new() -> MinuteStats {
        MinuteStats {
            successes: 0,
            failures: 0,
            timeouts: 0,
            efficiency_sum: 0.0,
            efficiency_count: 0,
            max_us: 0,
            // Constant bounds (1..=1h in microseconds, one significant digit), built by
            // every test; hdrhistogram accepts them.
            durations: BoundedHist::new(WINDOW_HIGH_US, WINDOW_SIGFIG)
                .expect("window histogram bounds are constant and valid"),
        }
    }

    #[inline]
    fn record(&mut self, outcome: Outcome, duration_us: u64, efficiency: Option<f64>) {
        match outcome {
            Outcome::Success => self.successes += 1,
            Outcome::Failure => self.failures += 1,
            Outcome::Timeout => self.timeouts += 1,
        }
        self.max_us = self.max_us.max(duration_us);
        self.durations.record(duration_us);
        if let Some(e) = efficiency {
            self.efficiency_sum += e;
            self.efficiency_count += 1;
        }
    }

    fn count(&self) -> u64 {
        self.successes + self.failures + self.timeouts
    }

    fn add(&mut self, other: &MinuteStats) {
        self.successes += other.successes;
        self.failures += other.failures;
        self.timeouts += other.timeouts;
        self.efficiency_sum += other.efficiency_sum;
        self.efficiency_count += other.efficiency_count;
        self.max_us = self.max_us.max(other.max_us);
        self.durations.add(&other.durations);
    }

    fn reset(&mut self) {
        self.successes = 0;
        self.failures = 0;
        self.timeouts = 0;
        self.efficiency_sum = 0.0;
        self.efficiency_count = 0;
        self.max_us = 0;
        self.durations.reset();
    }
}

/// One minute of every protocol.
#[derive(Clone, Debug)]
pub(crate) struct MinuteSet {
    per_protocol: Box<[MinuteStats]>,
}

impl MinuteSet {
    pub(crate) fn new() -> MinuteSet {
        MinuteSet {
            per_protocol: (0..Protocol::COUNT).map(|_| MinuteStats::new()).collect(),
        }
    }

    #[inline]
    pub(crate) fn record(
        &mut self,
        protocol: Protocol,
        outcome: Outcome,
        duration_us: u64,
        efficiency: Option<f64>,
    ) {
        self.per_protocol[protocol.index()].record(outcome, duration_us, efficiency);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.per_protocol.iter().all(|s| s.count() == 0)
    }

    pub(crate) fn add(&mut self, other: &MinuteSet) {
        for (a, b) in self.per_protocol.iter_mut().zip(other.per_protocol.iter()) {
            if b.count() > 0 {
                a.add(b);
            }
        }
    }

    pub(crate) fn reset(&mut self) {
        for s in self.per_protocol.iter_mut() {
            s.reset();
        }
    }
}

/// Result of a cleanup pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CleanupReport {
    /// Minute buckets removed.
    pub buckets_removed: usize,
    /// Minute buckets still held.
    pub buckets_kept: usize,
}

/// The hub's ring of minute buckets, oldest first.
#[derive(Debug)]
pub(crate) struct WindowStore {
    retention: u64,
    buckets: VecDeque<(u64, MinuteSet)>,
    free: Vec<MinuteSet>,
    late_dropped: u64,
}

impl WindowStore {
    pub(crate) fn new(retention_minutes: u32) -> WindowStore {
        let retention = u64::from(retention_minutes.max(1));
        WindowStore {
            retention,
            buckets: VecDeque::with_capacity(retention as usize + 1),
            free: Vec::new(),
            late_dropped: 0,
        }
    }

    /// Buckets older than this minute are out of retention, seen from `newest`.
    fn oldest_kept(&self, newest: u64) -> u64 {
        newest.saturating_sub(self.retention)
    }

    /// Merge one recorder's minute into the store.
    pub(crate) fn merge(&mut self, minute: u64, set: &MinuteSet) {
        let newest = self
            .buckets
            .back()
            .map_or(minute, |(m, _)| (*m).max(minute));
        if minute < self.oldest_kept(newest) {
            self.late_dropped += 1;
            return;
        }
        let pos = self.buckets.partition_point(|(m, _)| *m < minute);
        match self.buckets.get_mut(pos) {
            Some((m, existing)) if *m == minute => existing.add(set),
            _ => {
                let mut fresh = self.free.pop().unwrap_or_else(MinuteSet::new);
                fresh.add(set);
                self.buckets.insert(pos, (minute, fresh));
            }
        }
        self.evict_before(self.oldest_kept(newest));
    }

    fn evict_before(&mut self, oldest_kept: u64) -> usize {
        let mut removed = 0;
        while self.buckets.front().is_some_and(|(m, _)| *m < oldest_kept) {
            if let Some((_, mut set)) = self.buckets.pop_front() {
                removed += 1;
                if self.free.len() < FREE_MAX {
                    set.reset();
                    self.free.push(set);
                }
            }
        }
        removed
    }

    /// Drop every bucket out of retention at `now_ms`.
    pub(crate) fn cleanup(&mut self, now_ms: u64) -> CleanupReport {
        let removed = self.evict_before(self.oldest_kept(now_ms / MINUTE_MS));
        CleanupReport {
            buckets_removed: removed,
            buckets_kept: self.buckets.len(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Buckets that arrived after they had left retention.
    pub(crate) fn late_dropped(&self) -> u64 {
        self.late_dropped
    }

    /// Summarise `window` ending at `now_ms` for one protocol or all.
    pub(crate) fn summary(
        &self,
        protocol: Option<Protocol>,
        window: Window,
        now_ms: u64,
    ) -> CoordinationSummary {
        let now_min = now_ms / MINUTE_MS;
        let from_min = now_min.saturating_sub(window.minutes());
        let mut acc = MinuteStats::new();
        for (_, set) in self
            .buckets
            .iter()
            .filter(|(m, _)| *m >= from_min && *m <= now_min)
        {
            match protocol {
                Some(p) => acc.add(&set.per_protocol[p.index()]),
                None => set.per_protocol.iter().for_each(|s| acc.add(s)),
            }
        }
        let count = acc.count();
        let Spread {
            quantiles: [p50, p90, p99],
            max,
        } = acc.durations.spread([0.5, 0.9, 0.99], Some(acc.max_us));
        let secs = |us: u64| us as f64 / MICROS;
        let some = |v: f64| (count > 0).then_some(v);
        CoordinationSummary {
            protocol: protocol.map_or("all", Protocol::as_str),
            window,
            from_ms: from_min * MINUTE_MS,
            to_ms: now_ms,
            count,
            successes: acc.successes,
            failures: acc.failures + acc.timeouts,
            timeouts: acc.timeouts,
            success_rate: some(acc.successes as f64 / count.max(1) as f64),
            p50_seconds: some(secs(p50)),
            p90_seconds: some(secs(p90)),
            p99_seconds: some(secs(p99)),
            max_seconds: some(secs(max)),
            mean_seconds: some(acc.durations.sum() as f64 / count.max(1) as f64 / MICROS),
            mean_efficiency: (acc.efficiency_count > 0)
                .then(|| acc.efficiency_sum / acc.efficiency_count as f64),
        }
    }
}

/// A recorder's unpublished minutes: the current one last.
#[derive(Debug)]
pub(crate) struct PendingWindows {
    entries: Vec<(u64, MinuteSet)>,
    spares: Vec<MinuteSet>,
}

/// Minutes a recorder holds before it must publish (blocking if it has to).
pub(crate) const PENDING_MAX: usize = 4;

impl PendingWindows {
    pub(crate) fn new(now_minute: u64) -> PendingWindows {
        let mut entries = Vec::with_capacity(PENDING_MAX);
        entries.push((now_minute, MinuteSet::new()));
        PendingWindows {
            entries,
            spares: Vec::with_capacity(PENDING_MAX),
        }
    }

    /// The minute being recorded into.
    #[inline]
    pub(crate) fn current_minute(&self) -> u64 {
        self.entries.last().map_or(0, |(m, _)| *m)
    }

    /// Start recording into `minute`. Returns false when the pending list is full and the
    /// caller must publish first.
    pub(crate) fn rotate(&mut self, minute: u64) -> bool {
        if let Some((m, set)) = self.entries.last_mut()
            && set.is_empty()
        {
            *m = minute;
            return true;
        }
        if self.entries.len() >= PENDING_MAX {
            return false;
        }
        let set = self.spares.pop().unwrap_or_else(MinuteSet::new);
        self.entries.push((minute, set));
        true
    }

    #[inline]
    pub(crate) fn record(
        &mut self,
        protocol: Protocol,
        outcome: Outcome,
        duration_us: u64,
        efficiency: Option<f64>,
    ) {
        if let Some((_, set)) = self.entries.last_mut() {
            set.record(protocol, outcome, duration_us, efficiency);
        }
    }

    pub(crate) fn has_data(&self) -> bool {
        self.entries.iter().any(|(_, s)| !s.is_empty())
    }

    /// Publish everything into `store`; keep only the (now empty) current minute.
    pub(crate) fn drain_into(&mut self, store: &mut WindowStore) {
        let current = self.current_minute();
        for (minute, set) in self.entries.iter_mut() {
            if !set.is_empty() {
                store.merge(*minute, set);
                set.reset();
            }
        }
        while self.entries.len() > 1 {
            if let Some((_, set)) = self.entries.pop() {
                self.spares.push(set);
            }
        }
        if let Some((m, _)) = self.entries.first_mut() {
            *m = current;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn store_stays_sorted_bounded_and_exact(
            retention in 1u32..20,
            minutes in proptest::collection::vec(0u64..60, 1..80),
        ) {
            let mut store = WindowStore::new(retention);
            let mut newest = 0u64;
            let mut merged: Vec<u64> = Vec::new();
            for m in &minutes {
                newest = newest.max(*m);
                store.merge(*m, &set_with(Protocol::Consensus, Outcome::Success, 5, 1));
                merged.push(*m);
                let ms: Vec<u64> = store.buckets.iter().map(|(m, _)| *m).collect();
                prop_assert!(ms.windows(2).all(|w| w[0] < w[1]), "sorted, unique: {:?}", ms);
                prop_assert!(ms.len() <= retention as usize + 1);
            }
            // Everything merged at or after the retention edge seen at its arrival is counted.
            let s = store.summary(None, Window::OneDay, newest * MINUTE_MS);
            let edge = newest.saturating_sub(u64::from(retention));
            let mut expected = 0;
            let mut seen_newest = 0u64;
            for m in &merged {
                seen_newest = seen_newest.max(*m);
                if *m >= seen_newest.saturating_sub(u64::from(retention)) && *m >= edge {
                    expected += 1;
                }
            }
            prop_assert_eq!(s.count, expected);
        }
    }

    fn set_with(p: Protocol, o: Outcome, us: u64, n: usize) -> MinuteSet {
        let mut s = MinuteSet::new();
        for _ in 0..n {
            s.record(p, o, us, None);
        }
        s
    }

    #[test]
    fn store_keeps_retention_plus_current() {
        let mut store = WindowStore::new(3);
        for minute in 0..10 {
            store.merge(
                minute,
                &set_with(Protocol::Market, Outcome::Success, 100, 1),
            );
        }
        assert_eq!(store.len(), 4, "minutes 6,7,8 and current 9");
        store.merge(2, &set_with(Protocol::Market, Outcome::Success, 100, 1));
        assert_eq!(store.late_dropped(), 1);
        let r = store.cleanup(12 * MINUTE_MS);
        assert_eq!(r.buckets_removed, 3);
        assert_eq!(r.buckets_kept, 1);
    }

    #[test]
    fn pending_rotates_and_drains_in_order() {
        let mut p = PendingWindows::new(5);
        p.record(Protocol::Auction, Outcome::Success, 10, Some(1.0));
        assert!(p.rotate(6));
        p.record(Protocol::Auction, Outcome::Failure, 20, None);
        let mut store = WindowStore::new(60);
        p.drain_into(&mut store);
        assert_eq!(store.len(), 2);
        assert_eq!(p.current_minute(), 6);
        assert!(!p.has_data());
        let s = store.summary(Some(Protocol::Auction), Window::OneMinute, 6 * MINUTE_MS);
        assert_eq!((s.count, s.successes, s.failures), (2, 1, 1));
        assert_eq!(s.mean_efficiency, Some(1.0));
    }

    #[test]
    fn pending_refuses_beyond_its_limit() {
        let mut p = PendingWindows::new(0);
        for m in 1..PENDING_MAX as u64 {
            p.record(Protocol::Variable, Outcome::Success, 1, None);
            assert!(p.rotate(m));
        }
        p.record(Protocol::Variable, Outcome::Success, 1, None);
        assert!(!p.rotate(99));
    }

    #[test]
    fn window_parses() {
        assert_eq!("24h".parse::<Window>().unwrap(), Window::OneDay);
        assert!("2h".parse::<Window>().is_err());
        assert_eq!(serde_json::to_string(&Window::OneHour).unwrap(), "\"1h\"");
    }
}
