//! The percentile spectrum in the HdrHistogram plotter's `.hgrm` format (values in
//! milliseconds), built by iterating the histogram by quantiles.

use hdrhistogram::Histogram;
use std::fmt::Write;

/// Renders `h` (µs) as `.hgrm` text.
pub fn render(h: &Histogram<u64>) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0u64;
    for v in h.iter_quantiles(5) {
        total += v.count_since_last_iteration();
        let q = v.quantile_iterated_to();
        let ms = v.value_iterated_to() as f64 / 1000.0;
        if q < 1.0 {
            let _ = writeln!(
                o,
                "{ms:>12.3} {q:>14.12} {total:>10} {:>14.2}",
                1.0 / (1.0 - q)
            );
        } else {
            let _ = writeln!(o, "{ms:>12.3} {q:>14.12} {total:>10}");
        }
    }
    let _ = writeln!(
        o,
        "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]",
        h.mean() / 1000.0,
        h.stdev() / 1000.0
    );
    let _ = writeln!(
        o,
        "#[Max     = {:>12.3}, Total count    = {:>12}]",
        h.max() as f64 / 1000.0,
        h.len()
    );
    let sub = (2.0 * 10f64.powi(i32::from(h.sigfig())))
        .log2()
        .ceil()
        .exp2() as u64;
    let _ = writeln!(
        o,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        sub
    );
    o
}

/// Parses `.hgrm` text back into `(value_ms, quantile, total_count)` rows (for checks).
pub fn parse_rows(text: &str) -> Vec<(f64, f64, u64)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let v = f.next()?.parse().ok()?;
            let q = f.next()?.parse().ok()?;
            let c = f.next()?.parse().ok()?;
            Some((v, q, c))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spectrum_is_monotonic_and_complete() {
        let mut h = crate::record::histogram();
        for i in 1..=10_000u64 {
            h.record(i * 10).unwrap();
        }
        let text = render(&h);
        let rows = parse_rows(&text);
        assert!(rows.len() > 20);
        for w in rows.windows(2) {
            assert!(w[0].0 <= w[1].0 && w[0].1 <= w[1].1 && w[0].2 <= w[1].2);
        }
        let last = rows.last().unwrap();
        assert_eq!(last.2, 10_000);
        assert!((last.1 - 1.0).abs() < 1e-12);
        assert!(text.contains("#[Mean    ="));
        assert!(text.contains("Total count    =        10000"));
        // p50 is about 50 ms.
        let p50 = rows.iter().find(|r| r.1 >= 0.5).unwrap().0;
        assert!((49.0..51.0).contains(&p50), "{p50}");
    }
}
