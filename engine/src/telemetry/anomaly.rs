//! Anomaly detection: rolling mean and deviation over a bounded window, and a bounded
//! ring of recent events.
//!
//! A detector keeps the last `window` samples and their mean and sum of squared deviations
//! (Welford's update while filling; once full, the sliding form that swaps the oldest
//! sample for the newest with multiplications only). A value is anomalous when the
//! detector has at least `min_samples` samples and the value lies more than `threshold`
//! standard deviations from their mean; the value is judged *before* it joins the window,
//! so an outlier cannot hide itself by inflating the deviation. It joins the window
//! afterwards, so a lasting level shift becomes the new normal. The running sums are
//! recomputed from the window once per `window` removals, so rounding cannot drift.

use std::collections::VecDeque;

use serde::Serialize;

use super::error::TelemetryError;
use super::labels::AnomalyMetric;

/// One flagged value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnomalyEvent {
    /// Which metric.
    pub metric: AnomalyMetric,
    /// The value, in the metric's exposed unit (seconds, ratio, currency units).
    pub value: f64,
    /// Mean of the window before this value.
    pub mean: f64,
    /// Sample standard deviation of the window before this value.
    pub stddev: f64,
    /// When it was recorded (the recorder's last `tick` time), ms.
    pub at_ms: u64,
}

/// Recent anomalies and how many older ones were dropped to make room.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AnomalyReport {
    /// Oldest first.
    pub events: Vec<AnomalyEvent>,
    /// Events pushed out of a full buffer since start.
    pub dropped: u64,
}

/// Mean and deviation a value was judged against.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Deviation {
    /// Window mean.
    pub mean: f64,
    /// Window sample standard deviation.
    pub stddev: f64,
}

/// Rolling mean/deviation over the last `window` samples.
#[derive(Clone, Debug)]
pub struct AnomalyDetector {
    ring: Box<[f64]>,
    head: usize,
    len: usize,
    mean: f64,
    m2: f64,
    removals: usize,
    inv_cap: f64,
    min_samples: usize,
    threshold: f64,
}

impl AnomalyDetector {
    /// A detector over `window` samples that flags values beyond `threshold` standard
    /// deviations once it holds `min_samples` samples.
    pub fn new(window: usize, min_samples: usize, threshold: f64) -> Result<Self, TelemetryError> {
        if min_samples < 2 {
            return Err(TelemetryError::InvalidSetting {
                name: "anomaly_min_samples",
                value: min_samples.to_string(),
                why: "must be at least 2 (a deviation needs two samples)",
            });
        }
        if window < min_samples || window > super::settings::BUFFER_MAX as usize {
            return Err(TelemetryError::InvalidSetting {
                name: "anomaly_window_samples",
                value: window.to_string(),
                why: "must be >= anomaly_min_samples and <= 1000000",
            });
        }
        if !(threshold.is_finite() && threshold > 0.0) {
            return Err(TelemetryError::InvalidSetting {
                name: "anomaly_threshold",
                value: threshold.to_string(),
                why: "must be a finite number of standard deviations above 0 (e.g. 3.0)",
            });
        }
        Ok(AnomalyDetector {
            ring: vec![0.0; window].into_boxed_slice(),
            head: 0,
            len: 0,
            mean: 0.0,
            m2: 0.0,
            removals: 0,
            inv_cap: 1.0 / window as f64,
            min_samples,
            threshold,
        })
    }

    /// Samples currently in the window.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True before the first sample.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Mean of the window (0 when empty).
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Sample standard deviation of the window (0 with fewer than two samples).
    pub fn stddev(&self) -> f64 {
        if self.len < 2 {
            0.0
        } else {
            (self.m2 / (self.len - 1) as f64).max(0.0).sqrt()
        }
    }

    /// Judge `value` against the window, then add it. Returns the window's mean and
    /// deviation when the value is anomalous. Non-finite values are ignored.
    #[inline]
    pub fn observe(&mut self, value: f64) -> Option<Deviation> {
        if !value.is_finite() {
            return None;
        }
        // |x - mean| > k * sqrt(m2 / (n - 1)), squared and multiplied out: no sqrt or
        // division on the common (not anomalous) path.
        let verdict = if self.len >= self.min_samples {
            let d = value - self.mean;
            (d * d * (self.len - 1) as f64 > self.threshold * self.threshold * self.m2).then(|| {
                Deviation {
                    mean: self.mean,
                    stddev: self.stddev(),
                }
            })
        } else {
            None
        };
        self.push(value);
        verdict
    }

    fn push(&mut self, value: f64) {
        let cap = self.ring.len();
        if self.len == cap {
            // Full: the new sample replaces the oldest. With n fixed, the update is
            // mean' = mean + (new - old) / n and m2' = m2 + (new - old)(new - mean' + old - mean).
            let old = std::mem::replace(&mut self.ring[self.head], value);
            let delta = value - old;
            let mean = self.mean + delta * self.inv_cap;
            self.m2 = (self.m2 + delta * (value - mean + old - self.mean)).max(0.0);
            self.mean = mean;
            self.removals += 1;
            if self.removals >= cap {
                self.recompute();
            }
        } else {
            self.ring[self.head] = value;
            self.len += 1;
            let delta = value - self.mean;
            self.mean += delta / self.len as f64;
            self.m2 += delta * (value - self.mean);
        }
        self.head += 1;
        if self.head == cap {
            self.head = 0;
        }
    }

    /// Exact mean and m2 from the samples (order does not matter: before the ring first
    /// fills, the samples are `ring[..len]`; after, the whole ring).
    fn recompute(&mut self) {
        self.removals = 0;
        let samples = &self.ring[..self.len];
        let mean = samples.iter().sum::<f64>() / self.len as f64;
        self.m2 = samples.iter().map(|v| (v - mean) * (v - mean)).sum();
        self.mean = mean;
    }
}

/// A bounded FIFO of events: when full, the oldest goes and `dropped` counts it.
#[derive(Clone, Debug)]
pub(crate) struct EventRing {
    events: VecDeque<AnomalyEvent>,
    capacity: usize,
    dropped: u64,
}

impl EventRing {
    pub(crate) fn new(capacity: usize) -> EventRing {
        let capacity = capacity.max(1);
        EventRing {
            events: VecDeque::with_capacity(capacity),
            capacity,
            dropped: 0,
        }
    }

    pub(crate) fn push(&mut self, event: AnomalyEvent) {
        if self.events.len() == self.capacity {
            self.events.pop_front();
            self.dropped += 1;
        }
        self.events.push_back(event);
    }

    pub(crate) fn add_dropped(&mut self, n: u64) {
        self.dropped += n;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.events.is_empty() && self.dropped == 0
    }

    /// Move every event (and the drop count) into `other`.
    pub(crate) fn drain_into(&mut self, other: &mut EventRing) {
        other.add_dropped(std::mem::take(&mut self.dropped));
        for e in self.events.drain(..) {
            other.push(e);
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    pub(crate) fn report(&self) -> AnomalyReport {
        AnomalyReport {
            events: self.events.iter().cloned().collect(),
            dropped: self.dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(values: &[f64]) -> (f64, f64) {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var.sqrt())
    }

    #[test]
    fn invalid_parameters_are_typed_errors() {
        assert!(AnomalyDetector::new(10, 1, 3.0).is_err());
        assert!(AnomalyDetector::new(5, 10, 3.0).is_err());
        assert!(AnomalyDetector::new(10, 5, f64::INFINITY).is_err());
        assert!(AnomalyDetector::new(10, 5, 0.0).is_err());
    }

    #[test]
    fn nothing_flagged_before_min_samples() {
        let mut d = AnomalyDetector::new(100, 10, 3.0).unwrap();
        for v in [1.0, 1.0, 1.0, 1e9, 1.0] {
            assert_eq!(d.observe(v), None);
        }
    }

    #[test]
    fn ring_drops_oldest_and_counts() {
        let mut r = EventRing::new(2);
        for i in 0..5 {
            r.push(AnomalyEvent {
                metric: AnomalyMetric::TickDuration,
                value: i as f64,
                mean: 0.0,
                stddev: 0.0,
                at_ms: i,
            });
        }
        let rep = r.report();
        assert_eq!(rep.dropped, 3);
        assert_eq!(
            rep.events.iter().map(|e| e.at_ms).collect::<Vec<_>>(),
            vec![3, 4]
        );
    }

    proptest! {
        #[test]
        fn rolling_stats_match_naive_over_last_window(
            values in proptest::collection::vec(-1e6f64..1e6, 2..400),
            window in 2usize..64,
        ) {
            let mut d = AnomalyDetector::new(window, 2, 3.0).unwrap();
            for v in &values {
                d.observe(*v);
            }
            let tail = &values[values.len().saturating_sub(window)..];
            prop_assert_eq!(d.len(), tail.len());
            let (mean, sd) = naive(tail);
            let scale = 1.0 + tail.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            prop_assert!((d.mean() - mean).abs() <= 1e-9 * scale, "mean {} vs {}", d.mean(), mean);
            prop_assert!((d.stddev() - sd).abs() <= 1e-6 * scale, "sd {} vs {}", d.stddev(), sd);
        }
    }
}
