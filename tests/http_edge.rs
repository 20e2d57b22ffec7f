//! The HTTP edge: probes under a connection flood, the drain on SIGTERM, media types,
//! `Connection: close`, the bearer scheme, logs and the audit log.

mod http_support;

use http_support::{
    BASE_PROFILE, SEALED, Server, TempDir, parse_response, raw_exchange, request, sha256_hex,
};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

fn auth_profile(extra: &str) -> String {
    format!(
        r#"{BASE_PROFILE}drain_grace_ms = 0
[security]
auth_enabled = true
{extra}

[[security.tokens]]
token_sha256 = "{op}"
role = "operator"
"#,
        op = sha256_hex("op-token"),
    )
}

#[test]
fn the_bearer_scheme_is_case_insensitive() {
    let s = Server::start(&auth_profile(""));
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let auth = format!("{scheme} op-token");
        let r = s.request("GET", "/api/agents", &[("authorization", &auth)], None);
        assert_eq!(r.status, 200, "{scheme}: {}", r.text());
    }
    let r = s.request(
        "GET",
        "/api/agents",
        &[("authorization", "Basic op-token")],
        None,
    );
    assert_eq!(r.status, 401);
}

#[test]
fn check_profile_warns_when_auth_is_on_without_a_token() {
    let dir = TempDir::new("check");
    let run = |profile: &str| {
        let path = dir.path("p.toml");
        std::fs::write(&path, profile).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_mabeam"))
            .arg("check-profile")
            .arg(&path)
            .env_remove("MABEAM_SECURITY__TOKENS")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let warned = run("[security]\nauth_enabled = true\n");
    assert!(
        warned.contains("warning") && warned.contains("security.tokens"),
        "{warned}"
    );
    let quiet = run(&auth_profile(""));
    assert!(!quiet.contains("warning"), "{quiet}");
    let off = run("[security]\nauth_enabled = false\n");
    assert!(!off.contains("warning"), "{off}");
}

/// Reads one response with a `Content-Length` body from a connection that stays open.
fn read_one(c: &mut TcpStream) -> http_support::Resp {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Ok(r) = parse_response(&raw) {
            return r;
        }
        let n = c.read(&mut buf).expect("read a response");
        assert!(n > 0, "closed before a whole response: {raw:?}");
        raw.extend_from_slice(&buf[..n]);
    }
}

fn post_on(c: &mut TcpStream, path: &str, body: &str) -> http_support::Resp {
    write!(
        c,
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    read_one(c)
}

#[test]
fn sigterm_keeps_serving_with_ready_false_for_the_grace_then_closes() {
    let mut s = Server::start(&format!("{BASE_PROFILE}drain_grace_ms = 1500\n"));
    let mut kept = TcpStream::connect(s.addr).unwrap();
    kept.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let r = post_on(&mut kept, "/api/coordinate", SEALED);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), None, "keep-alive before the signal");

    let signalled = Instant::now();
    s.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    // Not ready, but still answering, on new connections and on kept ones.
    let ready = s.get("/ready");
    assert_eq!(ready.status, 503, "{}", ready.text());
    assert_eq!(ready.json()["ready"], false);
    let health = s.get("/health");
    assert_eq!(health.status, 200, "{}", health.text());
    let r = post_on(&mut kept, "/api/coordinate", SEALED);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("connection"), Some("close"));
    let mut rest = Vec::new();
    assert_eq!(
        kept.read_to_end(&mut rest).unwrap_or(0),
        0,
        "closed after it"
    );
    let fresh = request(
        s.addr,
        "POST",
        "/api/coordinate",
        &[("content-type", "application/json")],
        Some(SEALED.as_bytes()),
    )
    .expect("served during the grace");
    assert_eq!(fresh.status, 200);

    let (status, lines) = s.wait(Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
    assert!(
        signalled.elapsed() >= Duration::from_millis(1500),
        "exited before the grace ended: {:?}",
        signalled.elapsed()
    );
    assert!(
        lines.iter().any(|l| l.starts_with("shutdown:")),
        "{lines:?}"
    );
}

#[test]
fn a_second_signal_ends_the_grace() {
    let mut s = Server::start(&format!("{BASE_PROFILE}drain_grace_ms = 60000\n"));
    let t0 = Instant::now();
    s.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.get("/ready").status, 503);
    let (status, _) = s.stop("INT", Duration::from_secs(20));
    assert!(status.success());
    assert!(t0.elapsed() < Duration::from_secs(20));
}

#[test]
fn json_routes_refuse_other_media_types_with_415() {
    let s = Server::start(BASE_PROFILE);
    let post = |ctype: Option<&str>| {
        let headers: Vec<(&str, &str)> = ctype.map(|c| ("content-type", c)).into_iter().collect();
        s.request("POST", "/api/coordinate", &headers, Some(SEALED))
    };
    for refused in [
        None,
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("text/json"),
    ] {
        let r = post(refused);
        assert_eq!(r.status, 415, "{refused:?}: {}", r.text());
        assert_eq!(r.code(), "unsupported_media_type");
        assert_eq!(r.field(), "Content-Type");
    }
    for accepted in [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/vnd.mabeam+json",
    ] {
        let r = post(Some(accepted));
        assert_eq!(r.status, 200, "{accepted}: {}", r.text());
    }
    // Every JSON route: registering, a variable update.
    let r = s.request(
        "POST",
        "/api/agents",
        &[("content-type", "text/plain")],
        Some(r#"{"id":"a","kind":"k"}"#),
    );
    assert_eq!(r.status, 415);
    assert_eq!(
        s.post("/api/variables", r#"{"name":"v","value":1}"#).status,
        201
    );
    let r = s.request(
        "PUT",
        "/api/variables/v",
        &[],
        Some(r#"{"value":2,"agent_id":"a"}"#),
    );
    assert_eq!(r.status, 415);
    // A request without a body needs no Content-Type.
    assert_eq!(
        s.post("/api/auctions", r#"{"id":"x","type":"first_price"}"#)
            .status,
        201
    );
    let r = s.request("POST", "/api/auctions/x/close", &[], None);
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn an_answer_before_the_body_is_read_says_connection_close() {
    let s = Server::start(BASE_PROFILE);
    // Head and the first bytes of a body the server will not read.
    let partial = |head: &str| {
        let raw = raw_exchange(
            s.addr,
            format!("{head}host: x\r\ncontent-type: application/json\r\ncontent-length: 3000\r\n\r\n{{\"a\":").as_bytes(),
        )
        .expect("answered");
        parse_response(&raw).expect("a response")
    };
    for (head, status) in [
        ("POST /api/nowhere HTTP/1.1\r\n", 404),
        ("POST /api/agents/a/health HTTP/1.1\r\n", 405),
        ("PUT /api/coordinate HTTP/1.1\r\n", 405),
    ] {
        let r = partial(head);
        assert_eq!(r.status, status, "{head}");
        assert_eq!(r.header("connection"), Some("close"), "{head}");
    }
    // Over the body limit, announced up front: 413 and close.
    let raw = raw_exchange(
        s.addr,
        b"POST /api/coordinate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{",
    )
    .unwrap();
    let r = parse_response(&raw).unwrap();
    assert_eq!(r.status, 413);
    assert_eq!(r.header("connection"), Some("close"));
    // A body that was read keeps the connection.
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for _ in 0..3 {
        let r = post_on(&mut c, "/api/coordinate", SEALED);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("connection"), None);
    }
}

#[test]
fn probes_answer_on_their_listener_with_the_api_connections_full() {
    let profile = BASE_PROFILE
        .replace(
            "header_read_timeout_ms = 400",
            "header_read_timeout_ms = 10000",
        )
        .replace("request_timeout_ms = 1500", "request_timeout_ms = 20000")
        .replace(
            "connections_per_core_max = 64",
            "connections_per_core_max = 4",
        )
        + "probe_listen = \"127.0.0.1:0\"\n";
    let s = Server::start(&profile);
    let probes = s
        .banner_addr("probes")
        .expect("the probe address is printed");
    // Fill every core's connections with idle clients (the kernel spreads them).
    let idle: Vec<TcpStream> = (0..32)
        .map(|_| TcpStream::connect(s.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let main = s.get("/api/agents");
    assert_eq!(
        (main.status, main.code()),
        (503, "too_many_connections".to_owned()),
        "the API listener is full"
    );
    // Past the cap the API listener still answers the probes ...
    for _ in 0..20 {
        assert_eq!(s.get("/health").status, 200);
        assert_eq!(s.get("/ready").status, 200);
    }
    // ... and the probe listener does whatever holds the API's connections.
    for _ in 0..20 {
        let h = request(probes, "GET", "/health", &[], None).expect("probe answered");
        assert_eq!(h.status, 200, "{}", h.text());
        assert_eq!(h.json()["status"], "healthy");
        let r = request(probes, "GET", "/ready", &[], None).expect("probe answered");
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // Nothing but the probes there.
    let r = request(probes, "GET", "/api/agents", &[], None).unwrap();
    assert_eq!((r.status, r.code()), (404, "not_found".to_owned()));
    let r = request(probes, "POST", "/ready", &[], None).unwrap();
    assert_eq!(r.status, 405);
    drop(idle);
}

#[test]
fn the_probe_listener_reports_the_drain() {
    let mut s = Server::start(&format!(
        "{BASE_PROFILE}drain_grace_ms = 800\nprobe_listen = \"127.0.0.1:0\"\n"
    ));
    let probes = s.banner_addr("probes").unwrap();
    assert_eq!(
        request(probes, "GET", "/ready", &[], None).unwrap().status,
        200
    );
    s.signal("TERM");
    std::thread::sleep(Duration::from_millis(200));
    let r = request(probes, "GET", "/ready", &[], None).unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["reason"], "draining");
    let (status, _) = s.wait(Duration::from_secs(20));
    assert!(status.success());
    assert!(
        request(probes, "GET", "/ready", &[], None).is_err(),
        "closed at the end"
    );
}

/// Runs `mabeam serve` with `profile` (`{dir}` replaced), no log filter from the
/// environment, and stderr into `dir/stderr`; stops it with SIGTERM after `work` ran
/// against its address. Returns what it wrote to stderr.
fn serve_logged(dir: &TempDir, profile: &str, work: impl FnOnce(std::net::SocketAddr)) -> String {
    use std::io::BufRead as _;
    let path = dir.path("profile.toml");
    std::fs::write(
        &path,
        profile.replace("{dir}", &dir.0.display().to_string()),
    )
    .unwrap();
    let stderr = std::fs::File::create(dir.path("stderr")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mabeam"))
        .args(["serve", "--listen", "127.0.0.1:0", "--profile"])
        .arg(&path)
        .env_remove("MABEAM_LOG")
        .env_remove("RUST_LOG")
        .env_remove("MABEAM_LOG_FORMAT")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("a listening line").unwrap();
        if let Some(a) = line.strip_prefix("listening on ") {
            break a.trim().parse().unwrap();
        }
    };
    work(addr);
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    assert!(child.wait().unwrap().success());
    std::fs::read_to_string(dir.path("stderr")).unwrap()
}

const ESC: char = '\u{1b}';

#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    let dir = TempDir::new("logs");
    let err = serve_logged(&dir, &format!("{BASE_PROFILE}drain_grace_ms = 0\n"), |_| {});
    assert!(err.contains("serving"), "{err}");
    assert!(!err.contains(ESC), "ANSI escapes in {err:?}");
}

#[test]
fn core_log_file_and_log_level_are_read() {
    let dir = TempDir::new("logs");
    let profile = |level: &str| {
        format!(
            "{BASE_PROFILE}drain_grace_ms = 0\n[core]\nlog_level = \"{level}\"\nlog_file = \"{{dir}}/logs/{level}/mabeam.log\"\n"
        )
    };
    let err = serve_logged(&dir, &profile("info"), |addr| {
        request(addr, "GET", "/health", &[], None).unwrap();
    });
    let log = std::fs::read_to_string(dir.path("logs/info/mabeam.log")).expect("the log file");
    assert!(log.contains("serving"), "{log}");
    assert!(log.contains("shutting down"), "{log}");
    assert!(!log.contains(ESC), "ANSI escapes in the log file");
    assert!(
        !err.contains("serving"),
        "lines went to the file, not stderr: {err}"
    );
    // `error` leaves the info lines out.
    serve_logged(&dir, &profile("error"), |_| {});
    let log = std::fs::read_to_string(dir.path("logs/error/mabeam.log")).expect("the log file");
    assert!(!log.contains("serving"), "{log}");
}

#[test]
fn an_unwritable_log_file_stops_the_start_with_the_key() {
    let dir = TempDir::new("logs");
    let path = dir.path("p.toml");
    std::fs::write(
        &path,
        format!("{BASE_PROFILE}[core]\nlog_file = \"/proc/mabeam/mabeam.log\"\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mabeam"))
        .args(["serve", "--listen", "127.0.0.1:0", "--profile"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("core.log_file"), "{err}");
}

fn audit_lines(dir: &TempDir) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for name in ["audit.log.3", "audit.log.2", "audit.log.1", "audit.log"] {
        if let Ok(text) = std::fs::read_to_string(dir.path(name)) {
            out.extend(
                text.lines()
                    .map(|l| serde_json::from_str(l).expect("JSON line")),
            );
        }
    }
    out
}

#[test]
fn failed_authentications_are_limited_by_address_before_the_token_is_checked() {
    let mut s = Server::start(&auth_profile(
        "auth_failures_per_second = 2\nauth_failures_burst = 3\naudit_enabled = true\naudit_path = \"{dir}/audit.log\"",
    ));
    let get = |token: &str, forwarded: Option<&str>| {
        let auth = format!("Bearer {token}");
        let mut h = vec![("authorization", auth.as_str())];
        if let Some(f) = forwarded {
            h.push(("x-forwarded-for", f));
        }
        s.request("GET", "/api/agents", &h, None)
    };
    assert_eq!(get("op-token", None).status, 200);
    for _ in 0..3 {
        assert_eq!(get("wrong", None).status, 401);
    }
    let r = get("wrong", None);
    assert_eq!(
        (r.status, r.code()),
        (429, "too_many_auth_failures".to_owned())
    );
    assert_eq!(r.header("retry-after"), Some("1"));
    // Refused before the token is looked at: a valid one waits too.
    assert_eq!(get("op-token", None).status, 429);
    // An untrusted peer cannot pick another address with X-Forwarded-For.
    assert_eq!(get("op-token", Some("198.51.100.9")).status, 429);
    // The probes are never limited.
    assert_eq!(s.get("/health").status, 200);
    // The budget refills at the configured rate.
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(get("op-token", None).status, 200);
    let (status, _) = s.stop("TERM", Duration::from_secs(20));
    assert!(status.success());
    let lines = audit_lines(&s.dir);
    let refusals: Vec<_> = lines.iter().filter(|l| l["kind"] == "refusals").collect();
    assert_eq!(refusals.len(), 1, "{lines:?}");
    assert_eq!(refusals[0]["client"], "127.0.0.1");
    assert_eq!(refusals[0]["statuses"]["401"], 3);
    assert_eq!(refusals[0]["statuses"]["429"], 3);
    assert_eq!(refusals[0]["count"], 6);
}

#[test]
fn a_refusal_flood_is_counted_per_address_and_the_audit_log_rotates() {
    let mut s = Server::start(&auth_profile(
        "auth_failures_per_second = 0\naudit_enabled = true\naudit_path = \"{dir}/audit.log\"\n\
         audit_level = \"all\"\naudit_file_max_bytes = 4096\naudit_files_max = 2\n\
         audit_refusals_interval_ms = 100\ntrusted_proxies = \"127.0.0.1\"",
    ));
    // Reads are audited one by one at audit_level = "all", with the forwarded address.
    for _ in 0..100 {
        let r = s.request(
            "GET",
            "/api/agents",
            &[
                ("authorization", "Bearer op-token"),
                ("x-forwarded-for", "198.51.100.4"),
            ],
            None,
        );
        assert_eq!(r.status, 200);
    }
    let flood = 300;
    for i in 0..flood {
        let forwarded = if i % 2 == 0 {
            "203.0.113.7"
        } else {
            "203.0.113.8"
        };
        let r = s.request(
            "GET",
            "/api/agents",
            &[
                ("authorization", "Bearer wrong"),
                ("x-forwarded-for", forwarded),
            ],
            None,
        );
        assert_eq!(r.status, 401);
    }
    let (status, _) = s.stop("TERM", Duration::from_secs(20));
    assert!(status.success());
    // Rotated by size: at most two rotated files beside the live one, none much over the size.
    assert!(!s.dir.path("audit.log.3").exists());
    assert!(s.dir.path("audit.log.2").exists(), "rotated");
    for name in ["audit.log", "audit.log.1", "audit.log.2"] {
        let len = std::fs::metadata(s.dir.path(name)).unwrap().len();
        assert!(len <= 4096 + 512, "{name}: {len} bytes");
    }
    let lines = audit_lines(&s.dir);
    let refusals: Vec<_> = lines.iter().filter(|l| l["kind"] == "refusals").collect();
    // Refusals: per address and interval, far fewer lines than requests; none lost.
    assert!(refusals.len() < 60, "{} refusal lines", refusals.len());
    for client in ["203.0.113.7", "203.0.113.8"] {
        let total: u64 = refusals
            .iter()
            .filter(|l| l["client"] == client)
            .map(|l| l["count"].as_u64().unwrap())
            .sum();
        assert_eq!(total, flood / 2, "{client}");
    }
    let reads = lines
        .iter()
        .filter(|l| l["kind"] == "request" && l["method"] == "GET" && l["client"] == "198.51.100.4")
        .count();
    assert!(reads > 0, "reads are audited at level all");
}

#[test]
fn past_its_own_bound_the_probe_listener_answers_503() {
    let profile = BASE_PROFILE
        .replace(
            "header_read_timeout_ms = 400",
            "header_read_timeout_ms = 10000",
        )
        .replace("request_timeout_ms = 1500", "request_timeout_ms = 20000")
        + "probe_listen = \"127.0.0.1:0\"\n";
    let s = Server::start(&profile);
    let probes = s.banner_addr("probes").unwrap();
    // 64 idle connections hold the probe listener's whole budget.
    let idle: Vec<TcpStream> = (0..64)
        .map(|_| TcpStream::connect(probes).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let r = request(probes, "GET", "/health", &[], None).expect("an answer, not a silent close");
    assert_eq!(
        (r.status, r.code()),
        (503, "too_many_connections".to_owned())
    );
    assert_eq!(r.header("retry-after"), Some("1"));
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(5);
    while request(probes, "GET", "/health", &[], None).map(|r| r.status) != Ok(200) {
        assert!(Instant::now() < deadline, "the budget never freed up");
        std::thread::sleep(Duration::from_millis(50));
    }
}
