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
        for name in TokenRole::NAMES {
            assert_eq!(TokenRole::parse(name).map(|s| s.as_str()), Some(*name));
        }
        assert_eq!(RestartStrategy::parse("Permanent"), None);
        assert_eq!(LogFormat::parse("yaml"), None);
        assert_eq!(TokenRole::parse("admin"), None);
    }
}
