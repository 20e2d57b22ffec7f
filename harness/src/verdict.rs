//! Holding a run to its budgets: latency percentiles and error rate (overall and per
//! entry), the achieved rate, the target's memory and maintenance ("GC") pauses, and
//! the reclamation backlog draining after the load. Exit codes: 0 every budget met,
//! 1 a budget breached, 2 an invalid run (too few samples, rate not reached, nothing
//! answered).

use crate::cli::{RunConfig, Workload};
use crate::collect::RunData;
use crate::record::EntryRec;
use crate::targets::prom::bucket_quantile;
use crate::units::{Objective, fmt_us};
use hdrhistogram::Histogram;
use serde::Serialize;

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Within budget.
    Pass,
    /// Budget breached.
    Fail,
    /// Could not be judged: the run is invalid.
    Invalid,
    /// Not measured (no data source); does not affect the verdict.
    Skipped,
}

/// One judged budget.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What is checked (`p99`, `errors`, `memory_growth`, ...).
    pub name: String,
    /// `overall` or the entry's name.
    pub scope: String,
    /// The budget, human-readable.
    pub limit: String,
    /// What was measured, human-readable.
    pub actual: String,
    /// Result.
    pub status: Status,
}

/// The run's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// `pass`, `fail` or `invalid`.
    pub result: &'static str,
    /// The process exit code.
    pub exit_code: u8,
    /// Every check.
    pub checks: Vec<Check>,
    /// Why the run is invalid, if it is.
    pub invalid_reasons: Vec<String>,
    /// Requests the schedule asked for in the measured phase (open loop and replay).
    pub expected_requests: Option<f64>,
}

fn check(name: impl Into<String>, scope: &str, limit: String, actual: String, ok: bool) -> Check {
    Check {
        name: name.into(),
        scope: scope.to_owned(),
        limit,
        actual,
        status: if ok { Status::Pass } else { Status::Fail },
    }
}

fn objective(
    o: &Objective,
    scope: &str,
    hist: &Histogram<u64>,
    ok: u64,
    failed: u64,
    invalid: &mut Vec<String>,
) -> Check {
    let requests = ok + failed;
    let needed = o.samples_needed();
    let have = match o {
        Objective::Latency { .. } => hist.len(),
        Objective::ErrorRate(_) => requests,
    };
    if have < needed {
        let why = format!(
            "{scope} {}: {have} samples, {needed} needed to judge it; run longer or faster",
            o.label()
        );
        invalid.push(why);
        return Check {
            name: o.label(),
            scope: scope.to_owned(),
            limit: limit_text(o),
            actual: format!("{have} samples"),
            status: Status::Invalid,
        };
    }
    match o {
        Objective::Latency { quantile, limit } => {
            let v = hist.value_at_quantile(*quantile);
            let lim = limit.as_micros() as u64;
            check(o.label(), scope, limit_text(o), fmt_us(v as f64), v <= lim)
        }
        Objective::ErrorRate(max) => {
            let rate = failed as f64 / requests as f64;
            check(
                "errors",
                scope,
                limit_text(o),
                format!("{:.3}%", rate * 100.0),
                rate <= *max + 1e-12,
            )
        }
    }
}

fn limit_text(o: &Objective) -> String {
    match o {
        Objective::Latency { limit, .. } => format!("<= {}", fmt_us(limit.as_micros() as f64)),
        Objective::ErrorRate(r) => format!("<= {:.3}%", r * 100.0),
    }
}

fn mib(b: f64) -> String {
    format!("{:.1} MiB", b / (1024.0 * 1024.0))
}

/// The requests the schedule (or trace) meant to start in the measured phase.
pub fn expected_requests(cfg: &RunConfig) -> Option<f64> {
    let w = cfg.warmup.as_secs_f64();
    let e = w + cfg.duration.as_secs_f64();
    match (&cfg.workload, &cfg.schedule) {
        (Workload::Replay { lines, speed }, _) => Some(
            lines
                .iter()
                .filter(|l| {
                    let t = l.offset.as_secs_f64() / speed;
                    t >= w && t < e
                })
                .count() as f64,
        ),
        (Workload::Mix(_), Some(s)) => Some((s.expected(e) - s.expected(w)).floor()),
        (Workload::Mix(_), None) => None,
    }
}

/// Judges `data` against `cfg`'s budgets.
pub fn judge(cfg: &RunConfig, data: &RunData) -> Verdict {
    let mut checks = Vec::new();
    let mut invalid = Vec::new();
    let t = &data.total;
    let requests = t.requests();
    if requests == 0 {
        invalid.push("no request finished in the measured phase".to_owned());
    }
    let expected = expected_requests(cfg);
    if let Some(exp) = expected
        && exp > 0.0
    {
        let ratio = requests as f64 / exp;
        // Poisson arrivals vary around the mean: allow three standard deviations more.
        let slack = match &cfg.schedule {
            Some(crate::schedule::Schedule::Poisson(_)) => 3.0 * exp.sqrt() / exp,
            _ => 0.0,
        };
        let ok = ratio >= 1.0 - cfg.rate_tolerance - slack;
        let secs = cfg.duration.as_secs_f64();
        let c = Check {
            name: "achieved_rate".to_owned(),
            scope: "overall".to_owned(),
            limit: format!(
                ">= {:.0}/s ({:.0}% of target)",
                exp / secs * (1.0 - cfg.rate_tolerance),
                (1.0 - cfg.rate_tolerance) * 100.0
            ),
            actual: format!("{:.0}/s ({:.1}%)", requests as f64 / secs, ratio * 100.0),
            status: if ok { Status::Pass } else { Status::Invalid },
        };
        if !ok {
            invalid.push(format!(
                "achieved {:.0} requests/s, {:.1}% of the {:.0}/s asked (tolerance {:.0}%): the numbers describe another load; add connections or threads, or lower -R",
                requests as f64 / secs,
                ratio * 100.0,
                exp / secs,
                cfg.rate_tolerance * 100.0
            ));
        }
        checks.push(c);
    }
    for o in &cfg.objectives {
        checks.push(objective(
            o,
            "overall",
            &t.latency,
            t.ok,
            t.failures.total(),
            &mut invalid,
        ));
    }
    if let Workload::Mix(s) = &cfg.workload {
        for (e, rec) in s.entries.iter().zip(&t.entries) {
            let EntryRec {
                latency,
                ok,
                failures,
            } = rec;
            for o in &e.slo {
                checks.push(objective(
                    o,
                    &e.name,
                    latency,
                    *ok,
                    failures.total(),
                    &mut invalid,
                ));
            }
        }
    }
    resource_checks(cfg, data, &mut checks);
    let (result, exit_code) = if !invalid.is_empty() {
        ("invalid", 2)
    } else if checks.iter().any(|c| c.status == Status::Fail) {
        ("fail", 1)
    } else {
        ("pass", 0)
    };
    Verdict {
        result,
        exit_code,
        checks,
        invalid_reasons: invalid,
        expected_requests: expected,
    }
}

fn skipped(name: &str, limit: String, why: &str) -> Check {
    Check {
        name: name.to_owned(),
        scope: "target".to_owned(),
        limit,
        actual: why.to_owned(),
        status: Status::Skipped,
    }
}

fn resource_checks(cfg: &RunConfig, data: &RunData, checks: &mut Vec<Check>) {
    let r = &cfg.resources;
    if let Some(max) = r.memory_growth_bytes {
        let limit = format!("<= {}", mib(max as f64));
        let growth = match (data.target_rss_start, data.target_rss.iter().max()) {
            (Some(a), Some(b)) => Some(*b as f64 - a as f64),
            _ => match (
                data.before.as_ref().and_then(|s| s.memory()),
                data.after.as_ref().and_then(|s| s.memory()),
            ) {
                (Some(a), Some(b)) => Some(b - a),
                _ => None,
            },
        };
        checks.push(match growth {
            Some(g) => check("memory_growth", "target", limit, mib(g), g <= max as f64),
            None => skipped(
                "memory_growth",
                limit,
                "not measured: give --target-pid or a /metrics with memory gauges",
            ),
        });
    }
    if let Some(max) = r.memory_limit_bytes {
        let limit = format!("<= {}", mib(max as f64));
        checks.push(match data.target_hwm {
            Some(h) => check("peak_rss", "target", limit, mib(h as f64), h <= max),
            None => skipped("peak_rss", limit, "not measured: give --target-pid"),
        });
    }
    let gc = match (&data.before, &data.after) {
        (Some(b), Some(a)) => bucket_quantile(&b.sweep_buckets, &a.sweep_buckets, 0.99),
        (None, Some(a)) => bucket_quantile(&[], &a.sweep_buckets, 0.99),
        _ => None,
    };
    let have_metrics = data.after.is_some();
    for (name, budget, pick) in [
        ("gc_pause_p99", r.gc_pause_p99, 0usize),
        ("gc_pause_max", r.gc_pause_max, 1),
    ] {
        let Some(budget) = budget else { continue };
        let limit = format!("<= {}", fmt_us(budget.as_micros() as f64));
        checks.push(match gc {
            Some(v) => {
                let secs = if pick == 0 { v.0 } else { v.1 };
                let actual = if secs.is_finite() {
                    format!("<= {}", fmt_us(secs * 1e6))
                } else {
                    "above the largest bucket".to_owned()
                };
                check(name, "target", limit, actual, secs <= budget.as_secs_f64())
            }
            None if have_metrics => skipped(
                name,
                limit,
                "no maintenance sweep ran during the measured phase",
            ),
            None => skipped(name, limit, "not measured: no target metrics"),
        });
    }
    if let Some(d) = &data.drain {
        checks.push(check(
            "reclaim_backlog_drained",
            "target",
            format!("drains within {} ms", cfg.drain_wait.as_millis()),
            format!(
                "{} -> {} in {} ms",
                d.backlog_at_stop, d.backlog_final, d.waited_ms
            ),
            d.drained,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn hist(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut h = crate::record::histogram();
        for v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn objectives_pass_fail_and_need_samples() {
        let p99 = Objective::Latency {
            quantile: 0.99,
            limit: Duration::from_millis(2),
        };
        let p999 = Objective::Latency {
            quantile: 0.999,
            limit: Duration::from_millis(2),
        };
        let mut invalid = Vec::new();
        let fast = hist((0..200).map(|_| 1_000));
        assert_eq!(
            objective(&p99, "overall", &fast, 200, 0, &mut invalid).status,
            Status::Pass
        );
        let slow = hist((0..200).map(|i| if i < 190 { 1_000 } else { 5_000 }));
        assert_eq!(
            objective(&p99, "overall", &slow, 200, 0, &mut invalid).status,
            Status::Fail
        );
        assert!(invalid.is_empty());
        // 200 samples cannot judge p99.9.
        assert_eq!(
            objective(&p999, "x", &fast, 200, 0, &mut invalid).status,
            Status::Invalid
        );
        assert_eq!(invalid.len(), 1);
        assert!(invalid[0].contains("1000 needed"));
        let errors = Objective::ErrorRate(0.01);
        assert_eq!(
            objective(&errors, "o", &fast, 99, 1, &mut invalid).status,
            Status::Pass
        );
        assert_eq!(
            objective(&errors, "o", &fast, 98, 2, &mut invalid).status,
            Status::Fail
        );
    }
}
