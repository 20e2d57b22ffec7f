//! Telemetry: per-worker recording, merged on read.
//!
//! Every worker thread owns a [`Recorder`]. Counters and gauges are single-writer,
//! cache-padded atomics that any thread can read; histograms (HDR, 3 significant digits),
//! per-minute coordination windows and anomaly events stay in the recorder and are
//! published to the shared [`Telemetry`] hub every `flush_interval_ms` (or on request),
//! under `try_lock`, so recording never blocks and never touches a shared hot counter.
//! The hub merges on read: [`Telemetry::render_prometheus`] (Prometheus text format
//! 0.0.4, through prometheus-client), [`Telemetry::coordination_metrics`] (JSON summaries
//! over 1m/1h/24h), [`Telemetry::anomalies`] and the memory helpers.
//!
//! ```
//! use std::time::Duration;
//! use mabeam_engine::telemetry::{Outcome, Protocol, Telemetry, TelemetrySettings, Window};
//!
//! let telemetry = Telemetry::new(TelemetrySettings::default())?;
//! let mut rec = telemetry.worker_recorder(0, 0)?; // move it to worker 0
//! rec.tick(1_000); // once per batch, with the batch's clock reading
//! rec.record_coordination(Protocol::Market, Outcome::Success, Duration::from_micros(250), Some(1.0));
//! rec.flush();
//! let text = telemetry.render_prometheus();
//! assert!(text.contains("mabeam_coordination_requests_total{protocol=\"market\",result=\"success\"} 1"));
//! let summary = telemetry.coordination_metrics(Some("market"), Window::OneMinute, 1_000)?;
//! assert_eq!(summary.count, 1);
//! # Ok::<(), mabeam_engine::telemetry::TelemetryError>(())
//! ```
//!
//! See `README.md` beside this file for the design.

#![forbid(unsafe_code)]

mod anomaly;
mod cleared;
mod error;
mod exposition;
mod families;
mod hist;
mod hub;
mod labels;
pub mod memory;
mod recorder;
mod settings;
mod window;

pub use anomaly::{AnomalyDetector, AnomalyEvent, AnomalyReport, Deviation};
pub use cleared::{Cleared, CoordinationSwitches, protocol_label};
pub use error::TelemetryError;
pub use exposition::{CONTENT_TYPE, PREFIX, TelemetryCollector};
pub use families::{Counter, Gauge, Hist, HistSpec, MetricDesc, MetricUnit};
pub use hub::{HistSummary, RECORDER_NAME_MAX, Telemetry};
pub use labels::{AgentState, AnomalyMetric, AuctionType, Outcome, Protocol, RejectReason};
pub use memory::{AllocatorStats, MemoryStats, ProcessStats, memory_over_limit};
pub use recorder::Recorder;
pub use settings::{BUFFER_MAX, RECORDERS_MAX, RETENTION_MINUTES_MAX, TelemetrySettings};
pub use window::{CleanupReport, CoordinationSummary, MINUTE_MS, Window};
