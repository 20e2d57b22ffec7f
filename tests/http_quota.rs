//! Per-client quotas (`security.rate_limit_per_second`, `rate_limit_burst`): 429 with
//! `Retry-After` past the burst, one bucket per client, probes and metrics exempt, and the
//! bucket refills.

mod http_support;

use http_support::{BASE_PROFILE, Server, sha256_hex};
use std::time::Duration;

/// Sends `n` requests back to back; returns the statuses.
fn burst(s: &Server, path: &str, token: Option<&str>, n: usize) -> Vec<u16> {
    (0..n)
        .map(|_| {
            let auth = token.map(|t| format!("Bearer {t}"));
            let mut headers = Vec::new();
            if let Some(a) = &auth {
                headers.push(("authorization", a.as_str()));
            }
            s.request("GET", path, &headers, None).status
        })
        .collect()
}

#[test]
fn anonymous_clients_past_their_burst_get_429_with_retry_after() {
    let s = Server::start(&format!(
        "{BASE_PROFILE}\n[security]\nrate_limit_per_second = 2\nrate_limit_burst = 4\n"
    ));
    let statuses = burst(&s, "/api/agents", None, 10);
    let ok = statuses.iter().filter(|&&c| c == 200).count();
    let limited = statuses.iter().filter(|&&c| c == 429).count();
    assert_eq!(ok + limited, 10, "{statuses:?}");
    // The burst, plus whatever refilled while the requests were sent (2 per second).
    assert!((4..=6).contains(&ok), "{statuses:?}");
    let r = s.get("/api/agents");
    assert_eq!(r.status, 429);
    assert_eq!(r.code(), "rate_limited");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rate_limit_per_second")
    );
    let wait: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    // Probes and metrics are never limited.
    assert!(burst(&s, "/health", None, 10).iter().all(|&c| c == 200));
    assert!(burst(&s, "/ready", None, 10).iter().all(|&c| c == 200));
    assert!(burst(&s, "/metrics", None, 10).iter().all(|&c| c == 200));
    // The 429s are counted.
    let metrics = s.get("/metrics").text();
    let limited: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("mabeam_http_rate_limited_total "))
        .expect("mabeam_http_rate_limited_total in /metrics")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(limited as usize, 10 - ok + 1);
    // The bucket refills at the rate.
    std::thread::sleep(Duration::from_millis(1_100));
    assert_eq!(s.get("/api/agents").status, 200);
    s.assert_alive();
}

#[test]
fn each_token_has_its_own_bucket() {
    let s = Server::start(&format!(
        r#"{BASE_PROFILE}
[security]
auth_enabled = true
rate_limit_per_second = 1
rate_limit_burst = 3

[[security.tokens]]
token_sha256 = "{alice}"
agent_id = "alice"
role = "agent"

[[security.tokens]]
token_sha256 = "{bob}"
agent_id = "bob"
role = "agent"
"#,
        alice = sha256_hex("alice-token"),
        bob = sha256_hex("bob-token"),
    ));
    let alice = burst(&s, "/api/agents", Some("alice-token"), 6);
    assert_eq!(&alice[..3], &[200, 200, 200], "{alice:?}");
    assert!(
        alice[3..].iter().filter(|&&c| c == 429).count() >= 2,
        "{alice:?}"
    );
    // Bob, from the same address, is not held to Alice's quota.
    assert_eq!(
        burst(&s, "/api/agents", Some("bob-token"), 3),
        vec![200, 200, 200]
    );
    // A request refused by authentication spends no quota of anyone's.
    assert_eq!(burst(&s, "/api/agents", Some("wrong"), 1), vec![401]);
}
