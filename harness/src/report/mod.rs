//! Reports: the wrk-like text summary, the `.hgrm` spectrum, the JSON summary, SVG
//! plots and the self-contained HTML page. All read one [`Report`].

pub mod hgrm;
pub mod html;
pub mod json;
pub mod plot;
pub mod text;

use crate::cli::RunConfig;
use crate::collect::RunData;
use crate::verdict::Verdict;
use hdrhistogram::Histogram;

/// The percentiles every table shows.
pub const QUANTILES: [(f64, &str); 6] = [
    (0.5, "p50"),
    (0.75, "p75"),
    (0.9, "p90"),
    (0.99, "p99"),
    (0.999, "p99.9"),
    (0.9999, "p99.99"),
];

/// Everything a report is made from.
#[derive(Debug)]
pub struct Report<'a> {
    /// The run's configuration.
    pub cfg: &'a RunConfig,
    /// What was recorded.
    pub data: &'a RunData,
    /// The verdict.
    pub verdict: &'a Verdict,
    /// Entry names, in order.
    pub entry_names: Vec<String>,
}

impl Report<'_> {
    /// "open loop, constant 1000 req/s" or the closed-loop warning.
    pub fn mode(&self) -> String {
        use crate::schedule::Schedule;
        if self.cfg.closed_loop() {
            return "closed loop: latency BIASED by coordinated omission (use -R for an open loop)"
                .to_owned();
        }
        match (&self.cfg.schedule, &self.cfg.workload) {
            (_, crate::cli::Workload::Replay { speed, .. }) => {
                format!("trace replay at {speed}x, latency from intended start")
            }
            (Some(Schedule::Constant(r)), _) => {
                format!("open loop, constant {r} req/s, latency from intended start")
            }
            (Some(Schedule::Poisson(r)), _) => {
                format!("open loop, Poisson {r} req/s, latency from intended start")
            }
            (Some(Schedule::Ramp { from, to, .. }), _) => {
                format!("open loop, ramp {from}->{to} req/s, latency from intended start")
            }
            (Some(Schedule::Steps { rates, step }), _) => format!(
                "open loop, steps {rates:?} req/s every {step:?}, latency from intended start"
            ),
            (None, _) => String::new(),
        }
    }

    /// Achieved requests per second over the measured duration.
    pub fn achieved_rps(&self) -> f64 {
        self.data.total.requests() as f64 / self.cfg.duration.as_secs_f64()
    }
}

/// `(label, value µs)` for each of [`QUANTILES`] plus `max`.
pub fn percentiles(h: &Histogram<u64>) -> Vec<(&'static str, u64)> {
    let mut v: Vec<(&'static str, u64)> = QUANTILES
        .iter()
        .map(|(q, l)| (*l, h.value_at_quantile(*q)))
        .collect();
    v.push(("max", h.max()));
    v
}

/// Writes `text` to `path`, naming the file on failure.
pub fn write_file(path: &std::path::Path, text: &[u8]) -> Result<(), crate::error::UsageError> {
    std::fs::write(path, text).map_err(|e| crate::error::UsageError::Output {
        file: path.to_owned(),
        problem: e.to_string(),
    })
}
