//! Watching the target while it is loaded: its RSS from `/proc/PID/status`, its
//! allocator and "GC" gauges and sweep-pause histogram from `/metrics`.

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
    /// Render from the in-process engine.
    Embedded(Handle),
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
            allocated: prom::sum(samples, "mabeam_memory_allocated_bytes"),
            resident: prom::sum(samples, "mabeam_memory_resident_bytes"),
            process_rss: prom::sum(samples, "mabeam_process_resident_memory_bytes"),
            backlog: prom::sum(samples, "mabeam_gc_reclaim_backlog"),
            sweep_buckets: prom::buckets(samples, "mabeam_gc_sweep_pause_seconds"),
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
