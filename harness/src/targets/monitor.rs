//! Watching the target while it is loaded: its RSS from `/proc/PID/status`, its
//! allocator and "GC" gauges and sweep-pause histogram from `/metrics`, or from a
//! Prometheus server's HTTP query API (`PROMETHEUS_ENDPOINT`) that scrapes the target.

use super::prom::{self, Sample};
use mabeam_engine::api::Handle;
use std::net::SocketAddr;
use std::time::Duration;

/// Where the target's metrics come from.
#[derive(Debug, Clone)]
pub enum MetricsSource {
    /// Scrape over HTTP.
    Http {
        /// Address.
        addr: SocketAddr,
        /// Host header.
        host: String,
        /// Path, e.g. `/metrics`.
        path: String,
        /// Extra headers, preformatted: the run's `-H` headers when the metrics endpoint is
        /// the target itself (an `Authorization` token for a protected `/metrics`), none
        /// for another host (a token is never sent where the run does not send it).
        headers: Vec<u8>,
    },
    /// Query a Prometheus server (`GET PREFIX/api/v1/query`) for the series matching
    /// `selector`, summed over every series (every node of a deployment).
    Prometheus {
        /// Address of the Prometheus server.
        addr: SocketAddr,
        /// Host header.
        host: String,
        /// Path prefix of its API, without a trailing `/` (empty for none).
        prefix: String,
        /// Label matchers without braces, e.g. `job="mabeam"`.
        selector: String,
    },
    /// Render from the in-process engine.
    Embedded(Handle),
}

impl MetricsSource {
    /// Where the numbers come from, for reports: `/metrics` of a host, the Prometheus
    /// query API with its selector, or the in-process engine.
    pub fn describe(&self) -> String {
        match self {
            MetricsSource::Http { host, path, .. } => format!("http://{host}{path}"),
            MetricsSource::Prometheus {
                host,
                prefix,
                selector,
                ..
            } => format!("prometheus http://{host}{prefix} {{{selector}}}"),
            MetricsSource::Embedded(_) => "embedded".to_owned(),
        }
    }
}

/// The series a scrape reads (a histogram by its base name; its `_bucket` series count).
const ALLOCATED: &str = "mabeam_memory_allocated_bytes";
const RESIDENT: &str = "mabeam_memory_resident_bytes";
const PROCESS_RSS: &str = "mabeam_process_resident_memory_bytes";
const BACKLOG: &str = "mabeam_gc_reclaim_backlog";
const SWEEP_PAUSE: &str = "mabeam_gc_sweep_pause_seconds";

/// The Prometheus instant query for every series a scrape reads, restricted by
/// `selector`.
pub fn prometheus_query(selector: &str) -> String {
    format!(
        r#"{{__name__=~"{ALLOCATED}|{RESIDENT}|{PROCESS_RSS}|{BACKLOG}|{SWEEP_PAUSE}_bucket",{selector}}}"#
    )
}

/// The samples of a Prometheus `/api/v1/query` answer (an instant vector).
pub fn prometheus_samples(body: &[u8]) -> Result<Vec<Sample>, String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        status: String,
        #[serde(default)]
        data: Option<Data>,
        #[serde(default)]
        error: Option<String>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Data {
        result_type: String,
        result: Vec<Series>,
    }
    #[derive(serde::Deserialize)]
    struct Series {
        metric: std::collections::BTreeMap<String, String>,
        value: (f64, String),
    }
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| format!("the Prometheus answer is not a query result: {e}"))?;
    if answer.status != "success" {
        return Err(format!(
            "Prometheus answered {}: {}",
            answer.status,
            answer.error.unwrap_or_default()
        ));
    }
    let data = answer
        .data
        .ok_or("the Prometheus answer has no data".to_owned())?;
    if data.result_type != "vector" {
        return Err(format!(
            "Prometheus answered a {}, not an instant vector",
            data.result_type
        ));
    }
    data.result
        .into_iter()
        .map(|mut s| {
            let name = s.metric.remove("__name__").unwrap_or_default();
            let value = match s.value.1.as_str() {
                "+Inf" | "Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                "NaN" => f64::NAN,
                v => v
                    .parse()
                    .map_err(|_| format!("{name}: bad sample value {v:?}"))?,
            };
            Ok(Sample {
                name,
                labels: s.metric.into_iter().collect(),
                value,
            })
        })
        .collect()
}

/// Reads `VmRSS` and `VmHWM` (bytes) of process `pid`.
pub fn proc_memory(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status(&text)
}

/// Parses `VmRSS` and `VmHWM` out of a `/proc/PID/status` text.
pub fn parse_status(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l[name.len()..].split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// The numbers a scrape gives.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    /// `mabeam_memory_allocated_bytes` (jemalloc), if exported.
    pub allocated: Option<f64>,
    /// `mabeam_memory_resident_bytes` (jemalloc), if exported.
    pub resident: Option<f64>,
    /// `mabeam_process_resident_memory_bytes`, if exported.
    pub process_rss: Option<f64>,
    /// `mabeam_gc_reclaim_backlog` summed over workers.
    pub backlog: Option<f64>,
    /// `mabeam_gc_sweep_pause_seconds` buckets.
    pub sweep_buckets: Vec<(f64, f64)>,
}

impl Scrape {
    /// Extracts the budget-relevant numbers from `samples`.
    pub fn from_samples(samples: &[Sample]) -> Scrape {
        Scrape {
            allocated: prom::sum(samples, ALLOCATED),
            resident: prom::sum(samples, RESIDENT),
            process_rss: prom::sum(samples, PROCESS_RSS),
            backlog: prom::sum(samples, BACKLOG),
            sweep_buckets: prom::buckets(samples, SWEEP_PAUSE),
        }
    }

    /// The best memory figure: allocator resident, else process RSS.
    pub fn memory(&self) -> Option<f64> {
        self.resident.or(self.allocated).or(self.process_rss)
    }
}

/// Scrapes the target. Errors are returned as text (a scrape failure is reported,
/// never fatal).
pub fn scrape(source: &MetricsSource, rt: &tokio::runtime::Runtime) -> Result<Scrape, String> {
    let text = match source {
        MetricsSource::Embedded(h) => h.telemetry().render_prometheus(),
        MetricsSource::Prometheus {
            addr,
            host,
            prefix,
            selector,
        } => {
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("query", &prometheus_query(selector))
                .finish();
            let path = format!("{prefix}/api/v1/query?{query}");
            let (status, body) = rt.block_on(super::http::fetch(
                *addr,
                host,
                "GET",
                &path,
                b"",
                b"",
                Duration::from_secs(5),
            ))?;
            if status != 200 {
                return Err(format!(
                    "Prometheus at {host} answered {status} to {path}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                ));
            }
            let samples = prometheus_samples(&body)?;
            if samples.is_empty() {
                return Err(format!(
                    "Prometheus at {host} has no series matching {{{selector}}}; check \
                     --prometheus-selector and that it scrapes the target"
                ));
            }
            return Ok(Scrape::from_samples(&samples));
        }
        MetricsSource::Http {
            addr,
            host,
            path,
            headers,
        } => {
            let (status, body) = rt.block_on(super::http::fetch(
                *addr,
                host,
                "GET",
                path,
                headers,
                b"",
                Duration::from_secs(2),
            ))?;
            if status != 200 {
                return Err(format!("GET {path} answered {status}"));
            }
            String::from_utf8_lossy(&body).into_owned()
        }
    };
    let samples = prom::parse(&text).map_err(|e| e.to_string())?;
    Ok(Scrape::from_samples(&samples))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields() {
        let t = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(parse_status(t), Some((1024 * 1024, 2048 * 1024)));
        assert_eq!(parse_status("Name: x\n"), None);
        let me = proc_memory(std::process::id()).expect("own /proc status");
        assert!(me.0 > 0 && me.1 >= me.0);
    }

    #[test]
    fn scrape_embedded_engine() {
        let config = mabeam_engine::profile::load(None, Vec::new())
            .unwrap()
            .config;
        let engine = mabeam_engine::api::Engine::start(config).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let s = scrape(&MetricsSource::Embedded(engine.handle()), &rt).unwrap();
        assert!(s.backlog.is_some(), "{s:?}");
        assert!(!s.sweep_buckets.is_empty());
    }
}
