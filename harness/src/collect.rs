//! The collector: merges the threads' intervals once a second into the run's totals
//! and the per-second series, hands the emptied intervals back for reuse, samples
//! memory (the target's and the harness's own) and prints the live line.

use crate::conn::Plan;
use crate::record::{Interval, SecondPoint};
use crate::targets::monitor::{self, MetricsSource, Scrape};
use crate::units::fmt_us;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// What the target did after the load stopped.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Drain {
    /// Backlog when the load stopped.
    pub backlog_at_stop: f64,
    /// Backlog at the last poll.
    pub backlog_final: f64,
    /// Whether it drained (reached zero or its pre-load level).
    pub drained: bool,
    /// How long the drain took (or how long was waited), ms.
    pub waited_ms: u64,
}

/// Everything a run recorded.
#[derive(Debug)]
pub struct RunData {
    /// All measured requests.
    pub total: Interval,
    /// One point per second of the measured phase.
    pub series: Vec<SecondPoint>,
    /// The harness's own RSS each second (bytes).
    pub harness_rss: Vec<u64>,
    /// The target's RSS each second (bytes), with `--target-pid`.
    pub target_rss: Vec<u64>,
    /// The target's RSS when the measured phase began.
    pub target_rss_start: Option<u64>,
    /// The target's peak RSS (VmHWM) at the end.
    pub target_hwm: Option<u64>,
    /// Where the metrics were read (`MetricsSource::describe`), if anywhere.
    pub metrics_source: Option<String>,
    /// Metrics at the start of the measured phase.
    pub before: Option<Scrape>,
    /// Metrics when the load stopped.
    pub after: Option<Scrape>,
    /// Backlog drain after the load.
    pub drain: Option<Drain>,
    /// Problems met while watching the target.
    pub notes: Vec<String>,
    /// Wall time from the start of the measured phase to the last answer.
    pub elapsed: Duration,
}

/// Watches the target during the run.
#[derive(Debug)]
pub struct Watch {
    /// Metrics source.
    pub metrics: Option<MetricsSource>,
    /// Target pid.
    pub pid: Option<u32>,
    /// Post-run drain wait.
    pub drain_wait: Duration,
}

struct SecondAcc {
    merged: Interval,
}

/// Collects until every thread sent its last interval.
pub fn collect(
    plan: &Plan,
    threads: usize,
    entries: usize,
    rx: &Receiver<Interval>,
    recycle: &[Sender<Interval>],
    watch: &Watch,
) -> RunData {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok();
    let live = std::io::stderr().is_terminal();
    let mut total = Interval::new(entries);
    let mut seconds: BTreeMap<u64, SecondAcc> = BTreeMap::new();
    let mut pool: Vec<Interval> = Vec::new();
    let mut series = Vec::new();
    let mut data_notes = Vec::new();
    let mut harness_rss = Vec::new();
    let mut target_rss = Vec::new();
    let mut target_rss_start = None;
    let mut before = None;
    let mut finished = 0usize;
    let mut latest: Vec<Option<u64>> = vec![None; threads];
    let mut done = vec![false; threads];
    let mut next_tick = Instant::now() + Duration::from_secs(1);
    let mut measuring = false;
    let mut last_answer = plan.measure_start;
    let me = std::process::id();

    let scrape = |notes: &mut Vec<String>| -> Option<Scrape> {
        let src = watch.metrics.as_ref()?;
        let rt = rt.as_ref()?;
        match monitor::scrape(src, rt) {
            Ok(s) => Some(s),
            Err(e) => {
                if notes.len() < 16 {
                    notes.push(format!("metrics scrape failed: {e}"));
                }
                None
            }
        }
    };

    while finished < threads {
        let now = Instant::now();
        if !measuring && now >= plan.measure_start {
            measuring = true;
            before = scrape(&mut data_notes);
            target_rss_start = watch.pid.and_then(monitor::proc_memory).map(|m| m.0);
        }
        if now >= next_tick {
            next_tick += Duration::from_secs(1);
            if let Some((rss, _)) = monitor::proc_memory(me) {
                harness_rss.push(rss);
            }
            if let Some((rss, _)) = watch.pid.and_then(monitor::proc_memory) {
                target_rss.push(rss);
            }
        }
        let wake = if measuring {
            next_tick
        } else {
            next_tick.min(plan.measure_start)
        };
        match rx.recv_timeout(wake.saturating_duration_since(Instant::now())) {
            Ok(mut iv) => {
                total.merge(&iv);
                if iv.requests() > 0 {
                    last_answer = Instant::now();
                }
                let acc = seconds.entry(iv.second).or_insert_with(|| SecondAcc {
                    merged: pool.pop().unwrap_or_else(|| Interval::new(entries)),
                });
                acc.merged.merge(&iv);
                acc.merged.second = iv.second;
                if iv.last {
                    finished += 1;
                }
                latest[iv.thread.min(threads - 1)] = Some(iv.second);
                if iv.last {
                    done[iv.thread.min(threads - 1)] = true;
                }
                // Close every second all threads have reported (or finished before), oldest first.
                while let Some(entry) = seconds.first_entry() {
                    let s = *entry.key();
                    let closable =
                        (0..threads).all(|t| done[t] || latest[t].is_some_and(|l| l >= s));
                    if !closable {
                        break;
                    }
                    let acc = entry.remove();
                    let point = SecondPoint::of(&acc.merged);
                    if live {
                        eprintln!(
                            "[{:>4}s] {:>8} req/s  p50 {:>8}  p99 {:>8}  max {:>8}  errors {}",
                            point.second + 1,
                            point.requests,
                            fmt_us(point.p50_us as f64),
                            fmt_us(point.p99_us as f64),
                            fmt_us(point.max_us as f64),
                            point.errors,
                        );
                    }
                    if point.requests > 0 || point.second * 1000 < plan_secs_ms(plan) {
                        series.push(point);
                    }
                    let mut m = acc.merged;
                    m.reset();
                    pool.push(m);
                }
                iv.reset();
                let t = iv.thread;
                if let Some(back) = recycle.get(t) {
                    let _ = back.send(iv);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    total.finish_single();
    let elapsed = last_answer.saturating_duration_since(plan.measure_start);
    let after = scrape(&mut data_notes);
    let target_hwm = watch.pid.and_then(monitor::proc_memory).map(|m| m.1);
    let drain = after.as_ref().and_then(|a| a.backlog).map(|at_stop| {
        let floor = before
            .as_ref()
            .and_then(|b| b.backlog)
            .unwrap_or(0.0)
            .min(at_stop);
        let t0 = Instant::now();
        let mut last = at_stop;
        while last > floor && t0.elapsed() < watch.drain_wait {
            std::thread::sleep(Duration::from_millis(100));
            if let Some(b) = scrape(&mut data_notes).and_then(|s| s.backlog) {
                last = b;
            }
        }
        Drain {
            backlog_at_stop: at_stop,
            backlog_final: last,
            drained: last <= floor,
            waited_ms: t0.elapsed().as_millis() as u64,
        }
    });
    if watch.metrics.is_some() && after.as_ref().is_some_and(|a| a.memory().is_none()) {
        data_notes.push("the target exports no mabeam_memory_* or process memory gauge".to_owned());
    }
    RunData {
        total,
        series,
        harness_rss,
        target_rss,
        target_rss_start,
        target_hwm,
        metrics_source: watch.metrics.as_ref().map(MetricsSource::describe),
        before,
        after,
        drain,
        notes: data_notes,
        elapsed,
    }
}

fn plan_secs_ms(plan: &Plan) -> u64 {
    plan.end
        .saturating_duration_since(plan.measure_start)
        .as_millis() as u64
}
