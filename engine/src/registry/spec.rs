//! What a caller asks for when registering an agent (`AgentSpec`, the JSON body of
//! `POST /api/agents`) and its validation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::RegistryError;
use super::id::{check_name, validate_id};

/// Most capabilities an agent may declare.
pub const CAPABILITIES_MAX: usize = 64;
/// Most metadata entries an agent may carry.
pub const METADATA_ENTRIES_MAX: usize = 64;
/// Longest metadata value, in bytes.
pub const METADATA_VALUE_LEN_MAX: usize = 1024;
/// Most restarts a supervision policy may allow in its window.
pub const MAX_RESTARTS_MAX: u32 = 10_000;
/// Longest restart window, in seconds (one day).
pub const MAX_SECONDS_MAX: u32 = 86_400;

/// How a supervisor treats an agent that stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RestartStrategy {
    /// Always restarted.
    #[default]
    Permanent,
    /// Restarted only after a failure, not after a clean stop.
    Transient,
    /// Never restarted.
    Temporary,
}

impl RestartStrategy {
    /// The spellings accepted in JSON and in a profile, in declaration order.
    pub const NAMES: &'static [&'static str] = &["permanent", "transient", "temporary"];

    /// The snake_case spelling of this strategy.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Permanent => "permanent",
            Self::Transient => "transient",
            Self::Temporary => "temporary",
        }
    }

    /// Parses a spelling; `None` if it is not one of [`Self::NAMES`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "permanent" => Some(Self::Permanent),
            "transient" => Some(Self::Transient),
            "temporary" => Some(Self::Temporary),
            _ => None,
        }
    }
}

impl std::fmt::Display for RestartStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RestartStrategy {
    /// Whether an agent that ended this way should be restarted under this strategy.
    pub fn restarts_after(self, failed: bool) -> bool {
        match self {
            Self::Permanent => true,
            Self::Transient => failed,
            Self::Temporary => false,
        }
    }
}

/// Restart policy: `strategy`, and at most `max_restarts` restarts in any `max_seconds`
/// window (beyond that the agent stays failed). Omitted fields default to 3 restarts
/// in 5 seconds; an omitted strategy is filled in at registration from the profile's
/// `agent_registry.restart_strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Supervision {
    /// When to restart (`None` until registration fills in the engine's default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<RestartStrategy>,
    /// Restarts allowed within the window.
    pub max_restarts: u32,
    /// The window, in seconds (at least 1).
    pub max_seconds: u32,
}

impl Supervision {
    /// The strategy, or `default` when none was given.
    pub fn strategy_or(&self, default: RestartStrategy) -> RestartStrategy {
        self.strategy.unwrap_or(default)
    }
}

impl Default for Supervision {
    fn default() -> Self {
        Self {
            strategy: None,
            max_restarts: 3,
            max_seconds: 5,
        }
    }
}

/// An agent as registered: `{"id","kind","capabilities","config","supervision","metadata"}`.
/// `id` and `kind` are required; the others default to empty (`config` to `{}`) and to the
/// default [`Supervision`]. Unknown fields are rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    /// Unique id: 1-128 characters of `[A-Za-z0-9_.:-]`.
    pub id: String,
    /// What sort of agent it is (same character rules as the id).
    pub kind: String,
    /// What it can do (each a name; at most 64; duplicates rejected).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Free-form configuration handed to the agent: a JSON object.
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
    /// Restart policy.
    #[serde(default)]
    pub supervision: Supervision,
    /// Free-form labels (keys are names, values at most 1024 bytes; at most 64 entries).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> RegistryError {
    RegistryError::InvalidSpec {
        field: field.into(),
        reason: reason.into(),
    }
}

impl AgentSpec {
    /// A spec with this id and kind and every other field at its default.
    pub fn new(id: impl Into<String>, kind: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            kind: kind.into(),
            capabilities: Vec::new(),
            config: empty_object(),
            supervision: Supervision::default(),
            metadata: BTreeMap::new(),
        }
    }

    /// Adds a capability (builder style).
    pub fn with_capability(mut self, capability: impl Into<String>) -> Self {
        self.capabilities.push(capability.into());
        self
    }

    /// Whether the agent declares `capability`.
    pub fn has_capability(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    /// Checks every field against the rules above, naming the first bad one.
    pub fn validate(&self) -> Result<(), RegistryError> {
        validate_id(&self.id)?;
        check_name(&self.kind).map_err(|r| invalid("kind", r))?;
        if self.capabilities.len() > CAPABILITIES_MAX {
            return Err(invalid(
                "capabilities",
                format!(
                    "{} given; at most {CAPABILITIES_MAX} are allowed",
                    self.capabilities.len()
                ),
            ));
        }
        for (i, cap) in self.capabilities.iter().enumerate() {
            check_name(cap).map_err(|r| invalid(format!("capabilities[{i}]"), r))?;
            if self.capabilities[..i].contains(cap) {
                return Err(invalid(
                    format!("capabilities[{i}]"),
                    format!("{cap:?} is listed twice; list each capability once"),
                ));
            }
        }
        if !self.config.is_object() {
            return Err(invalid(
                "config",
                "it must be a JSON object (use {} for none)",
            ));
        }
        let sup = &self.supervision;
        if sup.max_seconds == 0 || sup.max_seconds > MAX_SECONDS_MAX {
            return Err(invalid(
                "supervision.max_seconds",
                format!(
                    "{} is out of range; use 1 to {MAX_SECONDS_MAX}",
                    sup.max_seconds
                ),
            ));
        }
        if sup.max_restarts > MAX_RESTARTS_MAX {
            return Err(invalid(
                "supervision.max_restarts",
                format!(
                    "{} is too many; use at most {MAX_RESTARTS_MAX}",
                    sup.max_restarts
                ),
            ));
        }
        if self.metadata.len() > METADATA_ENTRIES_MAX {
            return Err(invalid(
                "metadata",
                format!(
                    "{} entries given; at most {METADATA_ENTRIES_MAX} are allowed",
                    self.metadata.len()
                ),
            ));
        }
        for (key, value) in &self.metadata {
            check_name(key).map_err(|r| invalid(format!("metadata key {key:?}"), r))?;
            if value.len() > METADATA_VALUE_LEN_MAX {
                return Err(invalid(
                    format!("metadata[{key}]"),
                    format!(
                        "the value is {} bytes; at most {METADATA_VALUE_LEN_MAX} are allowed",
                        value.len()
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_body_with_defaults() {
        let spec: AgentSpec = serde_json::from_str(r#"{"id":"a1","kind":"worker"}"#).unwrap();
        assert_eq!(spec, AgentSpec::new("a1", "worker"));
        assert!(spec.validate().is_ok());
        let spec: AgentSpec = serde_json::from_str(
            r#"{"id":"a1","kind":"worker","capabilities":["nlp"],"config":{"x":1},
                "supervision":{"strategy":"transient"}}"#,
        )
        .unwrap();
        assert_eq!(spec.supervision.strategy, Some(RestartStrategy::Transient));
        assert_eq!(spec.supervision.max_restarts, 3);
        assert!(spec.has_capability("nlp"));
    }

    #[test]
    fn unknown_fields_rejected() {
        assert!(serde_json::from_str::<AgentSpec>(r#"{"id":"a","kind":"k","x":1}"#).is_err());
        assert!(
            serde_json::from_str::<AgentSpec>(
                r#"{"id":"a","kind":"k","supervision":{"strategy":"permanent","oops":1}}"#
            )
            .is_err()
        );
        assert!(serde_json::from_str::<AgentSpec>(r#"{"kind":"k"}"#).is_err());
    }

    #[test]
    fn validation_names_the_field() {
        let field = |spec: AgentSpec| match spec.validate() {
            Err(RegistryError::InvalidSpec { field, .. }) => field,
            other => panic!("expected InvalidSpec, got {other:?}"),
        };
        assert_eq!(field(AgentSpec::new("a", "bad kind")), "kind");
        assert_eq!(
            field(
                AgentSpec::new("a", "k")
                    .with_capability("x")
                    .with_capability("x")
            ),
            "capabilities[1]"
        );
        let mut s = AgentSpec::new("a", "k");
        s.config = serde_json::json!([1]);
        assert_eq!(field(s), "config");
        let mut s = AgentSpec::new("a", "k");
        s.supervision.max_seconds = 0;
        assert_eq!(field(s), "supervision.max_seconds");
        let mut s = AgentSpec::new("a", "k");
        s.metadata.insert("k".into(), "v".repeat(2000));
        assert_eq!(field(s), "metadata[k]");
        assert!(matches!(
            AgentSpec::new("bad id", "k").validate(),
            Err(RegistryError::InvalidId { .. })
        ));
    }

    #[test]
    fn strategies() {
        assert!(RestartStrategy::Permanent.restarts_after(false));
        assert!(RestartStrategy::Transient.restarts_after(true));
        assert!(!RestartStrategy::Transient.restarts_after(false));
        assert!(!RestartStrategy::Temporary.restarts_after(true));
    }
}
