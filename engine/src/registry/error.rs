//! Registry errors: one enum, each variant described once in the engine's error
//! vocabulary ([`crate::error`]).

use super::state::AgentState;
use crate::error::{Describe, Description, ErrorClass};

/// What went wrong in a registry operation. Nothing is changed when an error is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The registry already holds `max` agents.
    #[error(
        "the registry is full ({max} agents, the max_agents limit): deregister agents or raise agent_registry.max_agents"
    )]
    Capacity {
        /// The limit that was hit.
        max: usize,
    },
    /// An agent with this id is already registered.
    #[error("agent {id:?} is already registered: pick another id or deregister it first")]
    AlreadyExists {
        /// The id.
        id: String,
    },
    /// No agent with this id is registered.
    #[error("no agent {id:?} is registered: check the id or register the agent first")]
    NotFound {
        /// The id.
        id: String,
    },
    /// The lifecycle does not allow this move.
    #[error(
        "agent {id:?} cannot go from {from} to {to}; allowed from {from}: {allowed}",
        allowed = from.allowed_list()
    )]
    InvalidTransition {
        /// The agent.
        id: String,
        /// Its current state.
        from: AgentState,
        /// The state asked for.
        to: AgentState,
    },
    /// The id is malformed.
    #[error("invalid agent id {id:?}: {reason}")]
    InvalidId {
        /// The id as given (at most 128 characters of it).
        id: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A field of the agent spec (or of an update) is malformed.
    #[error("invalid agent {field}: {reason}")]
    InvalidSpec {
        /// The field, e.g. `capabilities[2]` or `supervision.max_seconds`.
        field: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The id belongs to another shard than the writer it was given to (a routing bug).
    #[error(
        "agent {id:?} belongs to shard {owner}, not to shard {shard}: route commands with Registry::shard_of"
    )]
    WrongShard {
        /// The id.
        id: String,
        /// The shard whose writer was called.
        shard: usize,
        /// The shard that owns the id.
        owner: usize,
    },
    /// The registry cannot be built with these limits.
    #[error("invalid registry configuration: {reason}")]
    InvalidConfig {
        /// What is wrong and how to fix it.
        reason: String,
    },
}

impl Describe for RegistryError {
    /// The registry's limit, an id taken and a refused state change are `conflict`; bad ids,
    /// specs and configuration are `invalid`.
    fn describe(&self) -> Description {
        use ErrorClass::{Conflict, Invalid, NotFound};
        match self {
            Self::Capacity { .. } => Description::fixed("capacity", Conflict),
            Self::AlreadyExists { .. } => Description::fixed("already_exists", Conflict),
            Self::NotFound { .. } => Description::fixed("not_found", NotFound),
            Self::InvalidTransition { .. } => Description::fixed("invalid_transition", Conflict),
            Self::InvalidId { .. } | Self::InvalidSpec { .. } => {
                Description::fixed("invalid_agent", Invalid)
            }
            Self::WrongShard { .. } => Description::fixed("wrong_shard", Invalid),
            Self::InvalidConfig { .. } => Description::fixed("invalid_config", Invalid),
        }
    }
}

impl RegistryError {
    /// A stable snake_case code for the error (the `code` of an HTTP error body; see
    /// [`Describe`]).
    pub fn code(&self) -> &'static str {
        self.describe().code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_messages() {
        let e = RegistryError::InvalidTransition {
            id: "a".into(),
            from: AgentState::Stopped,
            to: AgentState::Running,
        };
        assert_eq!(e.code(), "invalid_transition");
        let msg = e.to_string();
        assert!(
            msg.contains("stopped") && msg.contains("running") && msg.contains("starting"),
            "{msg}"
        );
        assert_eq!(RegistryError::Capacity { max: 3 }.code(), "capacity");
        assert_eq!(
            RegistryError::AlreadyExists { id: "a".into() }.code(),
            "already_exists"
        );
        assert_eq!(
            RegistryError::NotFound { id: "a".into() }.code(),
            "not_found"
        );
        assert!(
            RegistryError::Capacity { max: 3 }
                .to_string()
                .contains("max_agents")
        );
    }
}
