//! What the server reports about itself: `/metrics` counts every protocol in its family,
//! with the same labels, whichever path cleared it (one-shot, batch, live session);
//! `/health` carries the deployment guide's `timestamp`.

mod http_support;

use http_support::{BASE_PROFILE, Server};
use std::time::{Duration, Instant};

/// `(type, one-shot auction body without bids, bids, live open body)` for every type.
fn auction_types() -> Vec<(&'static str, &'static str, Vec<&'static str>, &'static str)> {
    vec![
        (
            "first_price",
            r#""type":"first_price""#,
            vec![
                r#"{"agent_id":"a","amount":5}"#,
                r#"{"agent_id":"b","amount":7}"#,
            ],
            r#"{"type":"first_price"}"#,
        ),
        (
            "second_price",
            r#""type":"second_price","reserve":1"#,
            vec![
                r#"{"agent_id":"a","amount":5}"#,
                r#"{"agent_id":"b","amount":7}"#,
            ],
            r#"{"type":"second_price","reserve":1}"#,
        ),
        (
            "english",
            r#""type":"english","start":1,"increment":1"#,
            vec![
                r#"{"agent_id":"a","amount":5}"#,
                r#"{"agent_id":"b","amount":7}"#,
            ],
            r#"{"type":"english","start":1,"increment":1}"#,
        ),
        (
            "dutch",
            r#""type":"dutch","start":20,"decrement":2,"reserve":1"#,
            vec![
                r#"{"agent_id":"a","amount":5}"#,
                r#"{"agent_id":"b","amount":7}"#,
            ],
            r#"{"type":"dutch","start":20,"decrement":2,"reserve":1}"#,
        ),
        (
            "multi_unit",
            r#""type":"multi_unit","units":3,"pricing":"uniform""#,
            vec![
                r#"{"agent_id":"a","amount":10,"quantity":2}"#,
                r#"{"agent_id":"b","amount":8,"quantity":2}"#,
            ],
            r#"{"type":"multi_unit","units":3,"pricing":"uniform"}"#,
        ),
        (
            "combinatorial",
            r#""type":"combinatorial","items":{"cpu":2}"#,
            vec![
                r#"{"agent_id":"a","bundle":{"cpu":1},"amount":5}"#,
                r#"{"agent_id":"b","bundle":{"cpu":2},"amount":7}"#,
            ],
            r#"{"type":"combinatorial","items":{"cpu":2}}"#,
        ),
    ]
}

/// The value of the series `name{labels}` in an exposition, if present.
fn series(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// Scrapes until every `(series, value)` holds (counters are live; the live clearings
/// are recorded on their worker's next tick), or fails with what it last saw.
fn wait_for_series(s: &Server, want: &[(String, f64)]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = s.get("/metrics").text();
        let wrong: Vec<String> = want
            .iter()
            .filter(|(k, v)| series(&text, k) != Some(*v))
            .map(|(k, v)| format!("{k}: want {v}, have {:?}", series(&text, k)))
            .collect();
        if wrong.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "{}", wrong.join("\n"));
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn every_auction_type_is_counted_on_every_path() {
    let s = Server::start(BASE_PROFILE);
    let mut batch = Vec::new();
    for (ty, head, bids, open) in auction_types() {
        let one_shot = format!(
            r#"{{"protocol":"auction","auction":{{{head},"bids":[{}]}}}}"#,
            bids.join(",")
        );
        let r = s.post("/api/coordinate", &one_shot);
        assert_eq!(r.status, 200, "{ty} one-shot: {}", r.text());
        batch.push(one_shot);

        let r = s.post("/api/auctions", open);
        assert_eq!(r.status, 201, "{ty} live open: {}", r.text());
        let id = r.json()["id"].as_str().expect("an auction id").to_owned();
        for bid in &bids {
            let r = s.post(&format!("/api/auctions/{id}/bids"), bid);
            assert_eq!(r.status, 202, "{ty} live bid: {}", r.text());
        }
        let r = s.post(&format!("/api/auctions/{id}/close"), "");
        assert_eq!(r.status, 200, "{ty} live close: {}", r.text());
        assert_eq!(r.json()["outcome"]["type"], ty, "{}", r.text());
    }
    let market = r#"{"protocol":"market","market":{"orders":[
        {"agent_id":"s1","side":"sell","quantity":10,"limit":5},
        {"agent_id":"b1","side":"buy","quantity":6,"limit":8}]}}"#;
    let consensus = r#"{"protocol":"consensus","consensus":{"rule":"majority","votes":[
        {"agent_id":"a","choice":"x"},{"agent_id":"b","choice":"x"}]}}"#;
    let allocation = r#"{"protocol":"allocation","allocation":{"strategy":"priority",
        "available":10,"requests":[{"agent_id":"a","quantity":4}]}}"#;
    for body in [market, consensus, allocation] {
        assert_eq!(s.post("/api/coordinate", body).status, 200);
        batch.push(body.to_owned());
    }
    // The live forms of the market and the consensus vote.
    let r = s.post("/api/markets", r#"{"id":"m1","kind":"call"}"#);
    assert_eq!(r.status, 201, "{}", r.text());
    for order in [
        r#"{"agent_id":"s1","side":"sell","quantity":10,"limit":5}"#,
        r#"{"agent_id":"b1","side":"buy","quantity":6,"limit":8}"#,
    ] {
        let r = s.post("/api/markets/m1/orders", order);
        assert_eq!(r.status, 202, "{}", r.text());
    }
    let r = s.post("/api/markets/m1/clear", "");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s.post("/api/consensus", r#"{"id":"c1","rule":"majority"}"#);
    assert_eq!(r.status, 201, "{}", r.text());
    for vote in [
        r#"{"agent_id":"a","choice":"x"}"#,
        r#"{"agent_id":"b","choice":"x"}"#,
    ] {
        let r = s.post("/api/consensus/c1/votes", vote);
        assert_eq!(r.status, 202, "{}", r.text());
    }
    let r = s.post("/api/consensus/c1/close", "");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s.post(
        "/api/coordinate/batch",
        &format!(r#"{{"requests":[{}]}}"#, batch.join(",")),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.json()["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o.get("error").is_none()),
        "{}",
        r.text()
    );

    // Each auction type: one-shot + batch + live = 3, two bids each time.
    let types = auction_types();
    let mut want: Vec<(String, f64)> = types
        .iter()
        .map(|(ty, ..)| (format!("mabeam_auctions_total{{type=\"{ty}\"}}"), 3.0))
        .collect();
    want.push(("mabeam_auction_bids_total".into(), 6.0 * types.len() as f64));
    want.push((
        "mabeam_auction_efficiency_ratio_count".into(),
        3.0 * types.len() as f64,
    ));
    want.push((
        r#"mabeam_coordination_requests_total{protocol="auction",result="success"}"#.into(),
        3.0 * types.len() as f64,
    ));
    // The other protocols with the same labels: one-shot + batch (+ live for markets and
    // consensus rounds; allocation has no live form).
    for (p, n) in [("market", 3.0), ("consensus", 3.0), ("allocation", 2.0)] {
        want.push((
            format!(r#"mabeam_coordination_requests_total{{protocol="{p}",result="success"}}"#),
            n,
        ));
        want.push((
            format!(r#"mabeam_coordination_duration_seconds_count{{protocol="{p}"}}"#),
            n,
        ));
    }
    want.push((
        r#"mabeam_coordination_duration_seconds_count{protocol="auction"}"#.into(),
        3.0 * types.len() as f64,
    ));
    want.push(("mabeam_market_equilibria_found_total".into(), 3.0));
    want.push(("mabeam_market_volume_total".into(), 18.0));
    want.push(("mabeam_market_efficiency_ratio_count".into(), 3.0));
    wait_for_series(&s, &want);
}

/// RFC 3339 UTC, to the minute, of a moment.
fn minute(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

#[test]
fn health_carries_an_rfc3339_utc_timestamp() {
    let s = Server::start(BASE_PROFILE);
    let before = time::OffsetDateTime::now_utc();
    let h = s.get("/health");
    let after = time::OffsetDateTime::now_utc();
    assert_eq!(h.status, 200);
    let v = h.json();
    let ts = v["timestamp"].as_str().unwrap_or_else(|| panic!("{v}"));
    // 2026-01-02T03:04:05Z or with a fraction of a second: 2026-01-02T03:04:05.678Z
    let b = ts.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    assert!(
        b.len() >= 20
            && digits(0..4)
            && b[4] == b'-'
            && digits(5..7)
            && b[7] == b'-'
            && digits(8..10)
            && b[10] == b'T'
            && digits(11..13)
            && b[13] == b':'
            && digits(14..16)
            && b[16] == b':'
            && digits(17..19)
            && ts.ends_with('Z')
            && (b.len() == 20 || (b[19] == b'.' && digits(20..b.len() - 1))),
        "{ts}"
    );
    assert!(
        ts.starts_with(&minute(before)) || ts.starts_with(&minute(after)),
        "{ts} is not now ({before})"
    );
    assert_eq!(v["status"], "healthy", "{v}");
}

/// `prometheus-rules.yml` records the deployment guide's series from ours: every series
/// its expressions read is one the server exports (the allocator's only with jemalloc,
/// and its rule falls back to the resident set without it).
#[test]
fn recording_rules_read_series_the_server_exports() {
    let rules =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/prometheus-rules.yml"))
            .expect("prometheus-rules.yml");
    let s = Server::start(BASE_PROFILE);
    s.post("/api/coordinate", http_support::SEALED);
    let text = s.get("/metrics").text();
    let exported = |name: &str| {
        text.lines().any(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with([' ', '{']))
        })
    };
    let allocator = series(&text, "mabeam_memory_allocator_stats_available") == Some(1.0);
    let mut read = Vec::new();
    for line in rules.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let mut rest = line;
        while let Some(i) = rest.find("mabeam_") {
            // Not the tail of another name (`foundation_mabeam_...`).
            let inside = rest[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            let name: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[i + name.len()..];
            if !inside {
                read.push(name);
            }
        }
    }
    assert!(read.len() >= 6, "{read:?}");
    for name in &read {
        if name == "mabeam_memory_allocated_bytes" && !allocator {
            continue;
        }
        assert!(
            exported(name),
            "prometheus-rules.yml reads {name}, not in /metrics"
        );
    }
    for guide in [
        "foundation_mabeam_agent_registry_agents_active",
        "foundation_mabeam_coordination_sessions_started_total",
        "foundation_mabeam_coordination_sessions_completed_total",
        "foundation_mabeam_auction_efficiency",
        "vm_memory_total",
        "vm_memory_processes",
    ] {
        assert!(
            rules.contains(&format!("record: {guide}\n")),
            "no rule records {guide}"
        );
    }
}
