//! Value types that appear in a [`Config`](super::Config) besides numbers, flags and durations.

use serde::{Deserialize, Serialize};
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

/// What a bearer token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenRole {
    /// Acts as an agent: registers, bids, reads its own state.
    Agent,
    /// Operates the node: every endpoint, including administration.
    Operator,
}

impl TokenRole {
    /// The spellings accepted in a profile.
    pub const NAMES: &'static [&'static str] = &["agent", "operator"];

    /// The profile spelling of this role.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Operator => "operator",
        }
    }

    /// Parses a profile spelling; `None` if it is not one of [`Self::NAMES`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "agent" => Some(Self::Agent),
            "operator" => Some(Self::Operator),
            _ => None,
        }
    }
}

impl fmt::Display for TokenRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One accepted bearer token, as the server uses it.
///
/// Only the SHA-256 of the token is kept: the profile never holds a usable secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenConfig {
    /// SHA-256 digest of the token's bytes.
    pub token_sha256: [u8; 32],
    /// The agent this token speaks for, if it is bound to one.
    pub agent_id: Option<String>,
    /// What the token may do.
    pub role: TokenRole,
}

/// One `[[security.tokens]]` entry as written in a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    /// SHA-256 of the token, 64 hexadecimal digits (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_sha256: Option<String>,
    /// The agent the token is bound to (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// `"agent"` or `"operator"` (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// The keys a `[[security.tokens]]` entry may carry.
pub(crate) const TOKEN_KEYS: &[&str] = &["token_sha256", "agent_id", "role"];

/// Decodes 64 hexadecimal digits into a SHA-256 digest.
pub(crate) fn parse_sha256_hex(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let hi = hex_digit(pair[0])?;
        let lo = hex_digit(pair[1])?;
        *slot = (hi << 4) | lo;
    }
    Some(out)
}

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Lower-case hexadecimal spelling of a digest.
pub(crate) fn sha256_hex(digest: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn sha256_hex_round_trips_and_rejects_bad_digits() {
        let hex = "00ff10a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8";
        let digest = parse_sha256_hex(hex).expect("valid hex");
        assert_eq!(digest[0], 0x00);
        assert_eq!(digest[1], 0xff);
        assert_eq!(sha256_hex(&digest), hex);
        assert_eq!(parse_sha256_hex(&hex.to_uppercase()), Some(digest));
        assert_eq!(parse_sha256_hex(&hex[..62]), None);
        assert_eq!(parse_sha256_hex(&hex.replace('f', "g")), None);
    }
}
