//! Hardening: every bad input gets its status and JSON error, limits hold, and the server
//! keeps serving after each.

mod http_support;

use http_support::{BASE_PROFILE, SEALED, Server, parse_response, raw_exchange, request};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn bad_json_unknown_fields_and_bad_values_name_the_field() {
    let s = Server::start(BASE_PROFILE);
    let r = s.post("/api/coordinate", "{\"protocol\":");
    assert_eq!((r.status, r.code()), (400, "malformed_json".to_owned()));
    let r = s.post("/api/coordinate", "");
    assert_eq!((r.status, r.code()), (400, "malformed_json".to_owned()));
    let r = s.post(
        "/api/coordinate",
        r#"{"protocol":"auction","auction":{"type":"second_price","bids":[],"colour":"red"}}"#,
    );
    assert_eq!((r.status, r.code()), (400, "unknown_field".to_owned()));
    assert_eq!(r.field(), "auction.colour");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour")
    );
    let r = s.post(
        "/api/coordinate",
        r#"{"protocol":"auction","auction":{"type":"second_price","bids":[{"agent_id":"a","amount":"lots"}]}}"#,
    );
    assert_eq!((r.status, r.code()), (400, "invalid_field".to_owned()));
    assert_eq!(r.field(), "auction.bids[0].amount");
    // Valid JSON, invalid by the engine's rules: the engine names the field.
    let r = s.post(
        "/api/coordinate",
        r#"{"protocol":"auction","auction":{"type":"second_price","bids":[{"agent_id":"bad id","amount":3}]}}"#,
    );
    assert_eq!((r.status, r.code()), (400, "invalid_id".to_owned()));
    assert_eq!(r.field(), "auction.bids[0].agent_id");
    let r = s.post("/api/agents", r#"{"id":"x","kind":"k","extra":1}"#);
    assert_eq!((r.status, r.field()), (400, "extra".to_owned()));
    let r = s.post("/api/agents", r#"{"kind":"k"}"#);
    assert_eq!(
        (r.status, r.code(), r.field()),
        (400, "missing_field".to_owned(), "id".to_owned())
    );
    let r = s.post(
        "/api/agents",
        r#"{"id":"x","kind":"k","supervision":{"max_seconds":0}}"#,
    );
    assert_eq!(
        (r.status, r.field()),
        (400, "supervision.max_seconds".to_owned())
    );
    let r = s.post("/api/coordinate/batch", r#"{"requests":{}}"#);
    assert_eq!((r.status, r.field()), (400, "requests".to_owned()));
    s.assert_alive();
    assert_eq!(s.post("/api/coordinate", SEALED).status, 200);
}

#[test]
fn unknown_routes_and_methods() {
    let s = Server::start(BASE_PROFILE);
    for path in ["/", "/api", "/api/agents/a/b/c", "/api/auction", "/%ff"] {
        let r = s.get(path);
        assert_eq!(
            (r.status, r.code()),
            (404, "not_found".to_owned()),
            "{path}"
        );
    }
    let r = s.request("PUT", "/api/coordinate", &[], Some("{}"));
    assert_eq!((r.status, r.code()), (405, "method_not_allowed".to_owned()));
    assert_eq!(r.header("allow"), Some("POST"));
    let r = s.request("PATCH", "/api/agents", &[], None);
    assert_eq!(r.header("allow"), Some("GET, POST"));
    let r = s.delete("/metrics");
    assert_eq!((r.status, r.header("allow")), (405, Some("GET")));
    s.assert_alive();
}

#[test]
fn body_limit_is_413() {
    let s = Server::start(BASE_PROFILE);
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(5000));
    let r = s.post("/api/coordinate", &big);
    assert_eq!((r.status, r.code()), (413, "body_too_large".to_owned()));
    // Chunked, with no length up front: refused once the running total passes the limit.
    let mut req = "POST /api/agents HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".as_bytes().to_vec();
    for _ in 0..6 {
        req.extend_from_slice(format!("400\r\n{}\r\n", "y".repeat(1024)).as_bytes());
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let r = parse_response(&raw_exchange(s.addr, &req).unwrap()).unwrap();
    assert_eq!(r.status, 413);
    s.assert_alive();
}

#[test]
fn header_limit_is_431() {
    let s = Server::start(BASE_PROFILE);
    let huge = "z".repeat(20_000);
    let raw = raw_exchange(
        s.addr,
        format!("GET /health HTTP/1.1\r\nhost: x\r\nx-big: {huge}\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let r = parse_response(&raw).unwrap();
    assert_eq!(r.status, 431);
    s.assert_alive();
}

#[test]
fn garbage_is_400_and_the_server_carries_on() {
    let s = Server::start(BASE_PROFILE);
    let raw = raw_exchange(s.addr, b"\x16\x03\x01 not http at all\r\n\r\n").unwrap();
    if !raw.is_empty() {
        assert_eq!(parse_response(&raw).unwrap().status, 400);
    }
    let r = s.request(
        "POST",
        "/api/coordinate",
        &[("content-length", "abc")],
        None,
    );
    assert_eq!(r.status, 400);
    s.assert_alive();
}

#[test]
fn slowloris_is_cut_off_by_the_header_read_timeout() {
    let s = Server::start(BASE_PROFILE); // header_read_timeout_ms = 400
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    // Dribble a header byte now and then; the server must close anyway.
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(5) {
        if c.write_all(b"x").is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        c.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 512];
        let r = c.read(&mut buf);
        c.set_nonblocking(false).unwrap();
        match r {
            Ok(_) => {
                closed = true;
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    let took = started.elapsed();
    assert!(closed, "the slow client was never cut off");
    assert!(took < Duration::from_secs(3), "cut off only after {took:?}");
    s.assert_alive();
}

#[test]
fn slow_body_hits_the_request_timeout() {
    let s = Server::start(BASE_PROFILE); // request_timeout_ms = 1500
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.write_all(
        b"POST /api/coordinate HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"protocol\"",
    )
    .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut raw = Vec::new();
    let _ = c.read_to_end(&mut raw);
    let r = parse_response(&raw).unwrap();
    assert_eq!((r.status, r.code()), (504, "request_timeout".to_owned()));
    assert!(started.elapsed() < Duration::from_secs(5));
    s.assert_alive();
}

#[test]
fn connection_cap_refuses_with_503_and_retry_after() {
    let profile = BASE_PROFILE
        .replace(
            "connections_per_core_max = 64",
            "connections_per_core_max = 2",
        )
        .replace(
            "header_read_timeout_ms = 400",
            "header_read_timeout_ms = 1400",
        );
    let s = Server::start(&profile);
    // Hold idle connections open on every core (the kernel spreads them).
    let held: Vec<TcpStream> = (0..12)
        .map(|_| TcpStream::connect(s.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(150));
    let r = request(s.addr, "GET", "/api/agents", &[], None).unwrap();
    assert_eq!(
        (r.status, r.code()),
        (503, "too_many_connections".to_owned())
    );
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.header("x-mabeam-node"), Some("test-node"));
    assert_eq!(r.header("connection"), Some("close"));
    // The probes are answered past the cap.
    let r = request(s.addr, "GET", "/health", &[], None).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        request(s.addr, "GET", "/ready", &[], None).unwrap().status,
        200
    );
    drop(held);
    // The idle connections close; the cap frees up.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = request(s.addr, "GET", "/api/agents", &[], None).unwrap();
        if r.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the cap never freed up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let m = s.get("/metrics").text();
    let refused = m
        .lines()
        .find_map(|l| l.strip_prefix("mabeam_http_connections_refused_total "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    assert!(refused >= 1);
}

#[test]
fn over_memory_budget_sheds_with_503_and_readiness_off() {
    // 1 MiB is below any real process: admission control must refuse new agents.
    let profile =
        format!("{BASE_PROFILE}\n[performance]\nmemory_limit_mb = 1\ngc_frequency = 20\n");
    let s = Server::start(&profile);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = s.get("/ready");
        if r.status == 503 {
            assert_eq!(r.json()["reason"], "memory_limit");
            assert_eq!(r.header("retry-after"), Some("1"));
            break;
        }
        assert!(Instant::now() < deadline, "never reported over memory");
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = s.post("/api/agents", r#"{"id":"a","kind":"k"}"#);
    assert_eq!((r.status, r.code()), (503, "memory_limit".to_owned()));
    assert_eq!(r.header("retry-after"), Some("1"));
    let h = s.get("/health");
    assert_eq!(
        (h.status, h.json()["status"].as_str()),
        (200, Some("degraded"))
    );
    // Stateless coordination still runs.
    assert_eq!(s.post("/api/coordinate", SEALED).status, 200);
}

#[test]
fn full_inboxes_shed_with_503_and_retry_after() {
    let profile = BASE_PROFILE.replace(
        "pin_workers = false",
        "pin_workers = false\ninbox_depth_max = 4\nbatch_max = 2\nidle_spin_us = 10",
    );
    let s = Server::start(&profile);
    let addr = s.addr;
    let threads: Vec<_> = (0..24)
        .map(|t| {
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                for i in 0..25 {
                    let body = format!(r#"{{"id":"t{t}-{i}","kind":"k"}}"#);
                    let r = request(
                        addr,
                        "POST",
                        "/api/agents",
                        &[("content-type", "application/json")],
                        Some(body.as_bytes()),
                    )
                    .expect("answered");
                    let code = if r.status == 201 {
                        String::new()
                    } else {
                        r.code()
                    };
                    seen.push((r.status, code, r.header("retry-after").map(str::to_owned)));
                }
                seen
            })
        })
        .collect();
    let mut created = 0;
    let mut shed = 0;
    for t in threads {
        for (status, code, retry) in t.join().unwrap() {
            match status {
                201 => created += 1,
                503 => {
                    assert_eq!(code, "overloaded");
                    assert_eq!(retry.as_deref(), Some("1"));
                    shed += 1;
                }
                other => panic!("unexpected status {other} ({code})"),
            }
        }
    }
    assert_eq!(created + shed, 600);
    assert_eq!(s.get("/api/agents").json()["count"], created);
    eprintln!("inbox test: {created} created, {shed} shed with 503");
}
