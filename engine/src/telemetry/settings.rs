//! Telemetry settings: plain values, validated once.
//!
//! The profile layer maps its `telemetry` (and related) keys onto this struct; see the
//! field docs for the profile key each one corresponds to.

use serde::{Deserialize, Serialize};

use super::error::TelemetryError;

/// Upper bound for `retention_minutes` (7 days).
pub const RETENTION_MINUTES_MAX: u32 = 7 * 1440;
/// Upper bound for `anomaly_window_samples` and `buffer_size`.
pub const BUFFER_MAX: u32 = 1_000_000;
/// Upper bound for `max_recorders`.
pub const RECORDERS_MAX: u32 = 4096;

/// Everything the telemetry layer can be told.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// Record at all. When false, recorders ignore every call (counters stay at zero) and
    /// the exposition shows only process and memory basics. Profile: `telemetry_enabled`.
    pub enabled: bool,
    /// How many per-minute coordination buckets to keep (1..=10080). Profile:
    /// `retention_minutes` / `MABEAM_TELEMETRY_RETENTION`.
    pub retention_minutes: u32,
    /// How often the runtime should call `Telemetry::cleanup` (1..=86_400_000 ms). Profile:
    /// `cleanup_interval_ms`.
    pub cleanup_interval_ms: u64,
    /// A value is anomalous when it is more than this many standard deviations from the
    /// rolling mean (finite, > 0). Profile: `anomaly_threshold`.
    pub anomaly_threshold: f64,
    /// Samples a detector needs before it flags anything (>= 2).
    pub anomaly_min_samples: u32,
    /// Samples in the rolling window (>= `anomaly_min_samples`, <= 1_000_000).
    pub anomaly_window_samples: u32,
    /// Capacity of the recent-anomaly ring (1..=1_000_000). Profile: `telemetry_buffer_size`.
    pub buffer_size: u32,
    /// A recorder publishes its histograms, windows and events at least this often while
    /// it ticks (1..=60_000 ms). Profile: `export_interval` may be mapped here.
    pub flush_interval_ms: u64,
    /// Live recorders the hub accepts (1..=4096): workers plus other threads.
    pub max_recorders: u32,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        TelemetrySettings {
            enabled: true,
            retention_minutes: 1440,
            cleanup_interval_ms: 300_000,
            anomaly_threshold: 3.0,
            anomaly_min_samples: 30,
            anomaly_window_samples: 1000,
            buffer_size: 1000,
            flush_interval_ms: 1000,
            max_recorders: 256,
        }
    }
}

impl TelemetrySettings {
    /// Small limits so tests reach the edges quickly.
    pub fn test_min() -> Self {
        TelemetrySettings {
            retention_minutes: 5,
            cleanup_interval_ms: 1000,
            anomaly_min_samples: 10,
            anomaly_window_samples: 50,
            buffer_size: 8,
            flush_interval_ms: 10,
            max_recorders: 8,
            ..TelemetrySettings::default()
        }
    }

    /// Check every field; the error names the first field out of range.
    pub fn validate(&self) -> Result<(), TelemetryError> {
        fn bad(name: &'static str, value: impl ToString, why: &'static str) -> TelemetryError {
            TelemetryError::InvalidSetting {
                name,
                value: value.to_string(),
                why,
            }
        }
        if !(1..=RETENTION_MINUTES_MAX).contains(&self.retention_minutes) {
            return Err(bad(
                "retention_minutes",
                self.retention_minutes,
                "must be 1..=10080 (up to 7 days)",
            ));
        }
        if !(1..=86_400_000).contains(&self.cleanup_interval_ms) {
            return Err(bad(
                "cleanup_interval_ms",
                self.cleanup_interval_ms,
                "must be 1..=86400000 (up to a day)",
            ));
        }
        if !(self.anomaly_threshold.is_finite() && self.anomaly_threshold > 0.0) {
            return Err(bad(
                "anomaly_threshold",
                self.anomaly_threshold,
                "must be a finite number of standard deviations above 0 (e.g. 3.0)",
            ));
        }
        if self.anomaly_min_samples < 2 {
            return Err(bad(
                "anomaly_min_samples",
                self.anomaly_min_samples,
                "must be at least 2 (a deviation needs two samples)",
            ));
        }
        if self.anomaly_window_samples < self.anomaly_min_samples
            || self.anomaly_window_samples > BUFFER_MAX
        {
            return Err(bad(
                "anomaly_window_samples",
                self.anomaly_window_samples,
                "must be >= anomaly_min_samples and <= 1000000",
            ));
        }
        if !(1..=BUFFER_MAX).contains(&self.buffer_size) {
            return Err(bad("buffer_size", self.buffer_size, "must be 1..=1000000"));
        }
        if !(1..=60_000).contains(&self.flush_interval_ms) {
            return Err(bad(
                "flush_interval_ms",
                self.flush_interval_ms,
                "must be 1..=60000",
            ));
        }
        if !(1..=RECORDERS_MAX).contains(&self.max_recorders) {
            return Err(bad("max_recorders", self.max_recorders, "must be 1..=4096"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_test_min_are_valid() {
        TelemetrySettings::default().validate().unwrap();
        TelemetrySettings::test_min().validate().unwrap();
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(&str, TelemetrySettings)> = vec![
            (
                "retention_minutes",
                TelemetrySettings {
                    retention_minutes: 0,
                    ..Default::default()
                },
            ),
            (
                "cleanup_interval_ms",
                TelemetrySettings {
                    cleanup_interval_ms: 0,
                    ..Default::default()
                },
            ),
            (
                "anomaly_threshold",
                TelemetrySettings {
                    anomaly_threshold: f64::NAN,
                    ..Default::default()
                },
            ),
            (
                "anomaly_threshold",
                TelemetrySettings {
                    anomaly_threshold: -1.0,
                    ..Default::default()
                },
            ),
            (
                "anomaly_min_samples",
                TelemetrySettings {
                    anomaly_min_samples: 1,
                    ..Default::default()
                },
            ),
            (
                "anomaly_window_samples",
                TelemetrySettings {
                    anomaly_window_samples: 5,
                    ..Default::default()
                },
            ),
            (
                "buffer_size",
                TelemetrySettings {
                    buffer_size: 0,
                    ..Default::default()
                },
            ),
            (
                "flush_interval_ms",
                TelemetrySettings {
                    flush_interval_ms: 0,
                    ..Default::default()
                },
            ),
            (
                "max_recorders",
                TelemetrySettings {
                    max_recorders: 0,
                    ..Default::default()
                },
            ),
        ];
        for (name, s) in cases {
            match s.validate() {
                Err(TelemetryError::InvalidSetting { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{name}: expected InvalidSetting, got {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<TelemetrySettings>(r#"{"retention":5}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let ok: TelemetrySettings = serde_json::from_str(r#"{"retention_minutes":60}"#).unwrap();
        assert_eq!(ok.retention_minutes, 60);
    }
}
