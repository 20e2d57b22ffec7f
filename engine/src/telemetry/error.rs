//! Errors of the telemetry layer.

use thiserror::Error;

/// What went wrong in a telemetry call. Recording never fails; these come from
/// configuration, registration and queries.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum TelemetryError {
    /// A setting is outside its allowed range.
    #[error("telemetry setting `{name}` = {value} is invalid: {why}")]
    InvalidSetting {
        /// The setting's name as written in `TelemetrySettings`.
        name: &'static str,
        /// The value given.
        value: String,
        /// The allowed range, or how to fix it.
        why: &'static str,
    },
    /// A label value (protocol, window, ...) is not one of the known ones.
    #[error("unknown {kind} `{value}`; expected one of: {expected}")]
    UnknownLabel {
        /// What was being parsed.
        kind: &'static str,
        /// The text given (truncated to 64 characters).
        value: String,
        /// The accepted values.
        expected: String,
    },
    /// The hub already holds `max_recorders` live recorders.
    #[error(
        "too many telemetry recorders: {max} are live; drop unused recorders or raise `max_recorders`"
    )]
    TooManyRecorders {
        /// The configured limit.
        max: usize,
    },
    /// A recorder name is empty, too long, or uses characters outside `[A-Za-z0-9_.:-]`.
    #[error("invalid recorder name `{name}`: use 1-64 characters of [A-Za-z0-9_.:-]")]
    InvalidRecorderName {
        /// The name given (truncated to 64 characters).
        name: String,
    },
    /// A live recorder already has this name.
    #[error("a telemetry recorder named `{name}` is already live; names must be unique")]
    DuplicateRecorder {
        /// The name given.
        name: String,
    },
}
