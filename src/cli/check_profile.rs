//! `mabeam check-profile FILE`.

use mabeam_engine::profile::{self, Config};
use std::path::Path;
use std::process::ExitCode;

/// Prints the effective config, or the profile's errors (exit 2). Warnings (a valid
/// profile that will not work as probably meant) go to stderr and keep exit 0.
pub(crate) fn run(file: &Path) -> anyhow::Result<ExitCode> {
    match profile::load_from_process_env(Some(file)) {
        Ok(loaded) => {
            print!("{}", loaded.render());
            if let Some(w) = auth_warning(&loaded.config) {
                eprintln!("warning: {w}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("mabeam: invalid profile: {e}");
            Ok(ExitCode::from(2))
        }
    }
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
