//! The versioned JSON summary (`"schema_version": 1`).

use super::{Report, percentiles};
use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};

/// Version of the JSON layout; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

fn hist(h: &Histogram<u64>) -> Value {
    let mut m = Map::new();
    m.insert("count".into(), json!(h.len()));
    m.insert("mean".into(), json!(h.mean()));
    m.insert("stdev".into(), json!(h.stdev()));
    m.insert("min".into(), json!(h.min()));
    for (label, v) in percentiles(h) {
        m.insert(label.replace('.', "_"), json!(v));
    }
    Value::Object(m)
}

/// Renders the summary.
pub fn render(r: &Report<'_>) -> Value {
    let c = r.cfg;
    let d = r.data;
    let t = &d.total;
    let f = &t.failures;
    let entries: Vec<Value> = r
        .entry_names
        .iter()
        .zip(&t.entries)
        .map(|(name, e)| {
            json!({
                "name": name,
                "requests": e.ok + e.failures.total(),
                "errors": e.failures.total(),
                "latency_us": hist(&e.latency),
            })
        })
        .collect();
    let scrape = |s: &Option<crate::targets::monitor::Scrape>| {
        s.as_ref().map(|s| {
            json!({
                "allocated_bytes": s.allocated,
                "resident_bytes": s.resident,
                "process_rss_bytes": s.process_rss,
                "reclaim_backlog": s.backlog,
                "sweeps": s.sweep_buckets.last().map(|b| b.1),
            })
        })
    };
    json!({
        "schema_version": SCHEMA_VERSION,
        "tool": "mabeam-load",
        "tool_version": env!("CARGO_PKG_VERSION"),
        "target": c.target_label,
        "mode": if c.closed_loop() { "closed" } else { "open" },
        "coordinated_omission": if c.closed_loop() { "biased (closed loop)" } else { "corrected (latency from intended start)" },
        "description": r.mode(),
        "threads": c.threads,
        "connections": c.connections,
        "pipeline": c.pipeline,
        "duration_s": c.duration.as_secs_f64(),
        "warmup_s": c.warmup.as_secs_f64(),
        "target_rps": r.verdict.expected_requests.map(|e| e / c.duration.as_secs_f64()),
        "achieved_rps": r.achieved_rps(),
        "elapsed_s": d.elapsed.as_secs_f64(),
        "requests": {
            "total": t.requests(),
            "ok": t.ok,
            "errors": f.total(),
            "connect_errors": f.connect,
            "io_errors": f.io,
            "timeouts": f.timeout,
            "unexpected_status": f.status,
            "warmup": t.warmup,
            "unsent": t.unsent,
            "clamped": t.clamped,
        },
        "bytes_read": t.bytes,
        "nodes": t
            .nodes
            .sorted()
            .into_iter()
            .map(|(n, v)| (n, serde_json::Value::from(v)))
            .collect::<serde_json::Map<String, serde_json::Value>>(),
        "latency_us": hist(&t.latency),
        "service_us": hist(&t.service),
        "send_lag_us": hist(&t.lag),
        "entries": entries,
        "series": d.series,
        "harness_rss_bytes": d.harness_rss,
        "target_memory": {
            "rss_bytes": d.target_rss,
            "rss_start_bytes": d.target_rss_start,
            "peak_rss_bytes": d.target_hwm,
            "metrics_source": d.metrics_source,
            "metrics_before": scrape(&d.before),
            "metrics_after": scrape(&d.after),
            "drain": d.drain,
        },
        "notes": d.notes,
        "verdict": r.verdict.result,
        "exit_code": r.verdict.exit_code,
        "checks": r.verdict.checks,
        "invalid_reasons": r.verdict.invalid_reasons,
    })
}
