//! `mabeam check-profile FILE`.

use mabeam_engine::profile;
use std::path::Path;
use std::process::ExitCode;

/// Prints the effective config, or the profile's errors (exit 2).
pub(crate) fn run(file: &Path) -> anyhow::Result<ExitCode> {
    match profile::load_from_process_env(Some(file)) {
        Ok(loaded) => {
            print!("{}", loaded.render());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("mabeam: invalid profile: {e}");
            Ok(ExitCode::from(2))
        }
    }
}
