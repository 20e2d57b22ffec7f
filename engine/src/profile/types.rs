//! Value types that appear in a [`Config`](super::Config) besides numbers, flags and durations.

use std::fmt;

/// What the supervisor does when an agent's handler fails (the `restart_strategy` key):
/// the registry's own type, so the profile's default and an agent's policy are one thing.
pub use crate::registry::RestartStrategy;

/// How the server writes its logs (the `server.log_format` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The spellings accepted in a profile.
    pub const NAMES: &'static [&'static str] = &["text", "json"];

    /// The profile spelling of this format.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }

    /// Parses a profile spelling; `None` if it is not one of [`Self::NAMES`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "text" => Some(Self::Text),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The least severe log events written (the `core.log_level` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogLevel {
    /// Everything, including per-request tracing.
    Trace,
    /// Diagnostics.
    Debug,
    /// Start, stop and notable events.
    Info,
    /// Problems the server works around.
    Warn,
    /// Failures.
    Error,
}

impl LogLevel {
    /// The spellings accepted in a profile.
    pub const NAMES: &'static [&'static str] = &["trace", "debug", "info", "warn", "error"];

    /// The profile spelling of this level (also a valid `tracing` filter directive).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }

    /// Parses a profile spelling; `None` if it is not one of [`Self::NAMES`].
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == text)
    }

    const ALL: [Self; 5] = [
        Self::Trace,
        Self::Debug,
        Self::Info,
        Self::Warn,
        Self::Error,
    ];
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which requests the audit log records one line each for (the `security.audit_level`
/// key). Refusals (401, 403, 429) are always aggregated per client address instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditLevel {
    /// Every request that is not a refusal: reads too (probes and `/metrics` excepted).
    All,
    /// State-changing requests only.
    Writes,
}

impl AuditLevel {
    /// The spellings accepted in a profile.
    pub const NAMES: &'static [&'static str] = &["all", "writes"];

    /// The profile spelling of this level.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Writes => "writes",
        }
    }

    /// Parses a profile spelling; `None` if it is not one of [`Self::NAMES`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "all" => Some(Self::All),
            "writes" => Some(Self::Writes),
            _ => None,
        }
    }
}

impl fmt::Display for AuditLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tokens::TokenRole;
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in RestartStrategy::NAMES {
            assert_eq!(
                RestartStrategy::parse(name).map(|s| s.as_str()),
                Some(*name)
            );
        }
        for name in LogFormat::NAMES {
            assert_eq!(LogFormat::parse(name).map(|s| s.as_str()), Some(*name));
        }
        for name in LogLevel::NAMES {
            assert_eq!(LogLevel::parse(name).map(|s| s.as_str()), Some(*name));
        }
        for name in AuditLevel::NAMES {
            assert_eq!(AuditLevel::parse(name).map(|s| s.as_str()), Some(*name));
        }
        for name in TokenRole::NAMES {
            assert_eq!(TokenRole::parse(name).map(|s| s.as_str()), Some(*name));
        }
        assert_eq!(RestartStrategy::parse("Permanent"), None);
        assert_eq!(LogFormat::parse("yaml"), None);
        assert_eq!(TokenRole::parse("admin"), None);
    }
}
