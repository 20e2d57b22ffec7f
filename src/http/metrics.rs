//! HTTP metrics: per-thread request counters and latency histograms by route family,
//! merged on scrape, plus each HTTP thread's engine telemetry recorder.
//!
//! Each HTTP thread (`mabeam-http-N`) writes only its own [`ThreadStats`] (a relaxed load
//! and store per counter: one writer, no read-modify-write, no shared hot cache line), and
//! holds a telemetry [`Recorder`] in a thread-local for the one-shot coordinations it
//! clears. `/metrics` registers [`HttpCollector`] beside the engine's collector, so one
//! exposition carries both.

use crate::http::router::Family;
use mabeam_engine::telemetry::{Outcome, Protocol, Recorder, Telemetry};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;
use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// Upper bounds of the latency buckets, microseconds.
const BUCKETS_US: [u64; 14] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
    5_000_000,
];
/// Buckets per family, the last one unbounded.
const SLOTS: usize = BUCKETS_US.len() + 1;
/// Status classes 1xx..5xx.
const CLASSES: usize = 5;
const CLASS_NAMES: [&str; CLASSES] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

fn bump(cell: &AtomicU64, n: u64) {
    // Single writer (the owning HTTP thread): load and store, no locked add.
    cell.store(cell.load(Relaxed).wrapping_add(n), Relaxed);
}

fn zeros<const N: usize>() -> [AtomicU64; N] {
    std::array::from_fn(|_| AtomicU64::new(0))
}

/// What one HTTP thread records. Aligned so threads never share a cache line.
#[repr(align(128))]
#[derive(Debug)]
pub(crate) struct ThreadStats {
    requests: [AtomicU64; Family::COUNT * CLASSES],
    buckets: [AtomicU64; Family::COUNT * SLOTS],
    sum_us: [AtomicU64; Family::COUNT],
    open_connections: AtomicU64,
    refused_connections: AtomicU64,
    panics: AtomicU64,
    timeouts: AtomicU64,
    rate_limited: AtomicU64,
}

impl ThreadStats {
    fn new() -> Self {
        Self {
            requests: zeros(),
            buckets: zeros(),
            sum_us: zeros(),
            open_connections: AtomicU64::new(0),
            refused_connections: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
        }
    }

    /// One answered request.
    pub(crate) fn record(&self, family: Family, status: u16, elapsed: Duration) {
        let f = family.index();
        let class = usize::from(status / 100).clamp(1, CLASSES) - 1;
        bump(&self.requests[f * CLASSES + class], 1);
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let slot = BUCKETS_US
            .iter()
            .position(|b| us <= *b)
            .unwrap_or(SLOTS - 1);
        bump(&self.buckets[f * SLOTS + slot], 1);
        bump(&self.sum_us[f], us);
    }

    pub(crate) fn connection_opened(&self) {
        bump(&self.open_connections, 1);
    }

    pub(crate) fn connection_closed(&self) {
        let v = self.open_connections.load(Relaxed);
        self.open_connections.store(v.saturating_sub(1), Relaxed);
    }

    pub(crate) fn open_connections(&self) -> u64 {
        self.open_connections.load(Relaxed)
    }

    pub(crate) fn connection_refused(&self) {
        bump(&self.refused_connections, 1);
    }

    pub(crate) fn panicked(&self) {
        bump(&self.panics, 1);
    }

    pub(crate) fn timed_out(&self) {
        bump(&self.timeouts, 1);
    }

    pub(crate) fn rate_limited(&self) {
        bump(&self.rate_limited, 1);
    }
}

/// The HTTP metrics of every thread, plus the audit drop counter.
#[derive(Debug)]
pub(crate) struct HttpMetrics {
    threads: Box<[ThreadStats]>,
    pub(crate) audit_dropped: Arc<AtomicU64>,
}

impl HttpMetrics {
    pub(crate) fn new(threads: usize, audit_dropped: Arc<AtomicU64>) -> Self {
        Self {
            threads: (0..threads.max(1)).map(|_| ThreadStats::new()).collect(),
            audit_dropped,
        }
    }

    /// Thread `i`'s stats (only thread `i` writes them).
    pub(crate) fn thread(&self, i: usize) -> &ThreadStats {
        &self.threads[i % self.threads.len()]
    }

    fn sum(&self, f: impl Fn(&ThreadStats) -> &AtomicU64) -> u64 {
        self.threads.iter().map(|t| f(t).load(Relaxed)).sum()
    }
}

/// Encodes [`HttpMetrics`] for a prometheus-client registry with prefix `mabeam`.
#[derive(Debug, Clone)]
pub(crate) struct HttpCollector(pub(crate) Arc<HttpMetrics>);

type Fmt = Result<(), std::fmt::Error>;

fn plain_counter(enc: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64) -> Fmt {
    enc.encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&v, None)
}

impl Collector for HttpCollector {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> Fmt {
        let m = &*self.0;
        let mut me = enc.encode_descriptor(
            "http_requests",
            "HTTP requests answered, by route family and status class.",
            None,
            MetricType::Counter,
        )?;
        for family in Family::ALL {
            for (c, class) in CLASS_NAMES.iter().enumerate() {
                let v = m.sum(|t| &t.requests[family.index() * CLASSES + c]);
                let labels = [("route", family.as_str()), ("class", class)];
                me.encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&v, None)?;
            }
        }
        let mut me = enc.encode_descriptor(
            "http_request_duration",
            "HTTP request latency from head parsed to response built, by route family.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for family in Family::ALL {
            let f = family.index();
            let buckets: Vec<(f64, u64)> = (0..SLOTS)
                .map(|s| {
                    let upper = BUCKETS_US
                        .get(s)
                        .map_or(f64::INFINITY, |us| *us as f64 / 1e6);
                    (upper, m.sum(|t| &t.buckets[f * SLOTS + s]))
                })
                .collect();
            let count = buckets.iter().map(|(_, c)| c).sum();
            let sum = m.sum(|t| &t.sum_us[f]) as f64 / 1e6;
            me.encode_family(&[("route", family.as_str())])?
                .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        }
        let mut me = enc.encode_descriptor(
            "http_open_connections",
            "Open HTTP connections, by HTTP thread.",
            None,
            MetricType::Gauge,
        )?;
        for (i, t) in m.threads.iter().enumerate() {
            let labels: [(&str, Cow<'static, str>); 1] = [("core", Cow::Owned(i.to_string()))];
            me.encode_family(&labels)?
                .encode_gauge(&(t.open_connections() as i64))?;
        }
        plain_counter(
            &mut enc,
            "http_connections_refused",
            "Connections refused with 503 because a core was at server.connections_per_core_max.",
            m.sum(|t| &t.refused_connections),
        )?;
        plain_counter(
            &mut enc,
            "http_handler_panics",
            "Requests whose handler panicked (answered 500).",
            m.sum(|t| &t.panics),
        )?;
        plain_counter(
            &mut enc,
            "http_request_timeouts",
            "Requests cut off at server.request_timeout_ms (answered 504).",
            m.sum(|t| &t.timeouts),
        )?;
        plain_counter(
            &mut enc,
            "http_rate_limited",
            "Requests refused with 429: the client was over security.rate_limit_per_second.",
            m.sum(|t| &t.rate_limited),
        )?;
        plain_counter(
            &mut enc,
            "audit_records_dropped",
            "Audit records dropped because the audit writer fell behind.",
            m.audit_dropped.load(Relaxed),
        )
    }
}

thread_local! {
    /// This HTTP thread's telemetry recorder (set once when the thread starts).
    static RECORDER: RefCell<Option<Recorder>> = const { RefCell::new(None) };
}

/// Gives this thread a telemetry recorder named `http-<index>`.
pub(crate) fn install_recorder(telemetry: &Telemetry, index: usize, now_ms: u64) {
    match telemetry.recorder(&format!("http-{index}"), now_ms) {
        Ok(rec) => RECORDER.with(|r| *r.borrow_mut() = Some(rec)),
        Err(e) => tracing::warn!(error = %e, index, "no telemetry recorder for this HTTP thread"),
    }
}

/// Drops this thread's recorder (publishing what it holds).
pub(crate) fn remove_recorder() {
    RECORDER.with(|r| {
        if let Some(mut rec) = r.borrow_mut().take() {
            rec.flush_blocking();
        }
    });
}

/// Runs `f` on this thread's recorder, if it has one.
pub(crate) fn with_recorder(f: impl FnOnce(&mut Recorder)) {
    RECORDER.with(|r| {
        if let Ok(mut guard) = r.try_borrow_mut()
            && let Some(rec) = guard.as_mut()
        {
            f(rec);
        }
    });
}

/// Publishes this thread's recorder when due (or when a reader asked).
pub(crate) fn tick(now_ms: u64) {
    with_recorder(|rec| {
        rec.tick(now_ms);
    });
}

/// The telemetry label of a coordination protocol.
pub(crate) fn protocol_label(p: mabeam_engine::coord::Protocol) -> Protocol {
    use mabeam_engine::coord::Protocol as P;
    match p {
        P::Auction => Protocol::Auction,
        P::Market => Protocol::Market,
        P::Consensus => Protocol::Consensus,
        P::Allocation => Protocol::Allocation,
    }
}

/// Records one cleared (or refused) coordination on this thread's recorder.
pub(crate) fn record_coordination(
    protocol: mabeam_engine::coord::Protocol,
    ok: bool,
    elapsed: Duration,
    efficiency: Option<f64>,
) {
    let outcome = if ok {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    with_recorder(|rec| {
        rec.record_coordination(protocol_label(protocol), outcome, elapsed, efficiency)
    });
}

/// Records what a cleared one-shot auction or market adds to the auction and market
/// families: auctions by type, bids, auction duration and efficiency; market volume,
/// clearing price and efficiency (the dashboard's efficiency panels read these).
pub(crate) fn record_clearing(
    req: &mabeam_engine::coord::CoordinationRequest,
    outcome: &mabeam_engine::coord::CoordinationOutcome,
    elapsed: Duration,
) {
    use mabeam_engine::coord::{
        AuctionOutcome as A, CoordinationOutcome as O, CoordinationRequest as R,
    };
    use mabeam_engine::telemetry::{AuctionType as T, Counter};
    with_recorder(|rec| match (req, outcome) {
        (R::Auction(spec), O::Auction(a)) => {
            let bids = u64::try_from(spec.bids.len()).unwrap_or(u64::MAX);
            let (kind, efficiency) = match a {
                A::FirstPrice(o) => (Some(T::FirstPrice), o.efficiency),
                A::SecondPrice(o) => (Some(T::SecondPrice), o.efficiency),
                A::English(o) => (Some(T::English), o.efficiency),
                A::Dutch(o) => (Some(T::Dutch), o.efficiency),
                A::Combinatorial(o) => (Some(T::Combinatorial), o.efficiency),
                A::MultiUnit(o) => (None, o.efficiency),
            };
            match kind {
                Some(k) => rec.record_auction(k, bids, elapsed, efficiency),
                None => rec.add(Counter::AuctionBids, bids),
            }
        }
        (_, O::Market(m)) => {
            rec.record_market(m.volume, m.clearing_price.map(|p| p.0), m.efficiency);
        }
        _ => {}
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::registry::Registry;

    #[test]
    fn records_merge_across_threads_and_encode() {
        let m = Arc::new(HttpMetrics::new(2, Arc::new(AtomicU64::new(3))));
        m.thread(0)
            .record(Family::Health, 200, Duration::from_micros(40));
        m.thread(1)
            .record(Family::Health, 200, Duration::from_micros(300));
        m.thread(1)
            .record(Family::Coordinate, 400, Duration::from_secs(9));
        m.thread(0).connection_opened();
        m.thread(1).connection_refused();
        let mut reg = Registry::with_prefix("mabeam");
        reg.register_collector(Box::new(HttpCollector(Arc::clone(&m))));
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &reg).unwrap();
        assert!(
            out.contains(r#"mabeam_http_requests_total{route="health",class="2xx"} 2"#),
            "{out}"
        );
        assert!(out.contains(r#"mabeam_http_requests_total{route="coordinate",class="4xx"} 1"#));
        assert!(out.contains(
            r#"mabeam_http_request_duration_seconds_bucket{route="health",le="0.0001"} 1"#
        ));
        assert!(out.contains(
            r#"mabeam_http_request_duration_seconds_bucket{route="health",le="0.0005"} 2"#
        ));
        assert!(out.contains(
            r#"mabeam_http_request_duration_seconds_bucket{route="coordinate",le="+Inf"} 1"#
        ));
        assert!(out.contains(r#"mabeam_http_open_connections{core="0"} 1"#));
        assert!(out.contains("mabeam_http_connections_refused_total 1"));
        assert!(out.contains("mabeam_audit_records_dropped_total 3"));
    }

    #[test]
    fn connection_gauge_never_underflows() {
        let t = ThreadStats::new();
        t.connection_closed();
        assert_eq!(t.open_connections(), 0);
        t.connection_opened();
        t.connection_opened();
        t.connection_closed();
        assert_eq!(t.open_connections(), 1);
    }
}
