//! `PROMETHEUS_ENDPOINT`: the target's metrics read through Prometheus's HTTP query API
//! (a response recorded from a real Prometheus scraping `mabeam serve`, served by the
//! test server), not scraped from the target.

mod common;

/// `(allocated, resident, process RSS)` of the recorded answer.
fn recorded() -> (f64, f64, f64) {
    let v: serde_json::Value = serde_json::from_str(common::PROMETHEUS_ANSWER).unwrap();
    let value = |name: &str| {
        v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["metric"]["__name__"] == name)
            .and_then(|s| s["value"][1].as_str())
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name} in the recorded answer"))
    };
    (
        value("mabeam_memory_allocated_bytes"),
        value("mabeam_memory_resident_bytes"),
        value("mabeam_process_resident_memory_bytes"),
    )
}

fn run(dir: &str, extra: &[&str], env: &[(&str, &str)]) -> (i32, String, serde_json::Value) {
    let s = common::start(0);
    let dir = common::tempdir(dir);
    let json = dir.join("r.json");
    let target = s.url("/");
    let prometheus = s.url("");
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|(k, v)| {
            (
                *k,
                if *v == "{prometheus}" {
                    &prometheus
                } else {
                    *v
                },
            )
        })
        .collect();
    let mut args = vec!["-d", "1s", "-R", "100", "--json", json.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(&target);
    let (code, out, err) = common::load_env(&args, &env);
    assert!(json.exists(), "{out}\n{err}");
    (code, format!("{out}\n{err}"), common::json(&json))
}

#[test]
fn prometheus_endpoint_reads_the_servers_own_series() {
    let (code, out, v) = run("prom-env", &[], &[("PROMETHEUS_ENDPOINT", "{prometheus}")]);
    assert_eq!(code, 0, "{out}");
    let (allocated, resident, rss) = recorded();
    let m = &v["target_memory"];
    let source = m["metrics_source"].as_str().unwrap_or_default();
    assert!(
        source.starts_with("prometheus http://127.0.0.1:") && source.ends_with(r#"{job="mabeam"}"#),
        "{m}"
    );
    for when in ["metrics_before", "metrics_after"] {
        // The recorded series, not the target's own /metrics page (resident 1 MiB there).
        assert_eq!(m[when]["allocated_bytes"].as_f64(), Some(allocated), "{m}");
        assert_eq!(m[when]["resident_bytes"].as_f64(), Some(resident), "{m}");
        assert_eq!(m[when]["process_rss_bytes"].as_f64(), Some(rss), "{m}");
    }
    assert!(out.contains("metrics: prometheus http://"), "{out}");
}

#[test]
fn target_metrics_flag_wins_and_a_wrong_selector_is_reported() {
    // --target-metrics is explicit: it wins over PROMETHEUS_ENDPOINT.
    let (code, out, v) = run(
        "prom-precedence",
        &[
            "--target-metrics",
            "http://127.0.0.1:9/metrics",
            "--no-metrics",
        ],
        &[("PROMETHEUS_ENDPOINT", "{prometheus}")],
    );
    assert_eq!(code, 0, "{out}");
    assert!(v["target_memory"]["metrics_source"].is_null(), "{v}");

    // A selector Prometheus does not answer for: the failure is a note, not silence.
    let (_, out, v) = run(
        "prom-selector",
        &["--prometheus-selector", r#"job="other""#],
        &[("PROMETHEUS_ENDPOINT", "{prometheus}")],
    );
    let notes = v["notes"].to_string();
    assert!(
        notes.contains("metrics scrape failed") && notes.contains("400"),
        "{notes}\n{out}"
    );
    assert!(v["target_memory"]["metrics_after"].is_null(), "{v}");

    // Not a selector at all: a usage error naming the flag.
    let s = common::start(0);
    let (code, out, err) = common::load_env(
        &["-d", "1s", "--prometheus-selector", "mabeam", &s.url("/")],
        &[("PROMETHEUS_ENDPOINT", &s.url(""))],
    );
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(err.contains("--prometheus-selector"), "{err}");
}
