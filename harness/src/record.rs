//! Recording: per-thread interval histograms, recycled, merged once a second.
//!
//! Each load thread records into its own [`Interval`] (no sharing, no lock). Once a
//! second it sends the interval to the collector and carries on with a spare one the
//! collector handed back, so after start-up the histograms are reused, never allocated
//! per request: the harness's memory stays flat however long it runs.

use hdrhistogram::Histogram;

/// Lowest recordable value (µs).
pub const LOW_US: u64 = 1;
/// Highest recordable value (µs): one minute.
pub const HIGH_US: u64 = 60_000_000;
/// Significant digits kept.
pub const SIGFIG: u8 = 3;

/// A histogram with the harness's bounds.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LOW_US, HIGH_US, SIGFIG).expect("static bounds are valid")
}

/// Records `us`, clamped into the histogram's range (a clamped value is counted in
/// `clamped`, so it is never silently lost).
pub fn record(h: &mut Histogram<u64>, us: u64, clamped: &mut u64) {
    let v = us.clamp(LOW_US, HIGH_US);
    if us > HIGH_US {
        *clamped += 1;
    }
    // In range by construction.
    let _ = h.record(v);
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The connection could not be opened.
    Connect,
    /// Reading or writing failed, or the answer could not be parsed.
    Io,
    /// No answer within `--timeout`.
    Timeout,
    /// An answer whose status the entry does not expect.
    Status,
}

/// Counts of failures by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Failures {
    /// Connect errors.
    pub connect: u64,
    /// I/O and protocol errors.
    pub io: u64,
    /// Timeouts.
    pub timeout: u64,
    /// Unexpected statuses.
    pub status: u64,
}

impl Failures {
    /// Total failures.
    pub fn total(&self) -> u64 {
        self.connect + self.io + self.timeout + self.status
    }

    /// Adds one failure of `kind`.
    pub fn count(&mut self, kind: Failure) {
        match kind {
            Failure::Connect => self.connect += 1,
            Failure::Io => self.io += 1,
            Failure::Timeout => self.timeout += 1,
            Failure::Status => self.status += 1,
        }
    }

    fn add(&mut self, o: &Failures) {
        self.connect += o.connect;
        self.io += o.io;
        self.timeout += o.timeout;
        self.status += o.status;
    }
}

/// What one entry saw.
#[derive(Debug, Clone)]
pub struct EntryRec {
    /// Latency from the intended start (µs).
    pub latency: Histogram<u64>,
    /// Answers that met expectations.
    pub ok: u64,
    /// Failures.
    pub failures: Failures,
}

impl EntryRec {
    fn new() -> EntryRec {
        EntryRec {
            latency: histogram(),
            ok: 0,
            failures: Failures::default(),
        }
    }
}

/// One thread's recording for one interval (about a second).
#[derive(Debug, Clone)]
pub struct Interval {
    /// Which second of the run (from the start of the measured phase) this covers.
    pub second: u64,
    /// Overall latency from the intended start (µs); in a closed loop, from the send.
    pub latency: Histogram<u64>,
    /// Service time: from the actual send to the answer (µs).
    pub service: Histogram<u64>,
    /// Send lag: how late the send was against its intended start (µs).
    pub lag: Histogram<u64>,
    /// Per entry.
    pub entries: Vec<EntryRec>,
    /// Successful answers.
    pub ok: u64,
    /// Failures.
    pub failures: Failures,
    /// Response bytes read.
    pub bytes: u64,
    /// Values above the histogram range.
    pub clamped: u64,
    /// Requests completed during warm-up (not in the histograms).
    pub warmup: u64,
    /// Requests due in the measured phase but never sent (the window closed first).
    pub unsent: u64,
    /// Measured answers by the node that gave them (`X-Mabeam-Node`).
    pub nodes: NodeCounts,
    /// The sending thread's index.
    pub thread: usize,
    /// The thread's last interval: it has finished.
    pub last: bool,
}

impl Interval {
    /// An empty interval for `entries` entries.
    pub fn new(entries: usize) -> Interval {
        Interval {
            second: 0,
            latency: histogram(),
            service: histogram(),
            lag: histogram(),
            entries: (0..entries).map(|_| EntryRec::new()).collect(),
            ok: 0,
            failures: Failures::default(),
            bytes: 0,
            clamped: 0,
            warmup: 0,
            unsent: 0,
            nodes: NodeCounts::default(),
            thread: 0,
            last: false,
        }
    }

    /// Requests finished (ok or failed).
    pub fn requests(&self) -> u64 {
        self.ok + self.failures.total()
    }

    /// Records a finished request.
    pub fn success(&mut self, entry: usize, latency_us: u64, service_us: u64, lag_us: u64) {
        let mut ignored = 0;
        record(&mut self.latency, latency_us, &mut self.clamped);
        record(&mut self.service, service_us, &mut ignored);
        record(&mut self.lag, lag_us.max(LOW_US), &mut ignored);
        let single = self.entries.len() == 1;
        let e = &mut self.entries[entry];
        // With one entry its histogram equals the overall one: filled in by
        // `finish_single` on the totals instead of per request.
        if !single {
            record(&mut e.latency, latency_us, &mut ignored);
        }
        e.ok += 1;
        self.ok += 1;
    }

    /// Records a failed request. Its latency still counts (a slow error is slow).
    pub fn failure(&mut self, entry: usize, kind: Failure, latency_us: Option<u64>) {
        if let Some(l) = latency_us {
            let mut ignored = 0;
            record(&mut self.latency, l, &mut self.clamped);
            if self.entries.len() > 1 {
                record(&mut self.entries[entry].latency, l, &mut ignored);
            }
        }
        self.entries[entry].failures.count(kind);
        self.failures.count(kind);
    }

    /// Adds `o` into `self`.
    pub fn merge(&mut self, o: &Interval) {
        // Same bounds everywhere: addition cannot fail.
        let _ = self.latency.add(&o.latency);
        let _ = self.service.add(&o.service);
        let _ = self.lag.add(&o.lag);
        for (a, b) in self.entries.iter_mut().zip(&o.entries) {
            let _ = a.latency.add(&b.latency);
            a.ok += b.ok;
            a.failures.add(&b.failures);
        }
        self.ok += o.ok;
        self.failures.add(&o.failures);
        self.bytes += o.bytes;
        self.clamped += o.clamped;
        self.warmup += o.warmup;
        self.unsent += o.unsent;
        self.nodes.merge(&o.nodes);
    }

    /// With a single entry, copies the overall latency into the entry's histogram
    /// (which recording skips to save a histogram update per request).
    pub fn finish_single(&mut self) {
        if self.entries.len() == 1 {
            let _ = self.entries[0].latency.set_to(&self.latency);
        }
    }

    /// Empties the interval for reuse (keeps the allocations).
    pub fn reset(&mut self) {
        self.latency.reset();
        self.service.reset();
        self.lag.reset();
        for e in &mut self.entries {
            e.latency.reset();
            e.ok = 0;
            e.failures = Failures::default();
        }
        self.ok = 0;
        self.failures = Failures::default();
        self.bytes = 0;
        self.clamped = 0;
        self.warmup = 0;
        self.unsent = 0;
        self.nodes.reset();
        self.last = false;
    }
}

/// Most distinct node names counted; answers from further nodes count as `other`.
pub const NODES_MAX: usize = 64;

/// Answers per node, from the `X-Mabeam-Node` response header: how a cluster's proxy
/// spread the run's keys. Names are kept in first-seen order; a handful of nodes makes a
/// linear search the fastest lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeCounts {
    /// `(node, answers)`, at most [`NODES_MAX`] names.
    pub named: Vec<(String, u64)>,
    /// Answers from nodes beyond the first [`NODES_MAX`].
    pub other: u64,
}

impl NodeCounts {
    /// Counts `n` answers from `node`.
    pub fn add(&mut self, node: &[u8], n: u64) {
        if let Some(e) = self.named.iter_mut().find(|(k, _)| k.as_bytes() == node) {
            e.1 += n;
        } else if self.named.len() < NODES_MAX {
            self.named
                .push((String::from_utf8_lossy(node).into_owned(), n));
        } else {
            self.other += n;
        }
    }

    /// Adds `o` into `self`.
    pub fn merge(&mut self, o: &NodeCounts) {
        for (k, v) in &o.named {
            self.add(k.as_bytes(), *v);
        }
        self.other += o.other;
    }

    /// Forgets the counts, keeping the names' storage.
    pub fn reset(&mut self) {
        self.named.clear();
        self.other = 0;
    }

    /// Answers that named a node.
    pub fn total(&self) -> u64 {
        self.named.iter().map(|(_, v)| v).sum::<u64>() + self.other
    }

    /// `(node, answers)` sorted by node name, `other` last when non-zero.
    pub fn sorted(&self) -> Vec<(String, u64)> {
        let mut v = self.named.clone();
        v.sort();
        if self.other > 0 {
            v.push(("other".to_owned(), self.other));
        }
        v
    }
}

/// One point of the per-second time series.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SecondPoint {
    /// Second of the measured phase.
    pub second: u64,
    /// Requests finished in it.
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
    /// Median latency (µs).
    pub p50_us: u64,
    /// 99th percentile latency (µs).
    pub p99_us: u64,
    /// Largest latency (µs).
    pub max_us: u64,
}

impl SecondPoint {
    /// Summarises one second's merged interval.
    pub fn of(i: &Interval) -> SecondPoint {
        SecondPoint {
            second: i.second,
            requests: i.requests(),
            errors: i.failures.total(),
            p50_us: i.latency.value_at_quantile(0.5),
            p99_us: i.latency.value_at_quantile(0.99),
            max_us: i.latency.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn node_counts_merge_sort_and_cap() {
        let mut a = super::NodeCounts::default();
        a.add(b"mabeam-1", 2);
        a.add(b"mabeam-0", 1);
        let mut b = super::NodeCounts::default();
        b.add(b"mabeam-1", 3);
        for i in 0..super::NODES_MAX {
            b.add(format!("n{i:02}").as_bytes(), 1);
        }
        a.merge(&b);
        assert_eq!(a.named.len(), super::NODES_MAX);
        assert_eq!(a.total(), 3 + 3 + super::NODES_MAX as u64);
        let sorted = a.sorted();
        assert_eq!(sorted[0], ("mabeam-0".to_owned(), 1));
        assert_eq!(sorted[1], ("mabeam-1".to_owned(), 5));
        assert_eq!(sorted.last().unwrap().0, "other");
        a.reset();
        assert_eq!(a.total(), 0);
    }

    use super::*;

    #[test]
    fn bounds_keep_small_and_large_values() {
        let mut i = Interval::new(1);
        i.success(0, 0, 3, 0);
        i.success(0, 250_000, 10, 5);
        i.failure(0, Failure::Timeout, Some(120_000_000));
        assert_eq!(i.latency.len(), 3);
        assert_eq!(i.clamped, 1);
        assert!(i.latency.max() >= 59_000_000);
        assert_eq!(i.latency.min(), 1);
        let mut j = Interval::new(1);
        j.merge(&i);
        j.merge(&i);
        assert_eq!(j.requests(), 6);
        assert_eq!(j.entries[0].failures.timeout, 2);
        j.reset();
        assert_eq!(j.requests(), 0);
        assert_eq!(j.latency.len(), 0);
    }
}
