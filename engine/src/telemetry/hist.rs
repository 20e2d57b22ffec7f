//! A bounded HDR histogram with an exact sum, and its export to fixed buckets.
//!
//! Built with explicit bounds (`new_with_bounds(1, high, 3)`) and fed with `record`: a
//! histogram made with `new(3)` and `saturating_record` clamps to its starting range and
//! reports 0. Values above `high` are recorded at `high` and reported to the caller, who
//! counts them (`mabeam_telemetry_clamped_values_total`), so clamping is never silent.

use hdrhistogram::Histogram;

use super::families::HistSpec;

/// Significant decimal digits kept by the per-recorder histograms.
pub(crate) const SIGFIG: u8 = 3;

/// An HDR histogram over `0..=high` stored units, plus the exact sum of recorded values.
#[derive(Clone, Debug)]
pub(crate) struct BoundedHist {
    hdr: Histogram<u64>,
    high: u64,
    sum: u128,
}

/// Percentiles and maximum of one snapshot (see [`BoundedHist::spread`]), stored units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Spread<const N: usize> {
    /// One value per percentile asked for, ascending.
    pub(crate) quantiles: [u64; N],
    /// The maximum; no percentile is above it.
    pub(crate) max: u64,
}

/// A histogram ready for exposition: per-bucket (not cumulative) counts in exposed units.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct HistExport {
    /// `(upper bound, count in this bucket)`; values above the last bound are only in `count`.
    pub(crate) buckets: Vec<(f64, u64)>,
    /// Sum of recorded values, exposed units.
    pub(crate) sum: f64,
    /// Number of recorded values.
    pub(crate) count: u64,
}

impl BoundedHist {
    /// A histogram for `spec`, or `None` when the spec's range cannot be represented
    /// (specs are constants; a unit test builds every one).
    pub(crate) fn new(high: u64, sigfig: u8) -> Option<BoundedHist> {
        let high = high.max(2);
        let hdr = Histogram::new_with_bounds(1, high, sigfig).ok()?;
        Some(BoundedHist { hdr, high, sum: 0 })
    }

    /// Record one value in stored units. Returns true when it was above the range and
    /// recorded at the top instead.
    #[inline]
    pub(crate) fn record(&mut self, value: u64) -> bool {
        self.sum = self.sum.saturating_add(u128::from(value));
        let clamped = value > self.high;
        let stored = if clamped { self.high } else { value };
        // `stored` is within `0..=high`, which the histogram was built to track.
        self.hdr.record(stored).is_err() || clamped
    }

    /// Number of values recorded.
    pub(crate) fn len(&self) -> u64 {
        self.hdr.len()
    }

    /// True when nothing was recorded since the last reset.
    pub(crate) fn is_empty(&self) -> bool {
        self.hdr.is_empty()
    }

    /// The percentiles `qs` (ascending, each in 0..=1) and the maximum, read together from
    /// this one snapshot, in stored units (0 when empty).
    ///
    /// HDR reports a quantile as the highest value equivalent to the bucket it falls in,
    /// which can lie above the largest value recorded. The maximum is `exact_max` when the
    /// caller tracked it exactly, else HDR's own; every percentile is capped at that
    /// maximum. So the results ascend and never pass the maximum, however few the samples.
    pub(crate) fn spread<const N: usize>(&self, qs: [f64; N], exact_max: Option<u64>) -> Spread<N> {
        let max = exact_max.unwrap_or_else(|| self.hdr.max().min(self.high));
        let mut floor = 0;
        let quantiles = qs.map(|q| {
            let v = self.hdr.value_at_quantile(q).min(max).max(floor);
            floor = v;
            v
        });
        Spread { quantiles, max }
    }

    /// Exact sum of recorded values, stored units.
    pub(crate) fn sum(&self) -> u128 {
        self.sum
    }

    /// Add `other` (same bounds) into `self`.
    pub(crate) fn add(&mut self, other: &BoundedHist) {
        self.sum = self.sum.saturating_add(other.sum);
        if self.hdr.add(&other.hdr).is_err() {
            // Only reachable if the bounds differ: fold value by value, clamped to range.
            for v in other.hdr.iter_recorded() {
                let value = v.value_iterated_to().min(self.high);
                let _ = self.hdr.record_n(value, v.count_at_value());
            }
        }
    }

    /// Forget everything, keep the allocation.
    pub(crate) fn reset(&mut self) {
        self.hdr.reset();
        self.sum = 0;
    }

    /// Bytes held by the counts array (for sizing reports).
    pub(crate) fn footprint_bytes(&self) -> usize {
        self.hdr.distinct_values() * std::mem::size_of::<u64>()
    }

    /// Per-bucket counts for `spec.buckets`. A value lands in the first bucket whose bound
    /// is at or above the lowest value HDR considers equivalent to it, so a value exactly
    /// on a bound counts in that bound's bucket.
    pub(crate) fn export(&self, spec: &HistSpec) -> HistExport {
        let bounds: Vec<u64> = spec
            .buckets
            .iter()
            .map(|b| (b * spec.scale).round() as u64)
            .collect();
        let mut counts = vec![0u64; bounds.len()];
        let mut bucket = 0;
        for v in self.hdr.iter_recorded() {
            let low = self.hdr.lowest_equivalent(v.value_iterated_to());
            while bucket < bounds.len() && low > bounds[bucket] {
                bucket += 1;
            }
            if bucket == bounds.len() {
                break;
            }
            counts[bucket] += v.count_at_value();
        }
        HistExport {
            buckets: spec.buckets.iter().copied().zip(counts).collect(),
            sum: self.sum as f64 / spec.scale,
            count: self.hdr.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::families::Hist;
    use proptest::prelude::*;

    #[test]
    fn every_spec_builds_and_records_zero_and_top() {
        for h in Hist::all() {
            let spec = h.spec();
            let mut b = BoundedHist::new(spec.high, SIGFIG).expect("spec builds");
            assert!(!b.record(0), "{h:?}: 0 is in range");
            assert!(!b.record(spec.high), "{h:?}: high is in range");
            assert!(b.record(spec.high + 1), "{h:?}: above high is clamped");
            assert_eq!(b.len(), 3);
            assert!(
                b.footprint_bytes() < 400 * 1024,
                "{h:?}: {} bytes",
                b.footprint_bytes()
            );
        }
    }

    #[test]
    fn records_are_not_lost_to_a_zero_range() {
        // The pitfall: new(3) + saturating_record reports 0. Explicit bounds + record do not.
        let mut b = BoundedHist::new(120_000_000, SIGFIG).unwrap();
        for v in [1_000u64, 2_000, 3_000, 250_000] {
            b.record(v);
        }
        let s = b.spread([0.5], None);
        assert!(s.quantiles[0] >= 1_999 && s.quantiles[0] <= 2_001);
        assert!(s.max >= 249_000);
        assert_eq!(b.sum(), 256_000);
    }

    #[test]
    fn value_on_a_bound_counts_in_that_bucket() {
        let spec = Hist::TickDuration.spec();
        let mut b = BoundedHist::new(spec.high, SIGFIG).unwrap();
        b.record(1_000_000); // exactly 1 s
        b.record(10); // exactly 10 us
        let e = b.export(&spec);
        let at = |bound: f64| e.buckets.iter().find(|(b, _)| *b == bound).unwrap().1;
        assert_eq!(at(1.0), 1);
        assert_eq!(at(0.00001), 1);
        assert_eq!(e.count, 2);
        assert!((e.sum - 1.00001).abs() < 1e-9);
    }

    proptest! {
        #[test]
        fn export_is_consistent(values in proptest::collection::vec(0u64..200_000_000, 0..300)) {
            let spec = Hist::TickDuration.spec();
            let mut b = BoundedHist::new(spec.high, SIGFIG).unwrap();
            let mut clamped = 0;
            for v in &values {
                if b.record(*v) { clamped += 1; }
            }
            prop_assert_eq!(clamped, values.iter().filter(|v| **v > spec.high).count());
            let e = b.export(&spec);
            let in_buckets: u64 = e.buckets.iter().map(|(_, c)| c).sum();
            prop_assert!(in_buckets <= e.count);
            prop_assert_eq!(e.count, values.len() as u64);
            // Values clearly below a bound (beyond HDR's 0.1% equivalence) are counted in it.
            for (i, (bound, _)) in e.buckets.iter().enumerate() {
                let cum: u64 = e.buckets[..=i].iter().map(|(_, c)| c).sum();
                let limit = (bound * spec.scale) as u64;
                let surely_below = values.iter().filter(|v| (**v as f64) <= limit as f64 * 0.998).count() as u64;
                let surely_above = values.iter().filter(|v| (**v as f64) > limit as f64 * 1.002).count() as u64;
                prop_assert!(cum >= surely_below, "bound {}: {} < {}", bound, cum, surely_below);
                prop_assert!(cum <= e.count - surely_above);
            }
            let mut merged = BoundedHist::new(spec.high, SIGFIG).unwrap();
            merged.add(&b);
            merged.add(&b);
            prop_assert_eq!(merged.len(), 2 * b.len());
            prop_assert_eq!(merged.sum(), 2 * b.sum());
        }
    }
}
