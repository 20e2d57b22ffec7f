//! Durations (`10s`, `1m`, `250ms`), rates and SLO strings (`p99=2ms,p999=10ms,errors=0.1%`).

use std::time::Duration;

/// Parses a wrk-style duration: a number with a unit `us`, `ms`, `s`, `m` or `h`
/// (a bare number is seconds, as in wrk).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; write e.g. 10s, 1m, 250ms"))?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit {other:?} in {text:?}; use us, ms, s, m or h"
            ));
        }
    };
    let secs = value * scale;
    if !secs.is_finite() || !(0.0..=1e7).contains(&secs) {
        return Err(format!("{text:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// One service-level objective.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective {
    /// The latency at `quantile` (0..1) must be at most `limit`.
    Latency {
        /// e.g. 0.99.
        quantile: f64,
        /// The budget.
        limit: Duration,
    },
    /// The fraction of failed requests must be at most this (0..=1).
    ErrorRate(f64),
}

impl Objective {
    /// `p99`, `p99.9`, `errors`.
    pub fn label(&self) -> String {
        match self {
            Objective::Latency { quantile, .. } => quantile_label(*quantile),
            Objective::ErrorRate(_) => "errors".to_owned(),
        }
    }

    /// The samples a run needs before this objective can be judged.
    pub fn samples_needed(&self) -> u64 {
        match self {
            Objective::Latency { quantile, .. } => {
                // p99 needs 100 samples, p99.9 needs 1000, p50 needs 2.
                let tail = (1.0 - quantile).max(1e-9);
                (1.0 / tail).round().max(1.0) as u64
            }
            Objective::ErrorRate(_) => 1,
        }
    }
}

/// `0.999` -> `p99.9`.
pub fn quantile_label(q: f64) -> String {
    let p = q * 100.0;
    let s = format!("{p:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("p{s}")
}

/// Parses `p50=1ms,p99=2ms,p999=10ms,errors=0.1%`. `pNNN` reads as
/// `p99.9` when it has three or more digits (`p999` = 99.9, `p9999` = 99.99).
pub fn parse_slo(text: &str) -> Result<Vec<Objective>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or_else(|| {
            format!("{part:?} has no '='; write KEY=VALUE, e.g. p99=2ms or errors=0.1%")
        })?;
        let key = key.trim();
        let value = value.trim();
        if key == "errors" || key == "error_rate" {
            out.push(Objective::ErrorRate(parse_fraction(value)?));
            continue;
        }
        let quantile = parse_quantile_key(key)?;
        let limit = parse_duration(value).map_err(|e| format!("{key}: {e}"))?;
        if limit.is_zero() {
            return Err(format!(
                "{key}={value}: a zero latency budget can never be met"
            ));
        }
        out.push(Objective::Latency { quantile, limit });
    }
    if out.is_empty() {
        return Err("no objective given; write e.g. p99=2ms,errors=0.1%".to_owned());
    }
    Ok(out)
}

fn parse_quantile_key(key: &str) -> Result<f64, String> {
    let digits = key.strip_prefix('p').ok_or_else(|| {
        format!("unknown objective {key:?}; use p50, p90, p99, p999, p99.9, max or errors")
    })?;
    let p: f64 = if digits.contains('.') {
        digits
            .parse()
            .map_err(|_| format!("bad percentile {key:?}"))?
    } else if digits.len() >= 3
        && digits.starts_with("99")
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        // p999 -> 99.9, p9999 -> 99.99
        let (a, b) = digits.split_at(2);
        format!("{a}.{b}")
            .parse()
            .map_err(|_| format!("bad percentile {key:?}"))?
    } else {
        digits
            .parse()
            .map_err(|_| format!("bad percentile {key:?}; write e.g. p99 or p99.9"))?
    };
    if !(p > 0.0 && p < 100.0) {
        return Err(format!(
            "percentile {key:?} must be between p0 and p100 (exclusive)"
        ));
    }
    Ok(p / 100.0)
}

/// `0.1%` -> 0.001, `0.001` -> 0.001.
pub fn parse_fraction(value: &str) -> Result<f64, String> {
    let (num, scale) = match value.strip_suffix('%') {
        Some(n) => (n, 0.01),
        None => (value, 1.0),
    };
    let f: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{value:?} is not a rate; write e.g. 0.1% or 0.001"))?;
    let f = f * scale;
    if !(0.0..=1.0).contains(&f) {
        return Err(format!("error rate {value:?} must be between 0% and 100%"));
    }
    Ok(f)
}

/// A human duration for reports: `850us`, `1.23ms`, `2.10s`.
pub fn fmt_us(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0}us")
    } else if us < 1_000_000.0 {
        format!("{:.2}ms", us / 1000.0)
    } else {
        format!("{:.2}s", us / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn slos() {
        let v = parse_slo("p99=2ms,p999=10ms,errors=0.1%").unwrap();
        assert_eq!(v.len(), 3);
        assert!(matches!(v[0], Objective::Latency { quantile, limit }
            if (quantile - 0.99).abs() < 1e-12 && limit == Duration::from_millis(2)));
        assert!(
            matches!(v[1], Objective::Latency { quantile, .. } if (quantile - 0.999).abs() < 1e-12)
        );
        assert!(matches!(v[2], Objective::ErrorRate(r) if (r - 0.001).abs() < 1e-12));
        assert_eq!(v[1].samples_needed(), 1000);
        assert_eq!(v[0].samples_needed(), 100);
        assert_eq!(v[1].label(), "p99.9");
        for bad in [
            "p99",
            "p99=",
            "q99=2ms",
            "p100=1ms",
            "errors=200%",
            "p99=0ms",
            "",
            "p99=2xs",
        ] {
            assert!(parse_slo(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_us(850.0), "850us");
        assert_eq!(fmt_us(1234.0), "1.23ms");
        assert_eq!(quantile_label(0.5), "p50");
        assert_eq!(quantile_label(0.9999), "p99.99");
    }
}
