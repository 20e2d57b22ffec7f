//! `mabeam check-profile FILE`.

use crate::cli::preflight::{self, Mode};
use mabeam_engine::api::Footprint;
use mabeam_engine::profile::{self, Config};
use std::path::Path;
use std::process::ExitCode;

/// Prints the effective config, the start-up checks `serve` runs (without changing
/// anything) and the worst-case memory footprint of the limits. Exit 2: the profile is
/// invalid; exit 1: it is valid but `serve` would not start on this machine; else 0.
pub(crate) fn run(file: &Path) -> anyhow::Result<ExitCode> {
    let loaded = match profile::load_from_process_env(Some(file)) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("mabeam: invalid profile: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    print!("{}", loaded.render());
    println!();
    print!("{}", Footprint::of(&loaded.config).render());
    println!();
    print!("{}", monitoring_endpoints(|k| std::env::var(k).ok()));
    println!();
    if let Some(w) = auth_warning(&loaded.config) {
        eprintln!("warning: {w}");
    }
    let checks = preflight::run(&loaded.config, Mode::Check);
    for note in &checks.notes {
        println!("start-up: {note}");
    }
    if checks.problems.is_empty() {
        println!("start-up: ok (directories, files, TLS material, listen address)");
        return Ok(ExitCode::SUCCESS);
    }
    for p in &checks.problems {
        eprintln!("mabeam: serve would not start: {p}");
    }
    Ok(ExitCode::from(1))
}

/// The monitoring endpoints of the deployment guide, from the environment: not engine
/// settings, but shown so an operator sees them beside the profile. `PROMETHEUS_ENDPOINT`
/// is where `mabeam-load` reads the target's series (Prometheus's query API);
/// `GRAFANA_ENDPOINT` is where the dashboards are (nothing in mabeam calls it).
fn monitoring_endpoints(env: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::from("monitoring endpoints (environment):\n");
    for (var, use_) in [
        (
            "PROMETHEUS_ENDPOINT",
            "mabeam-load reads the target's series through its query API",
        ),
        ("GRAFANA_ENDPOINT", "where operators find the dashboards"),
    ] {
        let value = env(var)
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "(not set)".to_owned());
        out.push_str(&format!("  {var:<20} {value}  ({use_})\n"));
    }
    out
}

/// Authentication on with no token configured: every `/api/` request will answer 401.
fn auth_warning(config: &Config) -> Option<String> {
    let s = &config.security;
    (s.auth_enabled && s.tokens.is_empty()).then(|| {
        "security.auth_enabled = true but no token is configured (security.tokens): every \
         /api/ request will answer 401; add a token (MABEAM_SECURITY__TOKENS) or set \
         auth_enabled = false"
            .to_owned()
    })
}
