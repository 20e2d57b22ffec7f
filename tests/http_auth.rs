//! Bearer tokens, roles, the audit log, and TLS.

mod http_support;

use http_support::{BASE_PROFILE, SEALED, Server, TempDir, parse_response, sha256_hex};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

fn auth_profile() -> String {
    format!(
        r#"{BASE_PROFILE}
[security]
auth_enabled = true
metrics_public = false
audit_enabled = true
audit_path = "{{dir}}/audit.log"

[[security.tokens]]
token_sha256 = "{op}"
role = "operator"

[[security.tokens]]
token_sha256 = "{alice}"
agent_id = "alice"
role = "agent"

[[security.tokens]]
token_sha256 = "{bob}"
agent_id = "bob"
role = "agent"
"#,
        op = sha256_hex("op-token"),
        alice = sha256_hex("alice-token"),
        bob = sha256_hex("bob-token"),
    )
}

fn with(token: &str) -> String {
    format!("Bearer {token}")
}

#[test]
fn tokens_roles_and_audit() {
    let mut s = Server::start(&auth_profile());
    let op = with("op-token");
    let alice = with("alice-token");
    let call = |method: &str, path: &str, token: Option<&str>, body: Option<&str>| {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(t) = token {
            headers.push(("authorization", t));
        }
        s.request(method, path, &headers, body)
    };

    // Probes are open.
    assert_eq!(call("GET", "/health", None, None).status, 200);
    assert_eq!(call("GET", "/ready", None, None).status, 200);
    // Metrics are for operators here (metrics_public = false).
    let r = call("GET", "/metrics", None, None);
    assert_eq!((r.status, r.code()), (401, "unauthorized".to_owned()));
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert_eq!(call("GET", "/metrics", Some(&alice), None).status, 403);
    assert_eq!(call("GET", "/metrics", Some(&op), None).status, 200);

    // No token, a wrong token, a malformed header: 401.
    assert_eq!(call("GET", "/api/agents", None, None).status, 401);
    assert_eq!(
        call("GET", "/api/agents", Some("Bearer nope"), None).status,
        401
    );
    assert_eq!(
        call("GET", "/api/agents", Some("Basic b3A6b3A="), None).status,
        401
    );
    assert_eq!(
        call("POST", "/api/coordinate", None, Some(SEALED)).status,
        401
    );

    // An agent registers itself, not another agent.
    let r = call(
        "POST",
        "/api/agents",
        Some(&alice),
        Some(r#"{"id":"alice","kind":"bidder"}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = call(
        "POST",
        "/api/agents",
        Some(&alice),
        Some(r#"{"id":"bob","kind":"bidder"}"#),
    );
    assert_eq!((r.status, r.code()), (403, "forbidden".to_owned()));
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bob")
    );
    let r = call(
        "POST",
        "/api/agents",
        Some(&op),
        Some(r#"{"id":"bob","kind":"bidder"}"#),
    );
    assert_eq!(r.status, 201);

    // Managing agents is for operators.
    assert_eq!(
        call("POST", "/api/agents/bob/start", Some(&alice), None).status,
        403
    );
    assert_eq!(
        call("POST", "/api/agents/alice/start", Some(&alice), None).status,
        403
    );
    assert_eq!(
        call("POST", "/api/agents/bob/start", Some(&op), None).status,
        200
    );
    assert_eq!(
        call("DELETE", "/api/agents/bob", Some(&alice), None).status,
        403
    );

    // Agents read and run one-shot coordinations (pure computations).
    let list = call("GET", "/api/agents", Some(&alice), None);
    assert_eq!((list.status, list.json()["count"].as_u64()), (200, Some(2)));
    assert_eq!(
        call("POST", "/api/coordinate", Some(&alice), Some(SEALED)).status,
        200
    );
    assert_eq!(
        call("DELETE", "/api/agents/bob", Some(&op), None).status,
        204
    );

    let (status, _) = s.stop("TERM", Duration::from_secs(20));
    assert!(status.success());
    let audit = std::fs::read_to_string(s.dir.path("audit.log")).expect("audit log written");
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let has = |who: &str, method: &str, path: &str, status: u64| {
        lines.iter().any(|l| {
            l["who"] == who && l["method"] == method && l["path"] == path && l["status"] == status
        })
    };
    assert!(has("alice", "POST", "/api/agents", 201), "{audit}");
    assert!(has("operator", "DELETE", "/api/agents/bob", 204), "{audit}");
    // Refusals (401, 403) are counted per client address, not written one by one.
    assert!(!has("alice", "POST", "/api/agents", 403), "{audit}");
    assert!(!has("anonymous", "GET", "/api/agents", 401), "{audit}");
    let refusals: Vec<_> = lines.iter().filter(|l| l["kind"] == "refusals").collect();
    assert_eq!(refusals.len(), 1, "{audit}");
    assert_eq!(refusals[0]["client"], "127.0.0.1");
    assert!(
        refusals[0]["statuses"]["401"].as_u64() >= Some(4),
        "{audit}"
    );
    assert!(
        refusals[0]["statuses"]["403"].as_u64() >= Some(1),
        "{audit}"
    );
    assert!(lines.iter().filter(|l| l["kind"] == "request").all(|l| {
        l["latency_us"].is_u64() && l["ts_ms"].is_u64() && l["client"] == "127.0.0.1"
    }));
    // Reads by a valid token are not audited.
    assert!(!has("alice", "GET", "/api/agents", 200), "{audit}");
}

#[test]
fn tls_serves_https() {
    let dir = TempDir::new("tls");
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let cert_pem = ck.cert.pem();
    let cert_path = dir.path("cert.pem");
    let key_path = dir.path("key.pem");
    std::fs::write(&cert_path, &cert_pem).unwrap();
    std::fs::write(&key_path, ck.key_pair.serialize_pem()).unwrap();
    let s = Server::start_with(
        BASE_PROFILE,
        &[
            ("SSL_CERT_PATH", cert_path.to_str().unwrap()),
            ("SSL_KEY_PATH", key_path.to_str().unwrap()),
        ],
    );

    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ck.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(s.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"GET /health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw);
    let r = parse_response(&raw).expect("a response over TLS");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "healthy");
    assert_eq!(r.header("x-mabeam-node"), Some("test-node"));

    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = http_support::request(s.addr, "GET", "/health", &[], None);
    assert!(plain.is_err() || plain.unwrap().status != 200);
}
