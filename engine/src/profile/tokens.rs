//! Bearer tokens in a profile: `[[security.tokens]]` entries, their check and their codec.

use super::codec::{Codec, Kind, Mismatch, Rejection, describe, quoted_list};
use serde::{Deserialize, Serialize};
use std::fmt;

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

/// The list of accepted bearer tokens.
pub(crate) struct Tokens;

pub(crate) fn check_tokens(items: &[toml::Value]) -> Result<(), Mismatch> {
    for (index, item) in items.iter().enumerate() {
        let Some(table) = item.as_table() else {
            return Err(Mismatch::Type {
                sub_path: format!("[{index}]"),
                expected: "a table { token_sha256, agent_id, role }".to_owned(),
                got: describe(item),
            });
        };
        for (key, value) in table {
            let kind = match key.as_str() {
                "token_sha256" | "agent_id" => Kind::Str,
                "role" => Kind::Choice(TokenRole::NAMES),
                _ => {
                    return Err(Mismatch::UnknownTokenKey {
                        sub_path: format!("[{index}].{key}"),
                        key: key.clone(),
                    });
                }
            };
            if let Err(Mismatch::Type { expected, got, .. }) = kind.check(value) {
                return Err(Mismatch::Type {
                    sub_path: format!("[{index}].{key}"),
                    expected,
                    got,
                });
            }
        }
    }
    Ok(())
}

impl Codec for Tokens {
    type Value = Vec<TokenConfig>;
    type Raw = Vec<TokenSpec>;
    const KIND: Kind = Kind::TokenList;
    const UNIT: &'static str = "";
    fn decode(raw: &Vec<TokenSpec>) -> Result<Vec<TokenConfig>, Rejection> {
        raw.iter()
            .enumerate()
            .map(|(index, spec)| decode_token(index, spec))
            .collect()
    }
    fn encode(value: &Vec<TokenConfig>) -> Option<Vec<TokenSpec>> {
        Some(
            value
                .iter()
                .map(|t| TokenSpec {
                    token_sha256: Some(sha256_hex(&t.token_sha256)),
                    agent_id: t.agent_id.clone(),
                    role: Some(t.role.as_str().to_owned()),
                })
                .collect(),
        )
    }
    fn show(value: &Vec<TokenConfig>) -> String {
        if value.is_empty() {
            return "[] (no tokens)".to_owned();
        }
        let shown: Vec<String> = value
            .iter()
            .map(|t| {
                let hex = sha256_hex(&t.token_sha256);
                match &t.agent_id {
                    Some(agent) => format!("{}.. {} {agent}", &hex[..8], t.role),
                    None => format!("{}.. {}", &hex[..8], t.role),
                }
            })
            .collect();
        format!("[{}]", shown.join("; "))
    }
}

fn decode_token(index: usize, spec: &TokenSpec) -> Result<TokenConfig, Rejection> {
    let at = |field: &str| format!("[{index}].{field}");
    let Some(hex) = &spec.token_sha256 else {
        return Err(Rejection {
            sub_path: at("token_sha256"),
            problem: "the token entry has no token_sha256".to_owned(),
            fix: "add token_sha256 = \"<64 hex digits>\": the SHA-256 of the token, \
                  e.g. from `printf %s TOKEN | sha256sum`"
                .to_owned(),
        });
    };
    let Some(token_sha256) = parse_sha256_hex(hex.trim()) else {
        return Err(Rejection {
            sub_path: at("token_sha256"),
            problem: format!(
                "\"{hex}\" is not a SHA-256 digest ({} characters, need 64 hex digits)",
                hex.len()
            ),
            fix: "write the 64 hexadecimal digits of the token's SHA-256, \
                  e.g. from `printf %s TOKEN | sha256sum`"
                .to_owned(),
        });
    };
    let Some(role_text) = &spec.role else {
        return Err(Rejection {
            sub_path: at("role"),
            problem: "the token entry has no role".to_owned(),
            fix: format!("add role = one of {}", quoted_list(TokenRole::NAMES)),
        });
    };
    let Some(role) = TokenRole::parse(role_text) else {
        return Err(Rejection {
            sub_path: at("role"),
            problem: format!("\"{role_text}\" is not a token role"),
            fix: format!("use one of {}", quoted_list(TokenRole::NAMES)),
        });
    };
    Ok(TokenConfig {
        token_sha256,
        agent_id: spec.agent_id.clone(),
        role,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn token_list_check_names_the_entry() {
        let value: toml::Value = "[{ token_sha256 = \"ab\", rol = \"agent\" }]"
            .parse()
            .expect("valid TOML value");
        match Kind::TokenList.check(&value) {
            Err(Mismatch::UnknownTokenKey { sub_path, key }) => {
                assert_eq!(sub_path, "[0].rol");
                assert_eq!(key, "rol");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn token_decode_reports_the_field() {
        let bad = TokenSpec {
            token_sha256: Some("zz".into()),
            agent_id: None,
            role: Some("agent".into()),
        };
        let err = Tokens::decode(&vec![bad]).unwrap_err();
        assert_eq!(err.sub_path, "[0].token_sha256");
        let missing_role = TokenSpec {
            token_sha256: Some("a".repeat(64)),
            agent_id: None,
            role: None,
        };
        assert_eq!(
            Tokens::decode(&vec![missing_role]).unwrap_err().sub_path,
            "[0].role"
        );
    }
}
