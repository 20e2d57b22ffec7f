//! The start-up checks: everything `mabeam serve` needs from the machine before it
//! starts (the directories and files it writes, the TLS material it reads, the address
//! it listens on), in one function that `serve` and `check-profile` both run, so a
//! profile that passes `check-profile` starts.
//!
//! `serve` runs it in [`Mode::Prepare`]: a missing directory for a file the server
//! writes is created (with its missing parents) with mode 0750. `check-profile` runs it
//! in [`Mode::Check`]: nothing is created or changed; such a directory is reported as
//! one `serve` will create, provided its nearest existing ancestor is writable. Anything
//! else (an unwritable directory, a path through a regular file, unreadable or invalid
//! TLS material, an address that cannot be bound) is a [`Problem`] naming the profile key
//! and the fix.

use crate::http::tls;
use mabeam_engine::profile::Config;
use std::fmt;
use std::net::TcpListener;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use tokio_rustls::TlsAcceptor;

/// Mode of a directory `serve` creates for a file it writes: owner rwx, group rx.
pub(crate) const DIR_MODE: u32 = 0o750;

/// Whether the checks may change the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `check-profile`: look only.
    Check,
    /// `serve`: create the directories it may create.
    Prepare,
}

/// Something that keeps `serve` from starting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The profile key (or flag) behind it.
    pub(crate) key: &'static str,
    /// What is wrong.
    pub(crate) problem: String,
    /// How to fix it.
    pub(crate) fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}; fix: {}", self.key, self.problem, self.fix)
    }
}

/// What the checks found.
#[derive(Default)]
pub(crate) struct Preflight {
    /// What was (or, in check mode, will be) done: directories created.
    pub(crate) notes: Vec<String>,
    /// What keeps `serve` from starting; empty when it can start.
    pub(crate) problems: Vec<Problem>,
    /// The TLS acceptor built from the configured material, when TLS is on.
    pub(crate) tls: Option<TlsAcceptor>,
}

/// The files the server writes, each with the key that names it.
fn written_files(config: &Config) -> Vec<(&'static str, &Path)> {
    let mut files = Vec::new();
    if let Some(p) = config.core.log_file.as_deref() {
        files.push(("core.log_file", p));
    }
    let sec = &config.security;
    if sec.audit_enabled
        && let Some(p) = sec.audit_path.as_deref()
    {
        files.push(("security.audit_path", p));
    }
    files
}

/// Runs every start-up check against `config` (with the command line's overrides
/// already applied).
pub(crate) fn run(config: &Config, mode: Mode) -> Preflight {
    let mut out = Preflight::default();
    for (key, file) in written_files(config) {
        check_written_file(key, file, mode, &mut out);
    }
    check_tls(config, &mut out);
    check_listen(config, &mut out);
    out
}

fn env_name(key: &str) -> String {
    format!("MABEAM_{}", key.replace('.', "__").to_ascii_uppercase())
}

fn check_written_file(key: &'static str, file: &Path, mode: Mode, out: &mut Preflight) {
    let other_path = format!(
        "set {key} (or {}) to a path this user may write",
        env_name(key)
    );
    let Some(dir) = file.parent().map(|d| {
        if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d
        }
    }) else {
        out.problems.push(Problem {
            key,
            problem: format!("{} is not a file path", file.display()),
            fix: other_path,
        });
        return;
    };
    if file.is_dir() {
        out.problems.push(Problem {
            key,
            problem: format!("{} is a directory, not a file", file.display()),
            fix: other_path,
        });
        return;
    }
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {
            if let Err(e) = writable(file, dir) {
                out.problems.push(Problem {
                    key,
                    problem: e,
                    fix: format!(
                        "let the server's user write it (chown or chmod), or {other_path}"
                    ),
                });
            }
        }
        Ok(_) => out.problems.push(Problem {
            key,
            problem: format!("{} is not a directory", dir.display()),
            fix: other_path,
        }),
        Err(_) => create_dir(key, dir, mode, &other_path, out),
    }
}

/// Whether this user may write `file` (when it exists) or create it in `dir`.
fn writable(file: &Path, dir: &Path) -> Result<(), String> {
    use rustix::fs::{Access, access};
    if file.exists() {
        return access(file, Access::WRITE_OK)
            .map_err(|e| format!("{} is not writable by this user: {e}", file.display()));
    }
    access(dir, Access::WRITE_OK | Access::EXEC_OK).map_err(|e| {
        format!(
            "cannot create {} in {}: the directory is not writable by this user: {e}",
            file.display(),
            dir.display()
        )
    })
}

fn create_dir(key: &'static str, dir: &Path, mode: Mode, other_path: &str, out: &mut Preflight) {
    let fix = format!(
        "create it for the server's user (install -d -m 0750 -o USER {}), or {other_path}",
        dir.display()
    );
    match mode {
        Mode::Prepare => match std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
        {
            Ok(()) => out
                .notes
                .push(format!("created {} (mode 0750) for {key}", dir.display())),
            Err(e) => out.problems.push(Problem {
                key,
                problem: format!("cannot create the directory {}: {e}", dir.display()),
                fix,
            }),
        },
        Mode::Check => {
            let ancestor = nearest_existing(dir);
            let problem = match &ancestor {
                Some(a) if !a.is_dir() => Some(format!(
                    "cannot create the directory {}: {} is not a directory",
                    dir.display(),
                    a.display()
                )),
                Some(a) => rustix::fs::access(
                    a.as_path(),
                    rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
                )
                .err()
                .map(|e| {
                    format!(
                        "cannot create the directory {}: {} is not writable by this user: {e}",
                        dir.display(),
                        a.display()
                    )
                }),
                None => Some(format!(
                    "cannot create the directory {}: no ancestor exists",
                    dir.display()
                )),
            };
            match problem {
                Some(problem) => out.problems.push(Problem { key, problem, fix }),
                None => out.notes.push(format!(
                    "serve will create {} (mode 0750) for {key}",
                    dir.display()
                )),
            }
        }
    }
}

/// The nearest ancestor of `dir` (itself excluded) that exists.
fn nearest_existing(dir: &Path) -> Option<PathBuf> {
    let mut at = dir.parent();
    while let Some(p) = at {
        let p = if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        };
        if p.symlink_metadata().is_ok() {
            return Some(p.to_path_buf());
        }
        at = p.parent();
    }
    None
}

fn check_tls(config: &Config, out: &mut Preflight) {
    match tls::paths(config) {
        Ok(None) => {}
        Ok(Some((cert, key))) => match tls::acceptor(&cert, &key) {
            Ok(a) => out.tls = Some(a),
            Err(e) => out.problems.push(Problem {
                key: "security.tls_cert_path",
                problem: format!("{e:#}"),
                fix: "point security.tls_cert_path and security.tls_key_path (or SSL_CERT_PATH \
                      and SSL_KEY_PATH) at a readable PEM certificate chain and its private key"
                    .to_owned(),
            }),
        },
        Err(e) => out.problems.push(Problem {
            key: "security.tls_cert_path",
            problem: format!("{e:#}"),
            fix: "set both the certificate and the key, or neither".to_owned(),
        }),
    }
}

fn check_listen(config: &Config, out: &mut Preflight) {
    let addr = config.server.listen;
    if let Err(e) = TcpListener::bind(addr) {
        out.problems.push(Problem {
            key: "server.listen",
            problem: format!("cannot listen on {addr}: {e}"),
            fix: "choose a free port (or stop what holds it) and an address of this machine, \
                  with server.listen, MABEAM_SERVER__LISTEN or --listen; ports below 1024 \
                  need privileges"
                .to_owned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_follow_the_profile_rule() {
        assert_eq!(
            env_name("security.audit_path"),
            "MABEAM_SECURITY__AUDIT_PATH"
        );
    }

    #[test]
    fn nearest_existing_ancestor() {
        let tmp = std::env::temp_dir();
        let deep = tmp.join("mabeam-none-a").join("b");
        assert_eq!(nearest_existing(&deep), Some(tmp));
    }
}
