//! `mabeam check-profile` shows the deployment guide's monitoring endpoints
//! (`PROMETHEUS_ENDPOINT`, `GRAFANA_ENDPOINT`) from the environment.

use std::process::Command;

fn check_profile(env: &[(&str, &str)]) -> String {
    let profile = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/default.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_mabeam"))
        .args(["check-profile", profile])
        .env_remove("PROMETHEUS_ENDPOINT")
        .env_remove("GRAFANA_ENDPOINT")
        .envs(env.iter().copied())
        .output()
        .expect("run mabeam check-profile");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn line<'a>(out: &'a str, var: &str) -> &'a str {
    out.lines()
        .find(|l| l.trim_start().starts_with(var))
        .unwrap_or_else(|| panic!("no {var} line in:\n{out}"))
}

#[test]
fn check_profile_prints_both_monitoring_endpoints() {
    let out = check_profile(&[
        ("PROMETHEUS_ENDPOINT", "http://prometheus:9090"),
        ("GRAFANA_ENDPOINT", "http://grafana:3000"),
    ]);
    assert!(line(&out, "PROMETHEUS_ENDPOINT").contains("http://prometheus:9090"));
    assert!(line(&out, "GRAFANA_ENDPOINT").contains("http://grafana:3000"));

    let out = check_profile(&[]);
    assert!(line(&out, "PROMETHEUS_ENDPOINT").contains("(not set)"));
    assert!(line(&out, "GRAFANA_ENDPOINT").contains("(not set)"));
}
