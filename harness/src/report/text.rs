//! The wrk-like text summary, with the percentile table per entry and the budgets.

use super::{Report, percentiles};
use crate::units::fmt_us;
use crate::verdict::Status;
use hdrhistogram::Histogram;
use std::fmt::Write;

fn within_stdev(h: &Histogram<u64>) -> f64 {
    if h.is_empty() {
        return 0.0;
    }
    let (m, s) = (h.mean(), h.stdev());
    let lo = (m - s).max(0.0) as u64;
    let hi = (m + s) as u64;
    h.count_between(lo, hi) as f64 / h.len() as f64 * 100.0
}

fn stat_line(out: &mut String, name: &str, h: &Histogram<u64>) {
    let _ = writeln!(
        out,
        "    {name:<10} {:>10} {:>10} {:>10} {:>9.2}%",
        fmt_us(h.mean()),
        fmt_us(h.stdev()),
        fmt_us(h.max() as f64),
        within_stdev(h)
    );
}

fn bytes(b: f64) -> String {
    if b >= 1024.0 * 1024.0 {
        format!("{:.2}MB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.2}KB", b / 1024.0)
    }
}

/// Renders the summary.
pub fn render(r: &Report<'_>) -> String {
    let mut o = String::new();
    let c = r.cfg;
    let t = &r.data.total;
    let _ = writeln!(o, "Running {:.0?} test @ {}", c.duration, c.target_label);
    let _ = writeln!(
        o,
        "  {} threads and {} connections (pipeline {})",
        c.threads, c.connections, c.pipeline
    );
    let _ = writeln!(o, "  {}", r.mode());
    let _ = writeln!(
        o,
        "  Thread Stats   Avg        Stdev      Max        +/- Stdev"
    );
    stat_line(&mut o, "Latency", &t.latency);
    stat_line(&mut o, "Service", &t.service);
    stat_line(&mut o, "Send lag", &t.lag);
    let _ = writeln!(
        o,
        "  Latency percentiles{}:",
        if c.closed_loop() {
            " (closed loop: biased by coordinated omission)"
        } else {
            " (from intended start, coordinated-omission free)"
        }
    );
    let header: Vec<&str> = percentiles(&t.latency).iter().map(|(l, _)| *l).collect();
    let _ = write!(o, "    {:<24} {:>9} {:>7}", "entry", "requests", "errors");
    for h in &header {
        let _ = write!(o, " {h:>9}");
    }
    o.push('\n');
    let mut row = |name: &str, h: &Histogram<u64>, requests: u64, errors: u64| {
        let _ = write!(o, "    {name:<24} {requests:>9} {errors:>7}");
        for (_, v) in percentiles(h) {
            let _ = write!(o, " {:>9}", fmt_us(v as f64));
        }
        o.push('\n');
    };
    if r.entry_names.len() > 1 {
        for (name, e) in r.entry_names.iter().zip(&t.entries) {
            row(
                name,
                &e.latency,
                e.ok + e.failures.total(),
                e.failures.total(),
            );
        }
    }
    row("overall", &t.latency, t.requests(), t.failures.total());
    row("service time", &t.service, t.ok, 0);
    let _ = writeln!(
        o,
        "  {} requests in {:.2}s, {} read{}",
        t.requests(),
        c.duration.as_secs_f64(),
        bytes(t.bytes as f64),
        if t.warmup > 0 {
            format!(" ({} more in warm-up)", t.warmup)
        } else {
            String::new()
        }
    );
    if t.unsent > 0 {
        let _ = writeln!(
            o,
            "  {} requests due in the window were never sent: the target or the harness fell behind",
            t.unsent
        );
    }
    let answered = t.nodes.total();
    if answered > 0 {
        let per: Vec<String> = t
            .nodes
            .sorted()
            .iter()
            .map(|(n, v)| format!("{n} {v} ({:.1}%)", 100.0 * *v as f64 / answered as f64))
            .collect();
        let _ = writeln!(o, "  Answered by (X-Mabeam-Node): {}", per.join(", "));
    }
    let f = &t.failures;
    if f.total() > 0 {
        let _ = writeln!(
            o,
            "  Errors: connect {}, read/write {}, timeout {}, unexpected status {}",
            f.connect, f.io, f.timeout, f.status
        );
    }
    if t.clamped > 0 {
        let _ = writeln!(
            o,
            "  {} latencies above 60 s were recorded as 60 s",
            t.clamped
        );
    }
    let _ = writeln!(o, "Requests/sec: {:>10.2}", r.achieved_rps());
    let _ = writeln!(
        o,
        "Transfer/sec: {:>10}",
        bytes(t.bytes as f64 / c.duration.as_secs_f64())
    );
    if let (Some(first), Some(last)) = (r.data.harness_rss.first(), r.data.harness_rss.last()) {
        let _ = writeln!(
            o,
            "Harness RSS:  {} -> {}",
            bytes(*first as f64),
            bytes(*last as f64)
        );
    }
    if let Some(source) = &r.data.metrics_source {
        let memory = r.data.after.as_ref().and_then(|a| a.memory());
        let _ = writeln!(
            o,
            "Target:       {} (metrics: {source})",
            memory.map_or_else(|| "memory unknown".to_owned(), bytes),
        );
    }
    if !r.verdict.checks.is_empty() {
        let _ = writeln!(o, "Budgets:");
        for ch in &r.verdict.checks {
            let mark = match ch.status {
                Status::Pass => "ok  ",
                Status::Fail => "FAIL",
                Status::Invalid => "INV ",
                Status::Skipped => "skip",
            };
            let _ = writeln!(
                o,
                "  [{mark}] {:<10} {:<24} {:<22} {}",
                ch.scope, ch.name, ch.limit, ch.actual
            );
        }
    }
    for n in &r.data.notes {
        let _ = writeln!(o, "  note: {n}");
    }
    for why in &r.verdict.invalid_reasons {
        let _ = writeln!(o, "  invalid: {why}");
    }
    let _ = writeln!(
        o,
        "Verdict: {} (exit {})",
        r.verdict.result.to_uppercase(),
        r.verdict.exit_code
    );
    o
}
