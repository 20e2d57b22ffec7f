//! Value types that appear in a [`Config`](super::Config) besides numbers, flags and durations.

use std::fmt;

/// What the supervisor does when an agent's handler fails (the `restart_strategy` key).
///
/// The registry keeps its own policy type; this is the profile's view of the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RestartStrategy {
    /// Always restart the agent, whatever the reason it stopped.
    Permanent,
    /// Restart only after an abnormal exit (a panic), not after a normal stop.
    Transient,
    /// Never restart.
    Temporary,
}

impl RestartStrategy {
    /// The spellings accepted in a profile, in declaration order.
    pub const NAMES: &'static [&'static str] = &["permanent", "transient", "temporary"];

    /// The profile spelling of this strategy.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Permanent => "permanent",
            Self::Transient => "transient",
            Self::Temporary => "temporary",
        }
    }

    /// Parses a profile spelling; `None` if it is not one of [`Self::NAMES`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "permanent" => Some(Self::Permanent),
            "transient" => Some(Self::Transient),
            "temporary" => Some(Self::Temporary),
            _ => None,
        }
    }
}

impl fmt::Display for RestartStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
