//! Scenario (mix) files and replay traces.
//!
//! A mix file (`loadtest/*.toml`) names weighted request shapes (`[[entry]]`) and
//! optional `[[setup]]` steps that run once before the load and capture a field of each
//! JSON answer (an auction id, say) for `{{ref:NAME}}`. Every error names the file and
//! the line. A trace is JSON lines `{"offset_ms","method","path","body"}`.

use crate::error::{UsageError, line_of};
use crate::template::{Template, Vars};
use crate::units::{Objective, parse_slo};
use rand::Rng;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// Most entries one mix file may hold.
pub const ENTRIES_MAX: usize = 64;
/// Most requests one setup step may send.
pub const SETUP_COUNT_MAX: u32 = 100_000;
/// Most lines a replay trace may hold.
pub const TRACE_LINES_MAX: usize = 5_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    agents: Option<u64>,
    #[serde(default)]
    setup: Vec<Spanned<StepSpec>>,
    #[serde(default)]
    entry: Vec<Spanned<StepSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepSpec {
    name: String,
    #[serde(default)]
    weight: Option<u32>,
    #[serde(default)]
    count: Option<u32>,
    #[serde(default)]
    capture: Option<String>,
    #[serde(default = "get")]
    method: String,
    path: Spanned<String>,
    #[serde(default)]
    headers: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    body: Option<Spanned<String>>,
    #[serde(default)]
    expect: Vec<u16>,
    #[serde(default)]
    slo: Option<Spanned<String>>,
}

fn get() -> String {
    "GET".to_owned()
}

/// One request shape.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Name in reports.
    pub name: String,
    /// Relative weight (entries are drawn at random by weight).
    pub weight: u32,
    /// HTTP method.
    pub method: String,
    /// Path (and query) template.
    pub path: Template,
    /// Extra headers (value templates).
    pub headers: Vec<(String, Template)>,
    /// Body template.
    pub body: Option<Template>,
    /// Statuses that count as success (empty: any 2xx or 3xx).
    pub expect: Vec<u16>,
    /// This entry's own objectives.
    pub slo: Vec<Objective>,
}

impl Entry {
    /// Renders one request of this entry: appends its path, its header lines
    /// (`Name: value\r\n`) and its body to the buffers, all from the same `vars`.
    pub fn render<R: Rng>(
        &self,
        vars: &Vars<'_>,
        rng: &mut R,
        path: &mut Vec<u8>,
        headers: &mut Vec<u8>,
        body: &mut Vec<u8>,
    ) {
        self.path.render(path, vars, rng);
        for (name, value) in &self.headers {
            headers.extend_from_slice(name.as_bytes());
            headers.extend_from_slice(b": ");
            value.render(headers, vars, rng);
            headers.extend_from_slice(b"\r\n");
        }
        if let Some(b) = &self.body {
            b.render(body, vars, rng);
        }
    }

    /// Whether `status` is a success for this entry.
    pub fn accepts(&self, status: u16) -> bool {
        if self.expect.is_empty() {
            (200..400).contains(&status)
        } else {
            self.expect.contains(&status)
        }
    }

    /// A plain entry for a URL run (`GET path`).
    pub fn plain(method: &str, path: &str) -> Entry {
        let none: Vec<String> = Vec::new();
        Entry {
            name: format!("{method} {path}"),
            weight: 1,
            method: method.to_owned(),
            path: Template::compile(&path.replace("{{", "{ {"), none.as_slice())
                .unwrap_or_else(|_| Template::compile("/", none.as_slice()).expect("static")),
            headers: Vec::new(),
            body: None,
            expect: Vec::new(),
            slo: Vec::new(),
        }
    }
}

/// A setup step: sent `count` times before the load; `capture` names the JSON field kept.
#[derive(Debug, Clone)]
pub struct SetupStep {
    /// The request (its `name` is the capture's name).
    pub request: Entry,
    /// How many times it is sent.
    pub count: u32,
    /// Top-level JSON field of the answer to keep (e.g. `id`).
    pub capture: Option<String>,
}

/// A parsed mix file.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Scenario name.
    pub name: String,
    /// Size of the `{{agent}}` pool.
    pub agents: u64,
    /// Setup steps, in order.
    pub setup: Vec<SetupStep>,
    /// Weighted entries.
    pub entries: Vec<Entry>,
    cumulative: Vec<u64>,
}

impl Scenario {
    /// A scenario of one entry.
    pub fn single(entry: Entry) -> Scenario {
        Scenario {
            name: entry.name.clone(),
            agents: 1000,
            setup: Vec::new(),
            cumulative: vec![entry.weight as u64],
            entries: vec![entry],
        }
    }

    /// Draws an entry index by weight from `u` in `0..total_weight()`.
    pub fn pick(&self, u: u64) -> usize {
        self.cumulative
            .partition_point(|c| *c <= u)
            .min(self.entries.len() - 1)
    }

    /// Sum of the weights.
    pub fn total_weight(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(1)
    }

    /// Reads and checks a mix file.
    pub fn load(path: &Path) -> Result<Scenario, UsageError> {
        let text = std::fs::read_to_string(path).map_err(|e| UsageError::File {
            file: path.to_owned(),
            line: 0,
            problem: format!("cannot read it ({e}); check the path"),
        })?;
        Scenario::parse(&text, path)
    }

    /// Parses mix-file `text` (`path` is used in messages).
    pub fn parse(text: &str, path: &Path) -> Result<Scenario, UsageError> {
        let fail = |offset: usize, problem: String| UsageError::File {
            file: path.to_owned(),
            line: line_of(text, offset),
            problem,
        };
        let spec: FileSpec = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            fail(offset, e.message().trim().to_owned())
        })?;
        let _ = spec.description;
        let mut capture_names: Vec<String> = Vec::new();
        let mut setup = Vec::new();
        for step in &spec.setup {
            let at = step.span().start;
            let s = step.get_ref();
            if s.weight.is_some() || s.slo.is_some() {
                return Err(fail(
                    at,
                    format!(
                        "setup step {:?}: weight and slo belong to [[entry]], not [[setup]]",
                        s.name
                    ),
                ));
            }
            let count = s.count.unwrap_or(1);
            if count == 0 || count > SETUP_COUNT_MAX {
                return Err(fail(
                    at,
                    format!(
                        "setup step {:?}: count must be 1..={SETUP_COUNT_MAX}",
                        s.name
                    ),
                ));
            }
            let request = build(s, &capture_names, text, path)?;
            if s.capture.is_some() {
                capture_names.push(s.name.clone());
            }
            setup.push(SetupStep {
                request,
                count,
                capture: s.capture.clone(),
            });
        }
        if spec.entry.is_empty() {
            return Err(fail(
                text.len(),
                "no [[entry]] given; add at least one request shape".to_owned(),
            ));
        }
        if spec.entry.len() > ENTRIES_MAX {
            return Err(fail(
                spec.entry[ENTRIES_MAX].span().start,
                format!("at most {ENTRIES_MAX} entries"),
            ));
        }
        let mut entries: Vec<Entry> = Vec::new();
        let mut cumulative = Vec::new();
        let mut acc = 0u64;
        for e in &spec.entry {
            let at = e.span().start;
            let s = e.get_ref();
            if s.count.is_some() || s.capture.is_some() {
                return Err(fail(
                    at,
                    format!("entry {:?}: count and capture belong to [[setup]]", s.name),
                ));
            }
            if entries.iter().any(|x| x.name == s.name) {
                return Err(fail(
                    at,
                    format!(
                        "entry name {:?} is used twice; names must be unique",
                        s.name
                    ),
                ));
            }
            let weight = s.weight.unwrap_or(1);
            if weight == 0 {
                return Err(fail(
                    at,
                    format!("entry {:?}: weight must be at least 1", s.name),
                ));
            }
            acc += weight as u64;
            cumulative.push(acc);
            entries.push(build(s, &capture_names, text, path)?);
        }
        let agents = spec.agents.unwrap_or(1000);
        if agents == 0 {
            return Err(fail(0, "agents must be at least 1".to_owned()));
        }
        let name = spec.name.unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        Ok(Scenario {
            name,
            agents,
            setup,
            entries,
            cumulative,
        })
    }
}

fn build(s: &StepSpec, refs: &[String], text: &str, path: &Path) -> Result<Entry, UsageError> {
    let fail = |offset: usize, problem: String| UsageError::File {
        file: path.to_owned(),
        line: line_of(text, offset),
        problem: format!("entry {:?}: {problem}", s.name),
    };
    let method = s.method.to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(fail(
            s.path.span().start,
            format!("method {:?} is not an HTTP method", s.method),
        ));
    }
    let compile = |t: &Spanned<String>| {
        Template::compile(t.get_ref(), refs).map_err(|e| fail(t.span().start, e))
    };
    if !s.path.get_ref().starts_with('/') {
        return Err(fail(
            s.path.span().start,
            "path must start with '/'".to_owned(),
        ));
    }
    let mut headers = Vec::new();
    for (k, v) in &s.headers {
        if k.is_empty()
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(fail(
                v.span().start,
                format!("header name {k:?} is not a valid token"),
            ));
        }
        headers.push((k.clone(), compile(v)?));
    }
    let slo = match &s.slo {
        Some(t) => parse_slo(t.get_ref()).map_err(|e| fail(t.span().start, e))?,
        None => Vec::new(),
    };
    if let Some(bad) = s.expect.iter().find(|c| !(100..=599).contains(*c)) {
        return Err(fail(
            s.path.span().start,
            format!("expect: {bad} is not an HTTP status"),
        ));
    }
    Ok(Entry {
        name: s.name.clone(),
        weight: s.weight.unwrap_or(1),
        method,
        path: compile(&s.path)?,
        headers,
        body: s.body.as_ref().map(compile).transpose()?,
        expect: s.expect.clone(),
        slo,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceSpec {
    offset_ms: f64,
    #[serde(default = "get")]
    method: String,
    path: String,
    #[serde(default)]
    body: Option<serde_json::Value>,
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct TraceLine {
    /// When it was sent, from the trace's start.
    pub offset: Duration,
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Body, as sent.
    pub body: Option<String>,
}

/// Reads a JSON-lines trace; offsets must not go backwards.
pub fn load_trace(path: &Path) -> Result<Vec<TraceLine>, UsageError> {
    let text = std::fs::read_to_string(path).map_err(|e| UsageError::File {
        file: path.to_owned(),
        line: 0,
        problem: format!("cannot read it ({e}); check the path"),
    })?;
    parse_trace(&text, path)
}

/// Parses trace `text`.
pub fn parse_trace(text: &str, path: &Path) -> Result<Vec<TraceLine>, UsageError> {
    let mut out = Vec::new();
    let mut last = 0.0f64;
    for (i, line) in text.lines().enumerate() {
        let fail = |problem: String| UsageError::File {
            file: path.to_owned(),
            line: i + 1,
            problem,
        };
        if line.trim().is_empty() {
            continue;
        }
        if out.len() >= TRACE_LINES_MAX {
            return Err(fail(format!(
                "a trace holds at most {TRACE_LINES_MAX} lines; split it"
            )));
        }
        let t: TraceSpec = serde_json::from_str(line).map_err(|e| {
            fail(format!(
                "{e}; each line is {{\"offset_ms\",\"method\",\"path\",\"body\"}}"
            ))
        })?;
        if !(t.offset_ms.is_finite() && t.offset_ms >= 0.0) {
            return Err(fail("offset_ms must be a non-negative number".to_owned()));
        }
        if t.offset_ms < last {
            return Err(fail(format!(
                "offset_ms {} goes back in time (previous {last}); sort the trace",
                t.offset_ms
            )));
        }
        if !t.path.starts_with('/') {
            return Err(fail("path must start with '/'".to_owned()));
        }
        last = t.offset_ms;
        let body = t.body.map(|b| match b {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        });
        out.push(TraceLine {
            offset: Duration::from_secs_f64(t.offset_ms / 1000.0),
            method: t.method.to_ascii_uppercase(),
            path: t.path,
            body,
        });
    }
    if out.is_empty() {
        return Err(UsageError::File {
            file: path.to_owned(),
            line: 1,
            problem: "the trace is empty".to_owned(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
agents = 50

[[setup]]
name = "auctions"
count = 2
method = "POST"
path = "/api/auctions"
body = '{"type":"first_price"}'
capture = "id"

[[entry]]
name = "bid"
weight = 3
method = "post"
path = "/api/auctions/{{ref:auctions}}/bids"
headers = { "X-Mabeam-Key" = "{{agent}}" }
body = '{"agent_id":"{{agent}}","amount":{{amount:1..100}}}'
expect = [202, 409]
slo = "p99=5ms"

[[entry]]
name = "health"
path = "/health"
"#;

    #[test]
    fn parses_a_mix() {
        let s = Scenario::parse(GOOD, Path::new("t.toml")).unwrap();
        assert_eq!(s.entries.len(), 2);
        assert_eq!(s.setup[0].capture.as_deref(), Some("id"));
        assert_eq!(s.entries[0].method, "POST");
        assert_eq!(s.total_weight(), 4);
        assert_eq!(s.pick(0), 0);
        assert_eq!(s.pick(2), 0);
        assert_eq!(s.pick(3), 1);
        assert!(s.entries[0].accepts(409) && !s.entries[0].accepts(200));
        assert!(s.entries[1].accepts(204));
    }

    #[test]
    fn errors_name_the_line() {
        let bad = GOOD.replace("{{amount:1..100}}", "{{amount:1..}}");
        let e = Scenario::parse(&bad, Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.toml:19:"), "{e}");
        let bad = GOOD.replace("weight = 3", "wieght = 3");
        let e = Scenario::parse(&bad, Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.toml:15:"), "{e}");
        let bad = GOOD.replace("slo = \"p99=5ms\"", "slo = \"p99=fast\"");
        let e = Scenario::parse(&bad, Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.toml:21:"), "{e}");
    }

    #[test]
    fn traces() {
        let t = "{\"offset_ms\":0,\"method\":\"GET\",\"path\":\"/a\"}\n\n{\"offset_ms\":5,\"method\":\"POST\",\"path\":\"/b\",\"body\":{\"x\":1}}\n";
        let v = parse_trace(t, Path::new("x.jsonl")).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].body.as_deref(), Some("{\"x\":1}"));
        let bad = "{\"offset_ms\":5,\"path\":\"/a\"}\n{\"offset_ms\":1,\"path\":\"/a\"}\n";
        let e = parse_trace(bad, Path::new("x.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.jsonl:2:"), "{e}");
    }
}
