//! `mabeam serve`: the engine behind the HTTP API until SIGTERM or SIGINT.
//!
//! Shutdown order: 1) `/ready` turns false and every answer carries `Connection: close`,
//! while the server keeps serving for `server.drain_grace_ms` (a second signal cuts it
//! short); 2) the listeners close; 3) in-flight requests finish within
//! `core.graceful_shutdown_timeout`; 4) the engine drains (`Engine::shutdown`); the
//! process exits 0.

use crate::cli::preflight::{self, Mode};
use crate::http::audit::{AUDIT_QUEUE_MAX, AuditFile, AuditWriter};
use crate::http::metrics::HttpMetrics;
use crate::http::probe::ProbeServer;
use crate::http::{AppState, Server};
use anyhow::Context as _;
use mabeam_engine::api::Engine;
use mabeam_engine::profile;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// Flags of `mabeam serve` that override the profile.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServeFlags {
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) node_id: Option<String>,
}

/// 1-64 characters of `[A-Za-z0-9._-]` (the profile's rule for `server.node_id`).
fn valid_node_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// This machine's name, cut to a valid node id, or `mabeam`.
fn hostname() -> String {
    let raw = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .unwrap_or_default();
    let cleaned: String = raw
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(64)
        .collect();
    if cleaned.is_empty() {
        "mabeam".to_owned()
    } else {
        cleaned
    }
}

/// Which signal ended the server.
async fn wait_for_signal(
    term: &mut tokio::signal::unix::Signal,
    int: &mut tokio::signal::unix::Signal,
) -> &'static str {
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

pub(crate) fn run(profile_path: Option<&Path>, flags: ServeFlags) -> anyhow::Result<ExitCode> {
    let loaded = match profile::load_from_process_env(profile_path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mabeam: invalid profile: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut config = loaded.config;
    if let Some(listen) = flags.listen {
        config.server.listen = listen;
    }
    let node_id = match flags.node_id.or_else(|| config.server.node_id.clone()) {
        Some(id) if valid_node_id(&id) => id,
        Some(id) => {
            eprintln!(
                "mabeam: invalid --node-id {id:?}: use 1 to 64 characters of A-Z a-z 0-9 - _ ."
            );
            return Ok(ExitCode::from(2));
        }
        None => hostname(),
    };
    // The same checks as `check-profile`, creating the directories it may create (the log
    // file's among them, so the log is opened after).
    let checks = preflight::run(&config, Mode::Prepare);
    crate::cli::logging::apply(&config.core, config.server.log_format)
        .context("opening the log file")?;
    for note in &checks.notes {
        tracing::info!("{note}");
    }
    if !checks.problems.is_empty() {
        for p in &checks.problems {
            eprintln!("mabeam: cannot start: {p}");
        }
        return Ok(ExitCode::from(1));
    }
    let tls = checks.tls;

    // Signals first, so a SIGTERM during start-up is handled, not fatal.
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the signal runtime")?;
    let (mut term, mut int) = signals.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        Ok::<_, std::io::Error>((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        ))
    })?;

    let audit_dropped = Arc::new(AtomicU64::new(0));
    let (audit, audit_writer) = if config.security.audit_enabled {
        let s = &config.security;
        let file = s.audit_path.as_deref().map(|path| AuditFile {
            path,
            max_bytes: s.audit_file_max_bytes,
            keep: s.audit_files_max,
        });
        let (sink, writer) = AuditWriter::start(
            file,
            s.audit_refusals_interval_ms,
            AUDIT_QUEUE_MAX,
            Arc::clone(&audit_dropped),
        )
        .context("starting the audit log")?;
        (Some(sink), Some(writer))
    } else {
        (None, None)
    };

    let engine = Engine::start(config).context("starting the engine")?;
    let handle = engine.handle();
    let cores = handle.workers();
    let metrics = Arc::new(HttpMetrics::new(cores, audit_dropped));
    let state = Arc::new(AppState::new(
        handle.clone(),
        node_id.clone(),
        audit,
        metrics,
    ));
    // The probe listener first: it answers `/ready` false ("starting") until the API
    // listeners are up, and stays open until they are closed.
    let probes = match handle.config().server.probe_listen {
        Some(addr) => {
            let p = ProbeServer::start(Arc::clone(&state), addr)
                .with_context(|| format!("listening for probes on {addr} (server.probe_listen)"))?;
            println!("probes listening on {}", p.local_addr());
            Some(p)
        }
        None => None,
    };
    let server = Server::start(Arc::clone(&state), tls.clone(), cores)
        .with_context(|| format!("listening on {}", state.settings.listen))?;
    let addr = server.local_addr();
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, node = %node_id, cores, mode = ?server.mode(), scheme, auth = state.auth.enabled(), "serving");
    println!("listening on {addr}");
    let _ = std::io::stdout().flush();

    let signal = signals.block_on(wait_for_signal(&mut term, &mut int));
    let grace = handle.config().server.drain_grace_ms;
    tracing::info!(
        signal,
        grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
        "shutting down: readiness off, still serving for server.drain_grace_ms"
    );
    state.start_draining();
    // Load balancers see `/ready` false and stop sending; every answer meanwhile says
    // `Connection: close`, so clients move their connections elsewhere. A second signal
    // ends the wait.
    signals.block_on(async {
        tokio::select! {
            () = tokio::time::sleep(grace) => {}
            again = wait_for_signal(&mut term, &mut int) => {
                tracing::info!(signal = again, "second signal: ending the drain grace now");
            }
        }
    });
    tracing::info!("listeners closing; in-flight requests finish");
    server.shutdown();
    if let Some(p) = probes {
        p.shutdown();
    }
    let agents = handle.agent_count();
    drop(state);
    let report = engine.shutdown();
    if let Some(w) = audit_writer {
        w.finish();
    }
    println!(
        "shutdown: signal={signal} agents={agents} drained={} abandoned={} clean={}",
        report.drained, report.abandoned, report.clean
    );
    let _ = std::io::stdout().flush();
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids() {
        assert!(valid_node_id("mabeam-0"));
        assert!(!valid_node_id(""));
        assert!(!valid_node_id("a b"));
        assert!(!valid_node_id(&"x".repeat(65)));
        assert!(valid_node_id(&hostname()));
    }
}
