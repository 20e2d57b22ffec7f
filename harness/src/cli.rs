//! Flags (a superset of wrk's and wrk2's) and their checks. Two stages: [`Args`] is
//! what the user wrote; [`RunConfig`] is what the run uses, refused before any load
//! starts when it makes no sense.

use crate::error::UsageError;
use crate::scenario::{Entry, Scenario, TraceLine, load_trace};
use crate::schedule::Schedule;
use crate::targets::http::HttpTarget;
use crate::units::{Objective, parse_duration, parse_slo};
use clap::Parser;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Most threads and connections accepted.
pub const THREADS_MAX: usize = 256;
/// Most connections accepted.
pub const CONNECTIONS_MAX: usize = 100_000;
/// Deepest pipeline accepted.
pub const PIPELINE_MAX: usize = 1024;

/// mabeam-load: open-loop HTTP load with latency, memory and GC budgets.
#[derive(Debug, Parser)]
#[command(name = "mabeam-load", version, about, long_about = None)]
pub struct Args {
    /// Target URL, http://HOST:PORT/PATH (omit with --embedded).
    pub url: Option<String>,
    /// Load threads.
    #[arg(short = 't', long, default_value_t = 2)]
    pub threads: usize,
    /// Open connections (keep-alive), spread over the threads.
    #[arg(short = 'c', long, default_value_t = 10)]
    pub connections: usize,
    /// Measured duration (10s, 1m, ...), after the warm-up [default: 10s; with
    /// --replay, the trace's length at --speed].
    #[arg(short = 'd', long)]
    pub duration: Option<String>,
    /// Extra request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Request timeout.
    #[arg(long, default_value = "2s")]
    pub timeout: String,
    /// Print the latency distribution (always in the JSON).
    #[arg(long)]
    pub latency: bool,
    /// Requests per second (open loop); 0 = closed loop (biased by coordinated omission).
    #[arg(short = 'R', long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Arrival schedule: constant, poisson, ramp:FROM-TO or steps:R1,R2,..@DUR.
    #[arg(long, default_value = "constant")]
    pub schedule: String,
    /// HTTP/1.1 pipelining depth per connection.
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// A run whose achieved rate falls this far below the target is invalid (percent).
    #[arg(long, default_value = "5%")]
    pub rate_tolerance: String,
    /// Scenario (mix) file.
    #[arg(short = 's', long = "mix", visible_alias = "script")]
    pub mix: Option<PathBuf>,
    /// Replay a JSON-lines trace at its own timing.
    #[arg(long)]
    pub replay: Option<PathBuf>,
    /// Replay speed factor (2 = twice as fast).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Warm-up before the measured phase (not recorded).
    #[arg(long, default_value = "0s")]
    pub warmup: String,
    /// Profile whose `[budgets]` the run is held to.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Objectives, e.g. p99=2ms,p999=10ms,errors=0.1% (override the profile's).
    #[arg(long)]
    pub slo: Option<String>,
    /// Write the JSON summary here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the HdrHistogram percentile spectrum (.hgrm) here.
    #[arg(long)]
    pub hgrm: Option<PathBuf>,
    /// Write the plots (SVG) here.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Write a self-contained HTML report here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Drive an in-process engine instead of a URL.
    #[arg(long)]
    pub embedded: bool,
    /// The target's metrics URL (default: the target's /metrics).
    #[arg(long)]
    pub target_metrics: Option<String>,
    /// Read the target's metrics through this Prometheus's HTTP query API
    /// (`http://HOST:PORT[/PREFIX]`) instead of scraping the target, so a run against a
    /// deployment reports the servers' own series. `--target-metrics` takes precedence.
    #[arg(long, env = "PROMETHEUS_ENDPOINT", value_name = "URL")]
    pub prometheus: Option<String>,
    /// The label matchers that pick the target's series in Prometheus.
    #[arg(long, default_value = r#"job="mabeam""#, value_name = "MATCHERS")]
    pub prometheus_selector: String,
    /// Do not scrape the target's metrics.
    #[arg(long)]
    pub no_metrics: bool,
    /// The target's process id, for its RSS.
    #[arg(long)]
    pub target_pid: Option<u32>,
    /// Spin (yielding) for the last millisecond before each send instead of relying on
    /// the 1 ms timer alone: sub-millisecond send lag at the cost of CPU.
    #[arg(long)]
    pub precise: bool,
    /// How long to wait after the run for the reclamation backlog to drain.
    #[arg(long, default_value = "5s")]
    pub drain_wait: String,
}

/// What drives requests.
#[derive(Debug, Clone)]
pub enum Workload {
    /// Weighted entries on a schedule (a URL run is a mix of one entry).
    Mix(Arc<Scenario>),
    /// A recorded trace at its own timing times `speed`.
    Replay {
        /// The trace.
        lines: Arc<[TraceLine]>,
        /// Speed factor.
        speed: f64,
    },
}

/// Where requests go.
#[derive(Debug, Clone)]
pub enum TargetKind {
    /// An HTTP server.
    Http(HttpTarget),
    /// An in-process engine built from this profile.
    Embedded(Box<mabeam_engine::profile::Config>),
}

/// Output files.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    /// JSON summary.
    pub json: Option<PathBuf>,
    /// .hgrm spectrum.
    pub hgrm: Option<PathBuf>,
    /// SVG plots.
    pub plot: Option<PathBuf>,
    /// HTML report.
    pub html: Option<PathBuf>,
}

/// Budgets beyond latency and errors (from the profile).
#[derive(Debug, Clone, Default)]
pub struct ResourceBudgets {
    /// Largest memory growth after warm-up (bytes).
    pub memory_growth_bytes: Option<u64>,
    /// Maintenance pause p99.
    pub gc_pause_p99: Option<Duration>,
    /// Longest maintenance pause.
    pub gc_pause_max: Option<Duration>,
    /// Largest peak RSS of the target (`performance.memory_limit_mb`).
    pub memory_limit_bytes: Option<u64>,
}

/// A checked run configuration.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Load threads.
    pub threads: usize,
    /// Connections.
    pub connections: usize,
    /// Measured duration.
    pub duration: Duration,
    /// Warm-up.
    pub warmup: Duration,
    /// Extra headers, preformatted `Name: value\r\n` lines.
    pub headers: Vec<u8>,
    /// Request timeout.
    pub timeout: Duration,
    /// Print the distribution.
    pub latency: bool,
    /// `None` = closed loop.
    pub schedule: Option<Schedule>,
    /// Pipelining depth.
    pub pipeline: usize,
    /// Allowed shortfall of the achieved rate (fraction).
    pub rate_tolerance: f64,
    /// What to send.
    pub workload: Workload,
    /// Latency and error objectives.
    pub objectives: Vec<Objective>,
    /// Memory and GC budgets.
    pub resources: ResourceBudgets,
    /// Output files.
    pub outputs: Outputs,
    /// Target.
    pub target: TargetKind,
    /// Where the target's metrics are read (HTTP targets).
    pub metrics: Option<MetricsEndpoint>,
    /// Target process for RSS.
    pub target_pid: Option<u32>,
    /// Post-run backlog drain wait.
    pub drain_wait: Duration,
    /// Spin the last millisecond before each send.
    pub precise: bool,
    /// The URL or `embedded`, for reports.
    pub target_label: String,
}

fn dur(flag: &'static str, text: &str) -> Result<Duration, UsageError> {
    parse_duration(text).map_err(|e| UsageError::flag(flag, e, "write e.g. 10s, 1m or 500ms"))
}

fn parse_headers(list: &[String]) -> Result<Vec<u8>, UsageError> {
    let mut out = Vec::new();
    for h in list {
        let (name, value) = h.split_once(':').ok_or_else(|| {
            UsageError::flag("-H", format!("{h:?} has no ':'"), "write -H 'Name: value'")
        })?;
        let name = name.trim();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(UsageError::flag(
                "-H",
                format!("{name:?} is not a header name"),
                "use letters, digits and '-'",
            ));
        }
        if name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case("content-length") {
            return Err(UsageError::flag(
                "-H",
                format!("{name} is set by the harness"),
                "drop this header",
            ));
        }
        if value.contains(['\r', '\n']) {
            return Err(UsageError::flag(
                "-H",
                format!("{name}: value has a line break"),
                "keep a header on one line",
            ));
        }
        out.extend_from_slice(format!("{name}: {}\r\n", value.trim()).as_bytes());
    }
    Ok(out)
}

impl RunConfig {
    /// Checks `args` and builds the run. Nothing is sent yet, but the target is
    /// probed with a TCP connect.
    pub fn from_args(args: Args) -> Result<RunConfig, UsageError> {
        let duration = match &args.duration {
            Some(d) => dur("-d", d)?,
            None => Duration::from_secs(10),
        };
        if duration.is_zero() {
            return Err(UsageError::flag(
                "-d",
                "the duration is zero",
                "give a positive duration, e.g. -d 10s",
            ));
        }
        let warmup = dur("--warmup", &args.warmup)?;
        let timeout = dur("--timeout", &args.timeout)?;
        if timeout.is_zero() {
            return Err(UsageError::flag(
                "--timeout",
                "the timeout is zero",
                "give e.g. --timeout 2s",
            ));
        }
        let drain_wait = dur("--drain-wait", &args.drain_wait)?;
        if args.threads == 0 || args.threads > THREADS_MAX {
            return Err(UsageError::flag(
                "-t",
                format!("{} threads", args.threads),
                format!("use 1..={THREADS_MAX}"),
            ));
        }
        if args.connections < args.threads {
            return Err(UsageError::flag(
                "-c",
                format!(
                    "{} connections for {} threads leaves threads idle",
                    args.connections, args.threads
                ),
                "give at least one connection per thread (-c >= -t)",
            ));
        }
        if args.connections > CONNECTIONS_MAX {
            return Err(UsageError::flag(
                "-c",
                format!("{} connections", args.connections),
                format!("use at most {CONNECTIONS_MAX}"),
            ));
        }
        if args.pipeline == 0 || args.pipeline > PIPELINE_MAX {
            return Err(UsageError::flag(
                "--pipeline",
                format!("depth {}", args.pipeline),
                format!("use 1..={PIPELINE_MAX}"),
            ));
        }
        let rate_tolerance = crate::units::parse_fraction(&args.rate_tolerance)
            .map_err(|e| UsageError::flag("--rate-tolerance", e, "write e.g. 5%"))?;
        if !(args.rate.is_finite() && args.rate >= 0.0) {
            return Err(UsageError::flag(
                "-R",
                format!("rate {}", args.rate),
                "give requests per second, or 0 for a closed loop",
            ));
        }
        if args.mix.is_some() && args.replay.is_some() {
            return Err(UsageError::flag(
                "--replay",
                "both --mix and --replay given",
                "choose one",
            ));
        }
        if !(args.speed.is_finite() && args.speed > 0.0) {
            return Err(UsageError::flag(
                "--speed",
                format!("speed {}", args.speed),
                "give a positive factor, e.g. 1 or 2.5",
            ));
        }
        let run = warmup + duration;
        let schedule = if args.replay.is_some() || (args.rate == 0.0 && args.schedule == "constant")
        {
            None
        } else {
            let s = Schedule::parse(&args.schedule, args.rate, run)
                .map_err(|e| UsageError::flag("--schedule", e, "see --help"))?;
            let (lo, hi) = s.rate_range();
            if hi == 0.0 {
                return Err(UsageError::flag(
                    "-R",
                    "the schedule never sends",
                    "give a rate above 0",
                ));
            }
            if matches!(s, Schedule::Constant(_) | Schedule::Poisson(_)) && lo < args.threads as f64
            {
                return Err(UsageError::flag(
                    "-R",
                    format!("rate {lo}/s is below the {} threads", args.threads),
                    "raise -R to at least one request per second per thread, or lower -t",
                ));
            }
            if hi < args.threads as f64 {
                return Err(UsageError::flag(
                    "--schedule",
                    format!("peak rate {hi}/s is below the {} threads", args.threads),
                    "raise the rates or lower -t",
                ));
            }
            Some(s)
        };
        let headers = parse_headers(&args.headers)?;

        // Target.
        let (target, target_label) = match (&args.url, args.embedded) {
            (Some(_), true) => {
                return Err(UsageError::flag(
                    "--embedded",
                    "both a URL and --embedded given",
                    "choose one target",
                ));
            }
            (None, false) => {
                return Err(UsageError::flag(
                    "URL",
                    "no target",
                    "give http://HOST:PORT/PATH or --embedded",
                ));
            }
            (Some(url), false) => {
                let t = HttpTarget::parse(url)
                    .map_err(|e| UsageError::flag("URL", e, "fix the URL"))?;
                probe(&t)?;
                (TargetKind::Http(t), url.clone())
            }
            (None, true) => {
                let config = load_profile(args.profile.as_deref())?;
                (
                    TargetKind::Embedded(Box::new(config)),
                    "embedded".to_owned(),
                )
            }
        };

        // Workload.
        let workload = if let Some(path) = &args.replay {
            Workload::Replay {
                lines: load_trace(path)?.into(),
                speed: args.speed,
            }
        } else if let Some(path) = &args.mix {
            Workload::Mix(Arc::new(Scenario::load(path)?))
        } else {
            let path = match &target {
                TargetKind::Http(t) => t.path.clone(),
                TargetKind::Embedded(_) => "/health".to_owned(),
            };
            Workload::Mix(Arc::new(Scenario::single(Entry::plain("GET", &path))))
        };

        // A replay without -d runs the whole trace.
        let duration = match (&workload, &args.duration) {
            (Workload::Replay { lines, speed }, None) => {
                let last = lines
                    .last()
                    .map(|l| l.offset.div_f64(*speed))
                    .unwrap_or_default();
                last.saturating_sub(warmup) + Duration::from_millis(1)
            }
            _ => duration,
        };

        // Budgets: the profile's, overridden by --slo.
        let mut objectives = Vec::new();
        let mut resources = ResourceBudgets::default();
        if let Some(path) = &args.profile {
            let config = load_profile(Some(path))?;
            let b = config.budgets;
            objectives.extend([
                Objective::Latency {
                    quantile: 0.5,
                    limit: b.latency_p50_ms,
                },
                Objective::Latency {
                    quantile: 0.99,
                    limit: b.latency_p99_ms,
                },
                Objective::Latency {
                    quantile: 0.999,
                    limit: b.latency_p999_ms,
                },
                Objective::ErrorRate(b.error_rate),
            ]);
            resources = ResourceBudgets {
                memory_growth_bytes: Some(b.memory_growth_mb << 20),
                gc_pause_p99: Some(b.gc_pause_p99_ms),
                gc_pause_max: Some(b.gc_pause_max_ms),
                memory_limit_bytes: Some(config.performance.memory_limit_mb << 20),
            };
        }
        if let Some(text) = &args.slo {
            let slo = parse_slo(text).map_err(|e| {
                UsageError::flag("--slo", e, "write e.g. p99=2ms,p999=10ms,errors=0.1%")
            })?;
            for o in slo {
                objectives.retain(|x| !same_kind(x, &o));
                objectives.push(o);
            }
        }

        let prometheus = args.prometheus.as_deref().filter(|u| !u.trim().is_empty());
        let metrics = match (&target, args.no_metrics, &args.target_metrics) {
            (_, true, _) | (TargetKind::Embedded(_), _, _) => None,
            (TargetKind::Http(_), false, Some(url)) => Some(MetricsEndpoint::Scrape(
                HttpTarget::parse(url)
                    .map_err(|e| UsageError::flag("--target-metrics", e, "fix the URL"))?,
            )),
            (TargetKind::Http(t), false, None) => Some(match prometheus {
                Some(url) => MetricsEndpoint::Prometheus {
                    server: HttpTarget::parse(url).map_err(|e| {
                        UsageError::flag(
                            "--prometheus (PROMETHEUS_ENDPOINT)",
                            e,
                            "give the Prometheus server as http://HOST:PORT",
                        )
                    })?,
                    selector: prometheus_selector(&args.prometheus_selector)?,
                },
                None => MetricsEndpoint::Scrape(HttpTarget {
                    path: "/metrics".to_owned(),
                    ..t.clone()
                }),
            }),
        };
        if let Some(pid) = args.target_pid
            && crate::targets::monitor::proc_memory(pid).is_none()
        {
            return Err(UsageError::flag(
                "--target-pid",
                format!("no readable /proc/{pid}/status"),
                "give the pid of the running target",
            ));
        }
        Ok(RunConfig {
            threads: args.threads,
            connections: args.connections,
            duration,
            warmup,
            headers,
            timeout,
            latency: args.latency,
            schedule,
            pipeline: args.pipeline,
            rate_tolerance,
            workload,
            objectives,
            resources,
            outputs: Outputs {
                json: args.json,
                hgrm: args.hgrm,
                plot: args.plot,
                html: args.html,
            },
            target,
            metrics,
            target_pid: args.target_pid,
            drain_wait,
            precise: args.precise,
            target_label,
        })
    }

    /// Whether the run is a closed loop (latency biased by coordinated omission).
    pub fn closed_loop(&self) -> bool {
        self.schedule.is_none() && matches!(self.workload, Workload::Mix(_))
    }
}

fn same_kind(a: &Objective, b: &Objective) -> bool {
    match (a, b) {
        (Objective::ErrorRate(_), Objective::ErrorRate(_)) => true,
        (Objective::Latency { quantile: x, .. }, Objective::Latency { quantile: y, .. }) => {
            (x - y).abs() < 1e-12
        }
        _ => false,
    }
}

fn load_profile(
    path: Option<&std::path::Path>,
) -> Result<mabeam_engine::profile::Config, UsageError> {
    mabeam_engine::profile::load_from_process_env(path)
        .map(|l| l.config)
        .map_err(|e| UsageError::Profile {
            file: path
                .map(|p| p.to_owned())
                .unwrap_or_else(|| PathBuf::from("<defaults>")),
            problem: e.to_string(),
        })
}

/// Where the target's metrics come from on an HTTP run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsEndpoint {
    /// Scrape this Prometheus text exposition (the target's `/metrics` by default).
    Scrape(HttpTarget),
    /// Query this Prometheus server's HTTP API for the series matching `selector`.
    Prometheus {
        /// The server; its path is the API's prefix (`/` for none).
        server: HttpTarget,
        /// Label matchers, e.g. `job="mabeam"`.
        selector: String,
    },
}

/// Checks `--prometheus-selector`: label matchers without the braces.
fn prometheus_selector(text: &str) -> Result<String, UsageError> {
    let s = text.trim();
    let s = s
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(s);
    if s.is_empty() || !s.contains(['=', '~']) || s.contains(['{', '}']) {
        return Err(UsageError::flag(
            "--prometheus-selector",
            format!("{text:?} is not a list of label matchers"),
            r#"write e.g. job="mabeam" or job="mabeam",namespace="prod""#,
        ));
    }
    Ok(s.to_owned())
}

fn probe(t: &HttpTarget) -> Result<(), UsageError> {
    std::net::TcpStream::connect_timeout(&t.addr, Duration::from_secs(2))
        .map(drop)
        .map_err(|e| UsageError::Unreachable {
            target: t.addr.to_string(),
            problem: e.to_string(),
        })
}
