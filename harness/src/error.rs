//! Errors that end a run before any load starts (exit code 3).

use std::path::PathBuf;

/// A usage or configuration problem: the message says what is wrong and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// A flag has a value that makes no sense.
    #[error("{flag}: {problem}; {fix}")]
    Flag {
        /// The flag, e.g. `-R`.
        flag: &'static str,
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// A scenario or trace file could not be used.
    #[error("{file}:{line}: {problem}")]
    File {
        /// The file.
        file: PathBuf,
        /// 1-based line (0 when the file could not be read at all).
        line: usize,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// The target cannot be reached.
    #[error("target {target} is unreachable: {problem}; start the server or fix the address")]
    Unreachable {
        /// The address tried.
        target: String,
        /// The connect error.
        problem: String,
    },
    /// The profile given with `--profile` is invalid.
    #[error("profile {file}: {problem}")]
    Profile {
        /// The file.
        file: PathBuf,
        /// The profile loader's message.
        problem: String,
    },
    /// The embedded engine could not start or cannot serve a scenario entry.
    #[error("embedded target: {0}")]
    Embedded(String),
    /// A scenario's setup step failed against the target.
    #[error("setup: {0}")]
    Setup(String),
    /// An output file could not be written.
    #[error("cannot write {file}: {problem}")]
    Output {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        problem: String,
    },
}

impl UsageError {
    /// Shorthand for [`UsageError::Flag`].
    pub fn flag(flag: &'static str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        UsageError::Flag {
            flag,
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// The 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}
