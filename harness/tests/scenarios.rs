//! Scenario files: the shipped ones parse, a parse error names the file and line, setup
//! captures feed `{{ref:..}}`, and mixes run against the embedded engine.

mod common;

use std::path::PathBuf;

fn loadtest(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("loadtest")
        .join(name)
}

#[test]
fn shipped_scenarios_parse() {
    for name in [
        "smoke.toml",
        "auction-storm.toml",
        "market-mix.toml",
        "registry-churn.toml",
        "mixed-prod.toml",
    ] {
        let s = mabeam_harness::scenario::Scenario::load(&loadtest(name))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!s.entries.is_empty(), "{name}");
    }
}

#[test]
fn parse_error_names_file_and_line() {
    let s = common::start(0);
    let dir = common::tempdir("parse");
    let mix = dir.join("bad.toml");
    std::fs::write(
        &mix,
        "name = \"x\"\n\n[[entry]]\nname = \"a\"\npath = \"/\"\nbody = '{\"n\":{{zipf:0:1}}}'\n",
    )
    .unwrap();
    let (code, out, err) = common::load(&["-s", mix.to_str().unwrap(), "-d", "1s", &s.url("/")]);
    assert_eq!(code, 3, "{out}\n{err}");
    let expect = format!("{}:6:", mix.display());
    assert!(err.contains(&expect), "{err:?} should name {expect}");
    assert!(err.contains("zipf"), "{err}");
    std::fs::write(
        &mix,
        "[[entry]]\nname = \"a\"\npath = \"/\"\nweight = \"heavy\"\n",
    )
    .unwrap();
    let (code, _, err) = common::load(&["-s", mix.to_str().unwrap(), &s.url("/")]);
    assert_eq!(code, 3);
    assert!(err.contains(&format!("{}:4:", mix.display())), "{err}");
    assert_eq!(s.served(), 0);
}

#[test]
fn auction_storm_setup_captures_ids() {
    let s = common::start(0);
    let dir = common::tempdir("storm");
    let json = dir.join("r.json");
    let mix = loadtest("auction-storm.toml");
    let (code, out, err) = common::load(&[
        "-s",
        mix.to_str().unwrap(),
        "-t",
        "1",
        "-c",
        "4",
        "-d",
        "2s",
        "-R",
        "400",
        "--json",
        json.to_str().unwrap(),
        &s.url("/"),
    ]);
    let v = common::assert_passed_but_entry_latency(code, &json, &format!("{out}\n{err}"));
    // Bids went to captured auction ids (the server answers 404 to any other id).
    let bids = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "live-bid")
        .unwrap();
    assert!(bids["requests"].as_u64().unwrap() > 10, "{bids}");
    assert_eq!(bids["errors"], 0, "{bids}");
    assert_eq!(v["requests"]["errors"], 0);
    assert!(
        out.contains("sealed-first-price") && out.contains("p99.99"),
        "{out}"
    );
}

#[test]
fn smoke_runs_embedded() {
    let dir = common::tempdir("embedded");
    let json = dir.join("r.json");
    let mix = loadtest("smoke.toml");
    let (code, out, err) = common::load(&[
        "--embedded",
        "-s",
        mix.to_str().unwrap(),
        "-t",
        "1",
        "-c",
        "4",
        "-d",
        "1s",
        "-R",
        "500",
        "--slo",
        "errors=0%",
        "--drain-wait",
        "1s",
        "--json",
        json.to_str().unwrap(),
    ]);
    // Deregistrations retire registry records; idle workers keep flushing until the
    // reclamation backlog drains, so the drain check must pass once load stops.
    let v = common::assert_passed_except(code, &json, &format!("{out}\n{err}"), &[]);
    let drain = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "reclaim_backlog_drained");
    assert!(
        drain.is_some(),
        "the backlog check ran on the embedded engine"
    );
    assert_eq!(v["target"], "embedded");
    assert!(v["requests"]["ok"].as_u64().unwrap() >= 450, "{out}");
    assert_eq!(v["requests"]["errors"], 0, "{out}");
    // The in-process engine's metrics are read directly: the backlog check ran.
    let checks = v["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "reclaim_backlog_drained" && c["status"] == "pass"),
        "{out}"
    );
}

#[test]
fn registry_churn_runs_embedded() {
    let dir = common::tempdir("churn");
    let json = dir.join("r.json");
    let mix = loadtest("registry-churn.toml");
    let (code, out, err) = common::load(&[
        "--embedded",
        "-s",
        mix.to_str().unwrap(),
        "-t",
        "1",
        "-c",
        "2",
        "-d",
        "2s",
        "-R",
        "300",
        "--slo",
        "errors=0%",
        "--drain-wait",
        "1s",
        "--json",
        json.to_str().unwrap(),
    ]);
    // Deregistrations retire registry records; idle workers keep flushing until the
    // reclamation backlog drains, so the drain check must pass once load stops.
    let v = common::assert_passed_except(code, &json, &format!("{out}\n{err}"), &[]);
    let drain = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "reclaim_backlog_drained");
    assert!(
        drain.is_some(),
        "the backlog check ran on the embedded engine"
    );
    assert_eq!(v["requests"]["errors"], 0, "{out}");
    let entries = v["entries"].as_array().unwrap();
    for name in ["register", "get", "start", "restart", "deregister", "list"] {
        let e = entries.iter().find(|e| e["name"] == name).unwrap();
        assert!(e["requests"].as_u64().unwrap() > 0, "{name}: {out}");
    }
}

#[test]
fn embedded_refuses_routes_it_lacks() {
    let mix = loadtest("auction-storm.toml");
    let (code, _, err) = common::load(&["--embedded", "-s", mix.to_str().unwrap(), "-d", "1s"]);
    assert_eq!(code, 3);
    assert!(err.contains("not served by the embedding API"), "{err}");
}

/// Setup requests carry the run's `-H` headers and the step's own headers, and one
/// request's `{{ref:..}}` names the same value in its path and its headers.
#[test]
fn setup_sends_headers_and_refs_agree_within_a_request() {
    let s = common::start(0);
    let dir = common::tempdir("keyed");
    let json = dir.join("r.json");
    let mix = dir.join("keyed.toml");
    std::fs::write(
        &mix,
        r#"name = "keyed"
[[setup]]
name = "things"
count = 20
method = "POST"
path = "/keyed"
headers = { "X-Mabeam-Key" = "thing-{{seq}}" }
capture = "id"
expect = [201]

[[entry]]
name = "get"
method = "GET"
path = "/keyed/{{ref:things}}"
headers = { "X-Mabeam-Key" = "{{ref:things}}" }
expect = [200]
"#,
    )
    .unwrap();
    let (code, out, err) = common::load(&[
        "-s",
        mix.to_str().unwrap(),
        "-H",
        "Authorization: Bearer sekrit",
        "-t",
        "1",
        "-c",
        "2",
        "-d",
        "1s",
        "-R",
        "200",
        "--json",
        json.to_str().unwrap(),
        &s.url("/"),
    ]);
    let v = common::assert_passed_but_entry_latency(code, &json, &format!("{out}\n{err}"));
    let get = &v["entries"][0];
    assert!(get["requests"].as_u64().unwrap() > 50, "{get}");
    assert_eq!(get["errors"], 0, "{get}");
}
