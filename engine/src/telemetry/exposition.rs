//! Prometheus text exposition (format 0.0.4) through prometheus-client.
//!
//! [`TelemetryCollector`] implements prometheus-client's `Collector`: on every scrape it
//! merges the recorders' data (`Hub::snapshot`) and writes each family through the
//! crate's `DescriptorEncoder`, which adds the `mabeam_` prefix (given to the registry),
//! the unit suffix, `_total` on counters, `HELP`/`TYPE` lines, `_bucket{le=..}`/`_sum`/
//! `_count` for histograms, and escapes text. Nothing here formats exposition text by hand.

use std::borrow::Cow;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use super::families::{Counter, Gauge, Hist, MetricDesc, MetricUnit};
use super::hub::{Hub, Snapshot, Telemetry};

/// `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Name prefix of every family.
pub const PREFIX: &str = "mabeam";

/// Computes every family at scrape time from the merged per-recorder data. Register it
/// in a `Registry::with_prefix("mabeam")` (as `render_prometheus` does) to combine it with
/// other metrics.
#[derive(Clone, Debug)]
pub struct TelemetryCollector {
    hub: std::sync::Arc<Hub>,
}

type Fmt = Result<(), std::fmt::Error>;

fn unit(u: MetricUnit) -> Option<Unit> {
    match u {
        MetricUnit::None => None,
        MetricUnit::Seconds => Some(Unit::Seconds),
        MetricUnit::Bytes => Some(Unit::Bytes),
        MetricUnit::Ratio => Some(Unit::Other("ratio".to_owned())),
    }
}

/// Members of `all` grouped by family (members of a family are adjacent in slot order).
fn families<T: Copy>(all: Vec<T>, desc: impl Fn(T) -> MetricDesc) -> Vec<(MetricDesc, Vec<T>)> {
    let mut out: Vec<(MetricDesc, Vec<T>)> = Vec::new();
    for m in all {
        let d = desc(m);
        match out.last_mut() {
            Some((last, members)) if last.name == d.name => members.push(m),
            _ => out.push((d, vec![m])),
        }
    }
    out
}

fn encode_counters(snap: &Snapshot, enc: &mut DescriptorEncoder<'_>) -> Fmt {
    for (d, members) in families(Counter::all(), Counter::desc) {
        let u = unit(d.unit);
        let mut me = enc.encode_descriptor(d.name, d.help, u.as_ref(), MetricType::Counter)?;
        for c in members {
            let v = snap.counters[c.slot()];
            let labels = c.labels();
            if labels.is_empty() {
                me.encode_counter::<NoLabelSet, _, u64>(&v, None)?;
            } else {
                me.encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&v, None)?;
            }
        }
    }
    Ok(())
}

fn encode_gauges(snap: &Snapshot, enc: &mut DescriptorEncoder<'_>) -> Fmt {
    for (d, members) in families(Gauge::all(), Gauge::desc) {
        let u = unit(d.unit);
        let mut me = enc.encode_descriptor(d.name, d.help, u.as_ref(), MetricType::Gauge)?;
        for g in members {
            if g.per_worker() {
                for (worker, values) in &snap.worker_gauges {
                    let labels: [(&str, Cow<'static, str>); 1] =
                        [("worker", Cow::Owned(worker.to_string()))];
                    me.encode_family(&labels)?.encode_gauge(&values[g.slot()])?;
                }
                continue;
            }
            let v = snap.gauges[g.slot()];
            let labels = g.labels();
            if labels.is_empty() {
                me.encode_gauge(&v)?;
            } else {
                me.encode_family(&labels)?.encode_gauge(&v)?;
            }
        }
    }
    Ok(())
}

fn encode_histograms(snap: &Snapshot, enc: &mut DescriptorEncoder<'_>) -> Fmt {
    for (d, members) in families(Hist::all(), Hist::desc) {
        let u = unit(d.unit);
        let mut me = enc.encode_descriptor(d.name, d.help, u.as_ref(), MetricType::Histogram)?;
        for h in members {
            let e = &snap.hists[h.slot()];
            let labels = h.labels();
            if labels.is_empty() {
                me.encode_histogram::<NoLabelSet>(e.sum, e.count, &e.buckets, None)?;
            } else {
                me.encode_family(&labels)?
                    .encode_histogram::<NoLabelSet>(e.sum, e.count, &e.buckets, None)?;
            }
        }
    }
    Ok(())
}

fn gauge(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    u: Option<Unit>,
    value: impl EncodeGaugeValue,
) -> Fmt {
    let mut me = enc.encode_descriptor(name, help, u.as_ref(), MetricType::Gauge)?;
    me.encode_gauge(&value)
}

fn counter(enc: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> Fmt {
    let mut me = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    me.encode_counter::<NoLabelSet, _, u64>(&value, None)
}

fn encode_self_and_process(snap: &Snapshot, enc: &mut DescriptorEncoder<'_>) -> Fmt {
    counter(
        enc,
        "anomaly_events_dropped",
        "Anomaly events pushed out of the full recent-events buffer.",
        snap.anomaly_events_dropped,
    )?;
    counter(
        enc,
        "telemetry_window_buckets_late",
        "Minute buckets published after they had left retention (dropped).",
        snap.window_late_dropped,
    )?;
    gauge(
        enc,
        "telemetry_recorders",
        "Live telemetry recorders.",
        None,
        snap.recorders as i64,
    )?;
    gauge(
        enc,
        "telemetry_window_buckets",
        "Per-minute coordination buckets held.",
        None,
        snap.window_buckets as i64,
    )?;

    let mem = &snap.memory;
    gauge(
        enc,
        "memory_allocator_stats_available",
        "1 when allocator (jemalloc) statistics are exported, 0 when they are unavailable.",
        None,
        i64::from(mem.allocator.is_some()),
    )?;
    if let Some(a) = mem.allocator {
        let bytes = [
            (
                "memory_allocated",
                "Bytes in live allocations (jemalloc).",
                a.allocated,
            ),
            (
                "memory_active",
                "Bytes in active allocator pages (jemalloc).",
                a.active,
            ),
            (
                "memory_resident",
                "Bytes in resident allocator pages (jemalloc).",
                a.resident,
            ),
            (
                "memory_retained",
                "Bytes retained for reuse, not returned to the OS (jemalloc).",
                a.retained,
            ),
        ];
        for (name, help, v) in bytes {
            gauge(enc, name, help, Some(Unit::Bytes), v as f64)?;
        }
    }
    let p = &mem.process;
    if let Some(v) = p.resident_bytes {
        gauge(
            enc,
            "process_resident_memory",
            "Resident set size.",
            Some(Unit::Bytes),
            v as f64,
        )?;
    }
    if let Some(v) = p.virtual_bytes {
        gauge(
            enc,
            "process_virtual_memory",
            "Virtual memory size.",
            Some(Unit::Bytes),
            v as f64,
        )?;
    }
    if let Some(v) = p.threads {
        gauge(
            enc,
            "process_threads",
            "Threads in the process.",
            None,
            v as f64,
        )?;
    }
    if let Some(v) = p.open_fds {
        gauge(
            enc,
            "process_open_fds",
            "Open file descriptors.",
            None,
            v as f64,
        )?;
    }
    gauge(
        enc,
        "process_start_time",
        "Start time of the telemetry hub since the Unix epoch.",
        Some(Unit::Seconds),
        snap.start_unix_seconds,
    )?;
    let mut me = enc.encode_descriptor("build", "Build information.", None, MetricType::Info)?;
    me.encode_info(&[("version", env!("CARGO_PKG_VERSION"))])
}

impl Collector for TelemetryCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Fmt {
        let snap = self.hub.snapshot();
        encode_counters(&snap, &mut encoder)?;
        encode_gauges(&snap, &mut encoder)?;
        encode_histograms(&snap, &mut encoder)?;
        encode_self_and_process(&snap, &mut encoder)
    }
}

impl Telemetry {
    /// A collector over this hub, for a prometheus-client `Registry` with prefix `mabeam`.
    pub fn collector(&self) -> TelemetryCollector {
        TelemetryCollector {
            hub: std::sync::Arc::clone(&self.hub),
        }
    }

    /// The whole exposition, ready to serve with [`CONTENT_TYPE`]. Asks recorders to publish
    /// at their next tick; what they published by now is included (at most one
    /// `flush_interval_ms` old for ticking recorders).
    pub fn render_prometheus(&self) -> String {
        self.request_flush();
        let mut registry = Registry::with_prefix(PREFIX);
        registry.register_collector(Box::new(self.collector()));
        let mut out = String::with_capacity(32 * 1024);
        if let Err(e) = prometheus_text::encode(&mut out, &registry) {
            // Writing to a String cannot fail; keep what was written and say so.
            tracing::error!(error = %e, "prometheus exposition failed part-way");
        }
        out
    }
}
