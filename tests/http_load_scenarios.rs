//! The shipped load scenarios against the real `mabeam serve` (default coordination
//! limits): every setup step succeeds and no request gets an unexpected answer, twice in
//! a row against the same server (ids built from `{{run}}` do not collide with the first
//! run's).

mod http_support;

use clap::Parser;
use http_support::{Server, TempDir};

const PROFILE: &str = "[engine]\nworkers = 2\npin_workers = false\n";

#[test]
fn shipped_scenarios_run_against_serve_twice() {
    let s = Server::start(PROFILE);
    let url = format!("http://{}/", s.addr);
    let dir = TempDir::new("scenarios");
    let root = env!("CARGO_MANIFEST_DIR");
    for name in [
        "loadtest/smoke.toml",
        "loadtest/auction-storm.toml",
        "loadtest/market-mix.toml",
        "loadtest/registry-churn.toml",
        "loadtest/mixed-prod.toml",
        "deploy/cluster-keys.toml",
    ] {
        for round in 0..2 {
            let json = dir.path(&format!("{}-{round}.json", name.replace('/', "_")));
            let scenario = format!("{root}/{name}");
            let args = mabeam_harness::cli::Args::try_parse_from([
                "mabeam-load",
                "-s",
                scenario.as_str(),
                "-R",
                "100",
                "-d",
                "1s",
                "-c",
                "2",
                "-t",
                "1",
                "--json",
                json.to_str().expect("utf-8 path"),
                url.as_str(),
            ])
            .expect("arguments");
            // A setup failure is an error here; budgets (latency of a debug build on a
            // shared machine) may fail without failing the test.
            let code = mabeam_harness::run::run(args)
                .unwrap_or_else(|e| panic!("{name}, run {round}: {e}"));
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&json).expect("report")).expect("json");
            assert!(code <= 2, "{name}, run {round}: exit {code}");
            assert!(
                v["requests"]["total"].as_u64().unwrap_or(0) > 20
                    || v["requests"]["count"].as_u64().unwrap_or(0) > 20,
                "{name}, run {round}: {}",
                v["requests"]
            );
            assert_eq!(v["requests"]["errors"], 0, "{name}, run {round}: {v}");
        }
    }
    s.assert_alive();
}

/// With `security.metrics_public = false`, the harness scrapes the target's `/metrics`
/// with the run's own `-H Authorization` header (same host), so memory and reclamation
/// figures are reported instead of a 401.
#[test]
fn protected_metrics_are_scraped_with_the_runs_token() {
    let s = Server::start(&format!(
        r#"{PROFILE}
[security]
auth_enabled = true
metrics_public = false

[[security.tokens]]
token_sha256 = "{op}"
role = "operator"
"#,
        op = http_support::sha256_hex("op-token"),
    ));
    assert_eq!(s.get("/metrics").status, 401);
    let url = format!("http://{}/", s.addr);
    let dir = TempDir::new("metrics-auth");
    let json = dir.path("r.json");
    let scenario = format!("{}/loadtest/smoke.toml", env!("CARGO_MANIFEST_DIR"));
    let args = mabeam_harness::cli::Args::try_parse_from([
        "mabeam-load",
        "-s",
        scenario.as_str(),
        "-H",
        "Authorization: Bearer op-token",
        "-R",
        "50",
        "-d",
        "1s",
        "-c",
        "1",
        "-t",
        "1",
        "--json",
        json.to_str().expect("utf-8 path"),
        url.as_str(),
    ])
    .expect("arguments");
    mabeam_harness::run::run(args).expect("run");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("report")).expect("json");
    assert_eq!(v["requests"]["errors"], 0, "{v}");
    let after = &v["target_memory"]["metrics_after"];
    assert!(
        after.is_object(),
        "no scrape after the run: {}",
        v["target_memory"]
    );
    assert!(after["reclaim_backlog"].is_number(), "{after}");
}
