//! One self-contained HTML page: summary, budgets, percentile plot and time series,
//! SVG inline, no external asset.

use super::{Report, percentiles};
use crate::units::fmt_us;
use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders the page.
pub fn render(r: &Report<'_>) -> Result<String, String> {
    let pct = super::plot::percentile_svg(r)?;
    let series = super::plot::series_svg(r)?;
    let strip = |svg: &str| match svg.find("<svg") {
        Some(i) => svg[i..].to_owned(),
        None => svg.to_owned(),
    };
    let t = &r.data.total;
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mabeam-load: {}</title>\
<style>body{{font-family:sans-serif;margin:2em;max-width:960px}}table{{border-collapse:collapse;margin:1em 0}}\
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}th{{background:#eee}}td:first-child{{text-align:left}}\
.pass{{color:#070}}.fail{{color:#b00;font-weight:bold}}.invalid{{color:#b60;font-weight:bold}}.skipped{{color:#777}}</style></head><body>\n",
        esc(&r.cfg.target_label)
    );
    let _ = writeln!(o, "<h1>mabeam-load report</h1>");
    let _ = writeln!(
        o,
        "<p>Target <code>{}</code>; {} threads, {} connections, pipeline {}; {}.</p>",
        esc(&r.cfg.target_label),
        r.cfg.threads,
        r.cfg.connections,
        r.cfg.pipeline,
        esc(&r.mode())
    );
    let _ = writeln!(
        o,
        "<p class=\"{}\">Verdict: <strong>{}</strong> (exit {})</p>",
        r.verdict.result,
        r.verdict.result.to_uppercase(),
        r.verdict.exit_code
    );
    let _ = writeln!(
        o,
        "<h2>Summary</h2><table><tr><th>requests</th><th>errors</th><th>achieved req/s</th><th>duration</th><th>bytes read</th></tr>\
<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}s</td><td>{}</td></tr></table>",
        t.requests(),
        t.failures.total(),
        r.achieved_rps(),
        r.cfg.duration.as_secs_f64(),
        t.bytes
    );
    let _ = write!(
        o,
        "<h2>Latency percentiles</h2><table><tr><th>entry</th><th>requests</th>"
    );
    for (l, _) in percentiles(&t.latency) {
        let _ = write!(o, "<th>{l}</th>");
    }
    o.push_str("</tr>\n");
    let mut row = |name: &str, h: &hdrhistogram::Histogram<u64>, n: u64| {
        let _ = write!(o, "<tr><td>{}</td><td>{n}</td>", esc(name));
        for (_, v) in percentiles(h) {
            let _ = write!(o, "<td>{}</td>", fmt_us(v as f64));
        }
        o.push_str("</tr>\n");
    };
    for (name, e) in r.entry_names.iter().zip(&t.entries) {
        row(name, &e.latency, e.ok + e.failures.total());
    }
    row("overall", &t.latency, t.requests());
    row("service time", &t.service, t.ok);
    o.push_str("</table>\n");
    let _ = writeln!(
        o,
        "<h2>Budgets (SLO)</h2><table><tr><th>scope</th><th>check</th><th>budget</th><th>measured</th><th>result</th></tr>"
    );
    for c in &r.verdict.checks {
        let status = serde_json::to_value(c.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{status}\">{status}</td></tr>",
            esc(&c.scope),
            esc(&c.name),
            esc(&c.limit),
            esc(&c.actual)
        );
    }
    o.push_str("</table>\n");
    for why in &r.verdict.invalid_reasons {
        let _ = writeln!(o, "<p class=\"invalid\">invalid: {}</p>", esc(why));
    }
    for n in &r.data.notes {
        let _ = writeln!(o, "<p class=\"skipped\">note: {}</p>", esc(n));
    }
    let _ = writeln!(o, "<h2>Latency by percentile</h2>\n{}", strip(&pct));
    let _ = writeln!(o, "<h2>Time series</h2>\n{}", strip(&series));
    o.push_str("</body></html>\n");
    Ok(o)
}
