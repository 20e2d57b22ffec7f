//! A small parser for the Prometheus text exposition format (the lines the budgets
//! need: samples with labels; comments and `# TYPE`/`# HELP` are skipped).

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name (with `_bucket`, `_count`, ... suffixes as written).
    pub name: String,
    /// Label pairs in order.
    pub labels: Vec<(String, String)>,
    /// Value (`+Inf`, `-Inf`, `NaN` understood).
    pub value: f64,
}

impl Sample {
    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A parse error with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("metrics line {line}: {problem}")]
pub struct PromError {
    /// Line number.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

/// Parses exposition `text`.
pub fn parse(text: &str) -> Result<Vec<Sample>, PromError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(parse_line(line).map_err(|problem| PromError {
            line: i + 1,
            problem,
        })?);
    }
    Ok(out)
}

fn parse_line(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
        return Err(format!("no metric name in {line:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        let mut s = after;
        loop {
            s = s.trim_start_matches([' ', ',']);
            if let Some(r) = s.strip_prefix('}') {
                rest = r;
                break;
            }
            let eq = s
                .find('=')
                .ok_or_else(|| format!("label without '=' in {line:?}"))?;
            let key = s[..eq].trim().to_owned();
            let v = s[eq + 1..]
                .trim_start()
                .strip_prefix('"')
                .ok_or_else(|| format!("label value not quoted in {line:?}"))?;
            let mut value = String::new();
            let mut chars = v.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, other)) => value.push(other),
                        None => break,
                    },
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let end = end.ok_or_else(|| format!("unterminated label value in {line:?}"))?;
            labels.push((key, value));
            s = &v[end + 1..];
        }
    }
    let mut fields = rest.split_whitespace();
    let v = fields
        .next()
        .ok_or_else(|| format!("no value in {line:?}"))?;
    let value = match v {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v
            .parse()
            .map_err(|_| format!("bad value {v:?} in {line:?}"))?,
    };
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Sum of every sample named `name` (over all label sets), or `None` if absent.
pub fn sum(samples: &[Sample], name: &str) -> Option<f64> {
    let mut found = false;
    let mut total = 0.0;
    for s in samples.iter().filter(|s| s.name == name) {
        found = true;
        total += s.value;
    }
    found.then_some(total)
}

/// A histogram's cumulative buckets `(le, count)` summed over label sets, ascending.
pub fn buckets(samples: &[Sample], name: &str) -> Vec<(f64, f64)> {
    let bucket = format!("{name}_bucket");
    let mut out: Vec<(f64, f64)> = Vec::new();
    for s in samples.iter().filter(|s| s.name == bucket) {
        let Some(le) = s.label("le").and_then(|l| match l {
            "+Inf" | "Inf" => Some(f64::INFINITY),
            l => l.parse().ok(),
        }) else {
            continue;
        };
        match out.iter_mut().find(|(b, _)| *b == le) {
            Some(e) => e.1 += s.value,
            None => out.push((le, s.value)),
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// From the bucket deltas between two scrapes: the upper bound of the bucket holding
/// quantile `q`, and the upper bound of the highest non-empty bucket (the max is at most
/// that). `None` if nothing was observed in between.
pub fn bucket_quantile(before: &[(f64, f64)], after: &[(f64, f64)], q: f64) -> Option<(f64, f64)> {
    let delta: Vec<(f64, f64)> = after
        .iter()
        .map(|(le, c)| {
            let b = before
                .iter()
                .find(|(l, _)| l == le)
                .map(|x| x.1)
                .unwrap_or(0.0);
            (*le, (c - b).max(0.0))
        })
        .collect();
    let total = delta.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = (q * total).ceil().max(1.0);
    let at_q = delta.iter().find(|(_, c)| *c >= rank).map(|x| x.0)?;
    let mut max = delta[0].0;
    let mut prev = 0.0;
    for (le, c) in &delta {
        if *c > prev {
            max = *le;
        }
        prev = *c;
    }
    Some((at_q, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP mabeam_gc_reclaim_backlog Retired items.
# TYPE mabeam_gc_reclaim_backlog gauge
mabeam_gc_reclaim_backlog 7
mabeam_runtime_inbox_depth{worker="0"} 2
mabeam_runtime_inbox_depth{worker="1"} 3
mabeam_gc_sweep_pause_seconds_bucket{le="0.001"} 5
mabeam_gc_sweep_pause_seconds_bucket{le="0.01"} 9
mabeam_gc_sweep_pause_seconds_bucket{le="+Inf"} 10
mabeam_gc_sweep_pause_seconds_count 10
weird{a="x\"y",b="1"} 1.5e3 1700000000
"#;

    #[test]
    fn parses_exposition() {
        let s = parse(TEXT).unwrap();
        assert_eq!(sum(&s, "mabeam_gc_reclaim_backlog"), Some(7.0));
        assert_eq!(sum(&s, "mabeam_runtime_inbox_depth"), Some(5.0));
        assert_eq!(sum(&s, "absent"), None);
        let w = s.iter().find(|x| x.name == "weird").unwrap();
        assert_eq!(w.label("a"), Some("x\"y"));
        assert_eq!(w.value, 1500.0);
        let b = buckets(&s, "mabeam_gc_sweep_pause_seconds");
        assert_eq!(b, vec![(0.001, 5.0), (0.01, 9.0), (f64::INFINITY, 10.0)]);
        let none: Vec<(f64, f64)> = Vec::new();
        assert_eq!(
            bucket_quantile(&none, &b, 0.5),
            Some((0.001, f64::INFINITY))
        );
        assert_eq!(bucket_quantile(&b, &b, 0.5), None);
        let before = vec![(0.001, 5.0), (0.01, 5.0), (f64::INFINITY, 5.0)];
        assert_eq!(
            bucket_quantile(&before, &b, 0.99),
            Some((f64::INFINITY, f64::INFINITY))
        );
        let after = vec![(0.001, 5.0), (0.01, 9.0), (f64::INFINITY, 9.0)];
        assert_eq!(bucket_quantile(&before, &after, 0.99), Some((0.01, 0.01)));
    }

    #[test]
    fn refuses_garbage() {
        assert_eq!(parse("ok 1\nbad{a=1} 2\n").unwrap_err().line, 2);
        assert!(parse("x{a=\"1\"}").is_err());
        assert!(parse("x abc").is_err());
    }
}
