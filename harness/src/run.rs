//! A whole run: check, set up, load, collect, judge, report.

use crate::cli::{Args, MetricsEndpoint, RunConfig, TargetKind, Workload};
use crate::collect::{Watch, collect};
use crate::conn::{Plan, PlanTarget};
use crate::error::UsageError;
use crate::report::{self, Report, write_file};
use crate::scenario::Entry;
use crate::targets::embedded;
use crate::targets::monitor::MetricsSource;
use crate::template::Vars;
use rand::SeedableRng;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Seed of the request streams (runs are repeatable).
pub const SEED: u64 = 0x6d61_6265_616d;

/// Runs `args`; returns the exit code (0 pass, 1 budget breached, 2 invalid) or a
/// usage error (exit 3).
pub fn run(args: Args) -> Result<u8, UsageError> {
    let cfg = RunConfig::from_args(args)?;
    let (engine, target) = match &cfg.target {
        TargetKind::Http(t) => (None, PlanTarget::Http(t.clone())),
        TargetKind::Embedded(config) => {
            let e = mabeam_engine::api::Engine::start((**config).clone())
                .map_err(|e| UsageError::Embedded(format!("the engine did not start: {e}")))?;
            let h = e.handle();
            (Some(e), PlanTarget::Embedded(h))
        }
    };
    if matches!(target, PlanTarget::Embedded(_)) {
        check_embedded_routes(&cfg)?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError::Embedded(format!("cannot start a runtime: {e}")))?;
    let run = run_token();
    let refs = setup(&cfg, &target, &rt, run)?;
    let entry_names: Vec<String> = match &cfg.workload {
        Workload::Mix(s) => s.entries.iter().map(|e| e.name.clone()).collect(),
        Workload::Replay { .. } => vec!["replay".to_owned()],
    };
    let start = Instant::now() + Duration::from_millis(20);
    let plan = Arc::new(Plan {
        start,
        measure_start: start + cfg.warmup,
        end: start + cfg.warmup + cfg.duration,
        cutoff: start + cfg.warmup + cfg.duration + cfg.timeout.min(Duration::from_secs(1)),
        connections: cfg.connections,
        pipeline: cfg.pipeline,
        timeout: cfg.timeout,
        headers: cfg.headers.clone(),
        schedule: cfg.schedule.clone(),
        workload: cfg.workload.clone(),
        refs,
        target: target.clone(),
        seed: SEED,
        run,
        spin: if cfg.precise {
            Duration::from_millis(1)
        } else {
            Duration::ZERO
        },
    });
    let watch = Watch {
        metrics: match &target {
            PlanTarget::Embedded(h) => Some(MetricsSource::Embedded(h.clone())),
            PlanTarget::Http(t) => cfg.metrics.as_ref().map(|m| match m {
                MetricsEndpoint::Scrape(m) => MetricsSource::Http {
                    addr: m.addr,
                    host: m.host.clone(),
                    path: m.path.clone(),
                    headers: if m.addr == t.addr {
                        cfg.headers.clone()
                    } else {
                        Vec::new()
                    },
                },
                MetricsEndpoint::Prometheus { server, selector } => MetricsSource::Prometheus {
                    addr: server.addr,
                    host: server.host.clone(),
                    prefix: server.path.trim_end_matches('/').to_owned(),
                    selector: selector.clone(),
                },
            }),
        },
        pid: cfg
            .target_pid
            .or_else(|| engine.as_ref().map(|_| std::process::id())),
        drain_wait: cfg.drain_wait,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let mut links = Vec::with_capacity(cfg.threads);
    for i in 0..cfg.threads {
        let link = crate::driver::spawn(
            Arc::clone(&plan),
            i,
            cfg.threads,
            entry_names.len(),
            tx.clone(),
        )
        .map_err(|e| UsageError::Embedded(format!("cannot start load thread {i}: {e}")))?;
        links.push(link);
    }
    drop(tx);
    let recycle: Vec<_> = links.iter().map(|l| l.recycle.clone()).collect();
    let data = collect(&plan, cfg.threads, entry_names.len(), &rx, &recycle, &watch);
    drop(recycle);
    for l in links {
        let _ = l.join.join();
    }
    let verdict = crate::verdict::judge(&cfg, &data);
    let rep = Report {
        cfg: &cfg,
        data: &data,
        verdict: &verdict,
        entry_names,
    };
    let mut text = report::text::render(&rep);
    if cfg.latency {
        text.push_str("  Detailed percentile spectrum (ms):\n");
        text.push_str(&report::hgrm::render(&data.total.latency));
    }
    print!("{text}");
    write_outputs(&rep)?;
    drop(engine);
    Ok(verdict.exit_code)
}

fn write_outputs(rep: &Report<'_>) -> Result<(), UsageError> {
    let o = &rep.cfg.outputs;
    if let Some(p) = &o.json {
        let v = report::json::render(rep);
        let text = serde_json::to_string_pretty(&v).unwrap_or_default();
        write_file(p, text.as_bytes())?;
    }
    if let Some(p) = &o.hgrm {
        write_file(p, report::hgrm::render(&rep.data.total.latency).as_bytes())?;
    }
    let plot_err = |p: &std::path::Path, e: String| UsageError::Output {
        file: p.to_owned(),
        problem: e,
    };
    if let Some(p) = &o.plot {
        let svg = report::plot::all_svg(rep).map_err(|e| plot_err(p, e))?;
        write_file(p, svg.as_bytes())?;
    }
    if let Some(p) = &o.html {
        let html = report::html::render(rep).map_err(|e| plot_err(p, e))?;
        write_file(p, html.as_bytes())?;
    }
    Ok(())
}

fn sample_path(e: &Entry) -> String {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut out = Vec::new();
    let refs: Vec<Vec<String>> = Vec::new();
    let vars = Vars::new(0, 1, &refs, 0, &mut rng);
    e.path.render(&mut out, &vars, &mut rng);
    String::from_utf8_lossy(&out).into_owned()
}

fn check_embedded_routes(cfg: &RunConfig) -> Result<(), UsageError> {
    let refuse = |what: String| {
        UsageError::Embedded(format!(
            "{what} is not served by the embedding API; it serves {}",
            embedded::ROUTES
        ))
    };
    match &cfg.workload {
        Workload::Mix(s) => {
            for e in s.entries.iter().chain(s.setup.iter().map(|st| &st.request)) {
                let path = sample_path(e);
                if embedded::route(&e.method, &path).is_none() {
                    return Err(refuse(format!(
                        "entry {:?} ({} {})",
                        e.name, e.method, path
                    )));
                }
            }
        }
        Workload::Replay { lines, .. } => {
            if let Some(l) = lines
                .iter()
                .find(|l| embedded::route(&l.method, &l.path).is_none())
            {
                return Err(refuse(format!("trace request {} {}", l.method, l.path)));
            }
        }
    }
    Ok(())
}

/// This run's `{{run}}` token: the clock and the process id, mixed. The one value of a
/// run not drawn from the fixed seed, so that ids built from it differ between runs.
fn run_token() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mixed =
        (nanos ^ u64::from(std::process::id()).rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> 32) as u32
}

/// Runs the scenario's setup steps (in run `run`); returns the captured values per
/// capturing step.
fn setup(
    cfg: &RunConfig,
    target: &PlanTarget,
    rt: &tokio::runtime::Runtime,
    run: u32,
) -> Result<Vec<Vec<String>>, UsageError> {
    let Workload::Mix(s) = &cfg.workload else {
        return Ok(Vec::new());
    };
    let mut refs: Vec<Vec<String>> = Vec::new();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(SEED ^ 0x5e7);
    let (mut path, mut body, mut headers) = (Vec::new(), Vec::new(), Vec::new());
    for (i, step) in s.setup.iter().enumerate() {
        let e = &step.request;
        let mut captured = Vec::new();
        for n in 0..step.count {
            path.clear();
            body.clear();
            // The run's own headers (`-H`, e.g. Authorization), then the step's.
            headers.clear();
            headers.extend_from_slice(&cfg.headers);
            let vars = Vars::new(n as u64, s.agents, &refs, run, &mut rng);
            e.render(&vars, &mut rng, &mut path, &mut headers, &mut body);
            let p = String::from_utf8_lossy(&path).into_owned();
            let fail = |why: String| {
                UsageError::Setup(format!("step {:?} ({} {p}): {why}", e.name, e.method))
            };
            let (status, json) = match target {
                PlanTarget::Http(t) => {
                    let (status, bytes) = rt
                        .block_on(crate::targets::http::fetch(
                            t.addr,
                            &t.host,
                            &e.method,
                            &p,
                            &headers,
                            &body,
                            cfg.timeout,
                        ))
                        .map_err(fail)?;
                    (
                        status,
                        serde_json::from_slice::<serde_json::Value>(&bytes).ok(),
                    )
                }
                PlanTarget::Embedded(h) => {
                    let a = rt.block_on(embedded::execute(h, &e.method, &p, &body, true));
                    (a.status, a.body)
                }
            };
            if !e.accepts(status) {
                // The server's own words, when it sent an API error body.
                let said = json
                    .as_ref()
                    .and_then(|j| j.pointer("/error/message"))
                    .and_then(|m| m.as_str())
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default();
                return Err(fail(format!(
                    "answered {status}{said}; fix the step or the target"
                )));
            }
            if let Some(field) = &step.capture {
                let v = json.as_ref().and_then(|j| j.get(field)).ok_or_else(|| {
                    fail(format!(
                        "the answer has no top-level field {field:?} to capture"
                    ))
                })?;
                captured.push(match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
            }
        }
        if step.capture.is_some() {
            refs.push(captured);
        }
        let _ = i;
    }
    Ok(refs)
}
