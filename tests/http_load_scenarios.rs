//! The shipped load scenarios against the real `mabeam serve` (default coordination
//! limits): every setup step succeeds and no request gets an unexpected answer, twice in
//! a row against the same server (ids built from `{{run}}` do not collide with the first
//! run's).

mod http_support;

use clap::Parser;
use http_support::{Server, TempDir};

const PROFILE: &str = "[engine]\nworkers = 2\npin_workers = false\n";

/// Runs `mabeam-load` (the library, as the binary does) with `flags` against `url`,
/// writing its JSON report into `json`; returns the exit code and the report. A run that
/// cannot start (a failed setup step) panics with the harness's message.
fn load(flags: &[&str], url: &str, json: &std::path::Path) -> (u8, serde_json::Value) {
    let json_arg = json.to_str().expect("utf-8 path");
    let mut argv = vec!["mabeam-load"];
    argv.extend_from_slice(flags);
    argv.extend_from_slice(&["-t", "1", "-d", "1s", "--json", json_arg, url]);
    let args = mabeam_harness::cli::Args::try_parse_from(argv).expect("arguments");
    let code = mabeam_harness::run::run(args).unwrap_or_else(|e| panic!("{flags:?}: {e}"));
    let report = std::fs::read(json).expect("report");
    (code, serde_json::from_slice(&report).expect("json"))
}

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
            let (code, v) = load(&["-s", &scenario, "-R", "100", "-c", "2"], &url, &json);
            // Budgets (latency of a debug build on a shared machine) may fail without
            // failing the test; a failed setup has already panicked in `load`.
            assert!(code <= 2, "{name}, run {round}: exit {code}");
            let total = v["requests"]["total"].as_u64().unwrap_or(0);
            assert!(total > 20, "{name}, run {round}: {}", v["requests"]);
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
    let scenario = format!("{}/loadtest/smoke.toml", env!("CARGO_MANIFEST_DIR"));
    let (_, v) = load(
        &[
            "-s",
            &scenario,
            "-H",
            "Authorization: Bearer op-token",
            "-R",
            "50",
            "-c",
            "1",
        ],
        &url,
        &dir.path("r.json"),
    );
    assert_eq!(v["requests"]["errors"], 0, "{v}");
    let after = &v["target_memory"]["metrics_after"];
    assert!(
        after.is_object(),
        "no scrape after the run: {}",
        v["target_memory"]
    );
    assert!(after["reclaim_backlog"].is_number(), "{after}");
}
