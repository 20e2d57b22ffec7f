//! The memory limit and the node's process limit, through the real binary: growing
//! writes are refused with 503 and `Retry-After` while over, `/ready` follows the memory
//! limit from the first moment, and the resident set stays near the limit.

mod http_support;

use http_support::{Resp, SEALED, Server};
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;

/// A node with room for long variable histories of 60 KB values: only the memory limit
/// bounds it (`{limit}` is replaced).
const GROWABLE: &str = r#"
[engine]
workers = 2
pin_workers = false

[core]
max_variables = 64
history_retention = 100000

[server]
body_max_bytes = 131072
request_timeout_ms = 5000

[performance]
memory_limit_mb = {limit}
memory_sample_interval_ms = 10
"#;

fn json_req(s: &Server, method: &str, path: &str, body: &str) -> Resp {
    s.request(
        method,
        path,
        &[("content-type", "application/json")],
        Some(body),
    )
}

fn resident_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kb * 1024 / MIB
}

fn assert_memory_limit(r: &Resp, what: &str) {
    assert_eq!(
        (r.status, r.code().as_str()),
        (503, "memory_limit"),
        "{what}: {}",
        r.text()
    );
    assert_eq!(r.header("retry-after"), Some("1"), "{what}");
}

#[test]
fn the_memory_limit_holds_against_history_growth_and_every_growing_write() {
    const LIMIT_MIB: u64 = 64;
    let s = Server::start(&GROWABLE.replace("{limit}", &LIMIT_MIB.to_string()));
    assert_eq!(s.get("/ready").status, 200);
    // State to write to once over the limit.
    for (path, body) in [
        ("/api/variables", r#"{"name":"big","value":0}"#),
        ("/api/variables", r#"{"name":"small","value":0}"#),
        ("/api/agents", r#"{"id":"a1","kind":"k"}"#),
        ("/api/auctions", r#"{"id":"au1","type":"first_price"}"#),
        ("/api/markets", r#"{"id":"m1","kind":"call"}"#),
        ("/api/consensus", r#"{"id":"c1","rule":"majority"}"#),
    ] {
        let r = json_req(&s, "POST", path, body);
        assert!(r.status == 201, "{path}: {} {}", r.status, r.text());
    }

    // Grow one variable's history with 60 KB values until the node refuses.
    let put = format!(r#"{{"value":"{}","agent_id":"w"}}"#, "x".repeat(60_000));
    let started = Instant::now();
    let mut accepted = 0u32;
    let refused = loop {
        let r = json_req(&s, "PUT", "/api/variables/big", &put);
        if r.status != 200 {
            break r;
        }
        accepted += 1;
        assert!(
            accepted < 20_000 && started.elapsed() < Duration::from_secs(120),
            "{accepted} PUTs of 60 KB accepted under a {LIMIT_MIB} MiB limit; RSS {} MiB",
            resident_mib(s.pid())
        );
    };
    assert_memory_limit(&refused, "PUT history growth");
    let rss = resident_mib(s.pid());
    eprintln!(
        "memory limit {LIMIT_MIB} MiB: refused after {accepted} PUTs of 60 KB in {:?}; RSS {rss} MiB",
        started.elapsed()
    );
    assert!(
        rss <= LIMIT_MIB + 8,
        "RSS {rss} MiB over a {LIMIT_MIB} MiB limit"
    );

    // Over the limit: not ready, and every write that grows state is refused.
    let ready = s.get("/ready");
    assert_eq!(
        (ready.status, ready.json()["reason"].as_str()),
        (503, Some("memory_limit"))
    );
    assert_eq!(ready.header("retry-after"), Some("1"));
    for (method, path, body) in [
        (
            "PUT",
            "/api/variables/small",
            r#"{"value":1,"agent_id":"w"}"#,
        ),
        ("POST", "/api/variables", r#"{"name":"more","value":0}"#),
        (
            "POST",
            "/api/variables/small/coordinate",
            r#"{"protocol":"vote","rule":"majority","votes":[{"agent_id":"a","value":3}]}"#,
        ),
        ("POST", "/api/agents", r#"{"id":"a2","kind":"k"}"#),
        (
            "POST",
            "/api/auctions",
            r#"{"id":"au2","type":"first_price"}"#,
        ),
        ("POST", "/api/markets", r#"{"id":"m2","kind":"call"}"#),
        ("POST", "/api/consensus", r#"{"id":"c2","rule":"majority"}"#),
        (
            "POST",
            "/api/auctions/au1/bids",
            r#"{"agent_id":"a1","amount":5}"#,
        ),
        (
            "POST",
            "/api/markets/m1/orders",
            r#"{"agent_id":"a1","side":"buy","quantity":1,"limit":5}"#,
        ),
        (
            "POST",
            "/api/consensus/c1/votes",
            r#"{"agent_id":"a1","choice":"x"}"#,
        ),
    ] {
        assert_memory_limit(
            &json_req(&s, method, path, body),
            &format!("{method} {path}"),
        );
    }
    // Reads, stateless coordination and deletes still run.
    assert_eq!(s.get("/api/variables/small").status, 200);
    assert_eq!(s.post("/api/coordinate", SEALED).status, 200);
    assert_eq!(s.delete("/api/agents/a1").status, 204);
    let health = s.get("/health").json();
    assert_eq!(health["services"]["memory"], "degraded");
    assert!(resident_mib(s.pid()) <= LIMIT_MIB + 8);
}

#[test]
fn ready_follows_the_memory_limit_from_the_first_moment() {
    // Sweeps and later samples an hour away: only the sample taken at start can tell.
    let profile = r#"
[engine]
workers = 1
pin_workers = false

[performance]
memory_limit_mb = 1
gc_frequency = 3600000
memory_sample_interval_ms = 60000
"#;
    let s = Server::start(profile);
    let r = s.get("/ready");
    assert_eq!(
        (r.status, r.json()["reason"].as_str()),
        (503, Some("memory_limit")),
        "{}",
        r.text()
    );
    assert_memory_limit(
        &s.post("/api/agents", r#"{"id":"a","kind":"k"}"#),
        "first agent",
    );
}

#[test]
fn process_limit_caps_live_agents_plus_live_sessions() {
    let profile = r#"
[engine]
workers = 2
pin_workers = false

[performance]
process_limit = 3
"#;
    let s = Server::start(profile);
    assert_eq!(
        s.post("/api/agents", r#"{"id":"a1","kind":"k"}"#).status,
        201
    );
    assert_eq!(
        s.post("/api/agents", r#"{"id":"a2","kind":"k"}"#).status,
        201
    );
    assert_eq!(
        s.post("/api/auctions", r#"{"id":"au1","type":"first_price"}"#)
            .status,
        201
    );
    // Three live: the fourth, agent or session, is refused.
    for (path, body) in [
        ("/api/agents", r#"{"id":"a3","kind":"k"}"#),
        ("/api/markets", r#"{"id":"m1","kind":"call"}"#),
        ("/api/consensus", r#"{"id":"c1","rule":"majority"}"#),
    ] {
        let r = s.post(path, body);
        assert_eq!(
            (r.status, r.code().as_str()),
            (503, "process_limit"),
            "{path}: {}",
            r.text()
        );
        assert_eq!(r.header("retry-after"), Some("1"));
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("performance.process_limit")
        );
    }
    // A deregistered agent and a finished session each give their place back.
    assert_eq!(s.delete("/api/agents/a2").status, 204);
    assert_eq!(
        s.post("/api/markets", r#"{"id":"m1","kind":"call"}"#)
            .status,
        201
    );
    assert_eq!(s.post("/api/auctions/au1/close", "").status, 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = s.post("/api/agents", r#"{"id":"a3","kind":"k"}"#);
        if r.status == 201 {
            break;
        }
        assert_eq!(r.code(), "process_limit");
        assert!(
            Instant::now() < deadline,
            "the closed auction's place never came back"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(s.get("/api/agents").json()["count"], 2);
}
