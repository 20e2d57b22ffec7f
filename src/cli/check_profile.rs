//! `mabeam check-profile FILE`.

use crate::cli::preflight::{self, Mode};
use mabeam_engine::api::Footprint;
use mabeam_engine::profile;
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
