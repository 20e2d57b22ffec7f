//! A small HTTP server for the harness's tests: tokio + hyper on 127.0.0.1:0, with
//! injected stalls and a `/metrics` page whose "GC" numbers the test controls. It also
//! plays a Prometheus server: `/api/v1/query` answers a response recorded from a real
//! Prometheus (2.42) scraping `mabeam serve` (`tests/data/prometheus-query.json`) to the
//! query the harness sends for the selector `job="mabeam"`, and an error to any other.
#![allow(dead_code, unreachable_pub)]

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the server does; shared with the test.
#[derive(Debug)]
pub struct Knobs {
    /// Requests served (all paths but /metrics).
    pub served: AtomicU64,
    /// Stall every second for this many ms (0 = never) on `/stall`.
    pub stall_ms: u64,
    /// Whether the reclamation backlog drains after the load stops.
    pub backlog_drains: AtomicBool,
    /// Sweep pause recorded per request, µs (into the sweep histogram).
    pub sweep_pause_us: AtomicU64,
    started: Instant,
    last_request: parking_lot_free::Last,
}

mod parking_lot_free {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Instant;

    /// Milliseconds since start of the last request.
    #[derive(Debug, Default)]
    pub struct Last(AtomicU64);

    impl Last {
        pub fn touch(&self, started: Instant) {
            self.0
                .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        }
        pub fn ms_ago(&self, started: Instant) -> u64 {
            (started.elapsed().as_millis() as u64).saturating_sub(self.0.load(Ordering::Relaxed))
        }
    }
}

/// A running test server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub knobs: Arc<Knobs>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn served(&self) -> u64 {
        self.knobs.served.load(Ordering::Relaxed)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the harness must ask Prometheus for, with the selector `job="mabeam"`.
pub const PROMETHEUS_QUERY: &str = concat!(
    r#"{__name__=~"mabeam_memory_allocated_bytes|mabeam_memory_resident_bytes|"#,
    r#"mabeam_process_resident_memory_bytes|mabeam_gc_reclaim_backlog|"#,
    r#"mabeam_gc_sweep_pause_seconds_bucket",job="mabeam"}"#
);

/// The recorded Prometheus answer to [`PROMETHEUS_QUERY`].
pub const PROMETHEUS_ANSWER: &str = include_str!("../data/prometheus-query.json");

fn prometheus_query(query: &str) -> Response<Full<Bytes>> {
    let asked: Vec<String> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "query")
        .map(|(_, v)| v.into_owned())
        .collect();
    if asked == [PROMETHEUS_QUERY] {
        return text(200, PROMETHEUS_ANSWER.to_owned());
    }
    let body = serde_json::json!({
        "status": "error",
        "errorType": "bad_data",
        "error": format!("unexpected query {asked:?}"),
    });
    text(400, body.to_string())
}

fn text(status: u16, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = hyper::StatusCode::from_u16(status).expect("valid status");
    r
}

async fn handle(
    req: Request<Incoming>,
    k: Arc<Knobs>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let path = req.uri().path().to_owned();
    let is_get = req.method() == hyper::Method::GET;
    if path == "/api/v1/query" {
        return Ok(prometheus_query(req.uri().query().unwrap_or("")));
    }
    if path == "/metrics" {
        let served = k.served.load(Ordering::Relaxed);
        let backlog =
            if k.backlog_drains.load(Ordering::Relaxed) && k.last_request.ms_ago(k.started) > 300 {
                0
            } else {
                100 + served
            };
        let pause = k.sweep_pause_us.load(Ordering::Relaxed) as f64 / 1e6;
        let les = [0.001, 0.005, 0.01, 0.05, 0.1];
        let mut body = String::from("# TYPE mabeam_gc_reclaim_backlog gauge\n");
        body.push_str(&format!("mabeam_gc_reclaim_backlog {backlog}\n"));
        body.push_str(
            "# TYPE mabeam_memory_resident_bytes gauge\nmabeam_memory_resident_bytes 1048576\n",
        );
        body.push_str("# TYPE mabeam_gc_sweep_pause_seconds histogram\n");
        for le in les {
            let c = if pause > 0.0 && pause <= le {
                served
            } else {
                0
            };
            body.push_str(&format!(
                "mabeam_gc_sweep_pause_seconds_bucket{{le=\"{le}\"}} {c}\n"
            ));
        }
        let inf = if pause > 0.0 { served } else { 0 };
        body.push_str(&format!(
            "mabeam_gc_sweep_pause_seconds_bucket{{le=\"+Inf\"}} {inf}\n"
        ));
        body.push_str(&format!("mabeam_gc_sweep_pause_seconds_count {inf}\n"));
        return Ok(text(200, body));
    }
    k.served.fetch_add(1, Ordering::Relaxed);
    k.last_request.touch(k.started);
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    // `/keyed`: creates the resource the `X-Mabeam-Key` header names, for a caller that
    // sends `Authorization: Bearer sekrit`; `/keyed/ID` answers 200 only if the header
    // names the same ID as the path.
    if path == "/keyed" {
        let key = header("x-mabeam-key");
        return Ok(
            if header("authorization") == "Bearer sekrit" && !key.is_empty() {
                text(201, format!("{{\"id\":\"{key}\"}}"))
            } else {
                text(401, "{}".into())
            },
        );
    }
    if let Some(id) = path.strip_prefix("/keyed/") {
        let ok = header("x-mabeam-key") == id && header("authorization") == "Bearer sekrit";
        return Ok(text(if ok { 200 } else { 409 }, "{}".into()));
    }
    match path.as_str() {
        "/stall" => {
            if k.stall_ms > 0 {
                let phase = (k.started.elapsed().as_millis() as u64) % 1000;
                if phase < k.stall_ms {
                    tokio::time::sleep(Duration::from_millis(k.stall_ms - phase)).await;
                }
            }
            Ok(text(200, "ok".into()))
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(text(200, "slow".into()))
        }
        "/fail" => Ok(text(500, "no".into())),
        "/api/auctions" => Ok(text(
            201,
            format!(
                "{{\"id\":\"auc-{}\",\"state\":\"open\"}}",
                k.served.load(Ordering::Relaxed)
            ),
        )),
        p if p.starts_with("/api/auctions/") && is_get => {
            Ok(text(200, "{\"state\":\"open\"}".into()))
        }
        p if p.starts_with("/api/auctions/auc-") => Ok(text(202, "{\"bid_id\":1}".into())),
        p if p.starts_with("/api/auctions/") => Ok(text(404, "{}".into())),
        _ => Ok(text(200, "ok".into())),
    }
}

/// Starts a server; `stall_ms` pauses `/stall` for that long every second.
pub fn start(stall_ms: u64) -> TestServer {
    let knobs = Arc::new(Knobs {
        served: AtomicU64::new(0),
        stall_ms,
        backlog_drains: AtomicBool::new(true),
        sweep_pause_us: AtomicU64::new(0),
        started: Instant::now(),
        last_request: Default::default(),
    });
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let k = Arc::clone(&knobs);
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            addr_tx
                .send(listener.local_addr().expect("addr"))
                .expect("send addr");
            loop {
                tokio::select! {
                    _ = &mut stop_rx => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let k = Arc::clone(&k);
                        tokio::spawn(async move {
                            let svc = service_fn(move |req| handle(req, Arc::clone(&k)));
                            let _ = http1::Builder::new()
                                .pipeline_flush(true)
                                .serve_connection(TokioIo::new(stream), svc)
                                .await;
                        });
                    }
                }
            }
        });
    });
    let addr = addr_rx.recv().expect("server address");
    TestServer {
        addr,
        knobs,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

/// Runs the real binary with `args`; returns (exit code, stdout, stderr).
pub fn load(args: &[&str]) -> (i32, String, String) {
    load_env(args, &[])
}

/// Runs the real binary with `args` and `env` (and no `PROMETHEUS_ENDPOINT` unless
/// `env` sets it); returns (exit code, stdout, stderr).
pub fn load_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mabeam-load"))
        .args(args)
        .env_remove("PROMETHEUS_ENDPOINT")
        .envs(env.iter().copied())
        .output()
        .expect("run mabeam-load");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh temporary directory for one test.
pub fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("mabeam-load-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Reads a JSON report.
pub fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("json written")).expect("valid json")
}

/// Asserts a run passed, except for per-entry latency budgets, which an unoptimised
/// build on busy shared cores may miss (exit 1); returns the JSON.
pub fn assert_passed_but_entry_latency(
    code: i32,
    json: &std::path::Path,
    out: &str,
) -> serde_json::Value {
    assert_passed_except(code, json, out, &[])
}

/// Like [`assert_passed_but_entry_latency`], also letting the checks named in `allowed` fail.
pub fn assert_passed_except(
    code: i32,
    json: &std::path::Path,
    out: &str,
    allowed: &[&str],
) -> serde_json::Value {
    assert!(code == 0 || code == 1, "exit {code}\n{out}");
    let v = self::json(json);
    for c in v["checks"].as_array().expect("checks") {
        let latency = c["name"].as_str().unwrap_or("").starts_with('p') && c["scope"] != "overall";
        let excused = allowed.iter().any(|a| c["name"] == *a);
        assert!(
            c["status"] == "pass" || ((latency || excused) && c["status"] == "fail"),
            "{c}\n{out}"
        );
    }
    v
}
