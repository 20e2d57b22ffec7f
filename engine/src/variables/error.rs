//! The one error type of the variables layer, described once in the engine's error
//! vocabulary ([`crate::error`]).

use thiserror::Error;

use crate::error::{Describe, Description, ErrorClass};

use super::coordinate::CoordinationError;

/// Why a variable operation was refused. Nothing changes when an operation fails.
///
/// Every message says what is wrong and what to do; [`code`](Self::code) is the stable
/// snake_case code for `{"error":{"code",...}}`; [`Describe`] gives its class and retry hint.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VariableError {
    /// The name is not 1-128 characters of `[A-Za-z0-9_.:-]`.
    #[error("variable name {name:?} is invalid: {reason}")]
    InvalidName {
        /// The name as sent (truncated to 128 bytes).
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An agent id is not 1-128 characters of `[A-Za-z0-9_.:-]`.
    #[error("agent id {agent_id:?} is invalid: {reason}")]
    InvalidAgentId {
        /// The id as sent (truncated to 128 bytes).
        agent_id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No variable has this name.
    #[error("no variable named {name:?}; create it with POST /api/variables first")]
    NotFound {
        /// The name looked up.
        name: String,
    },
    /// A variable with this name already exists.
    #[error("a variable named {name:?} already exists; pick another name or update it with PUT")]
    AlreadyExists {
        /// The name taken.
        name: String,
    },
    /// The write carried a version that is not the current one.
    #[error(
        "variable {name:?} is at version {actual}, not {expected}; read it again and retry with version {actual}"
    )]
    Conflict {
        /// The variable.
        name: String,
        /// The version the writer expected.
        expected: u64,
        /// The current version.
        actual: u64,
    },
    /// The variable's policy is `version_check` and the write carried no version.
    #[error(
        "variable {name:?} requires the current version on every write; send \"version\":{actual}"
    )]
    VersionRequired {
        /// The variable.
        name: String,
        /// The current version.
        actual: u64,
    },
    /// The variable's policy is `coordinated`: direct writes are refused.
    #[error(
        "variable {name:?} is coordinated; change it with POST /api/variables/{name}/coordinate"
    )]
    Coordinated {
        /// The variable.
        name: String,
    },
    /// The value is not in the variable's domain.
    #[error("value for variable {name:?} is outside its domain: {reason}")]
    OutOfDomain {
        /// The variable.
        name: String,
        /// Why, including who proposed it where relevant.
        reason: String,
    },
    /// The domain itself is malformed.
    #[error("domain is invalid: {reason}")]
    InvalidDomain {
        /// What to change.
        reason: String,
    },
    /// A value (or domain) is larger than `value_bytes_max` as compact JSON.
    #[error("{what} is larger than {bytes_max} bytes of JSON; send a smaller one")]
    TooLarge {
        /// What was too large.
        what: String,
        /// The limit.
        bytes_max: usize,
    },
    /// The store already holds `max_variables` variables.
    #[error(
        "the store already holds its maximum of {max} variables; remove one or raise max_variables"
    )]
    Capacity {
        /// The limit.
        max: usize,
    },
    /// The variable already has `subscribers_max` subscribers.
    #[error(
        "variable {name:?} already has its maximum of {max} subscribers; unsubscribe one or raise subscribers_max"
    )]
    SubscriberCapacity {
        /// The variable.
        name: String,
        /// The limit.
        max: usize,
    },
    /// A `coordinate` request is malformed.
    #[error("coordination request for variable {name:?} is invalid: {source}")]
    Coordination {
        /// The variable.
        name: String,
        /// What is wrong.
        source: CoordinationError,
    },
}

impl Describe for VariableError {
    /// Bad names, values and requests are `invalid`; a stale or missing version, a name
    /// taken and the store's limits are `conflict`; an oversized value is `too_large`.
    fn describe(&self) -> Description {
        use ErrorClass::{Conflict, Invalid, NotFound, TooLarge};
        match self {
            Self::InvalidName { .. } => Description::fixed("invalid_name", Invalid),
            Self::InvalidAgentId { .. } => Description::fixed("invalid_agent_id", Invalid),
            Self::NotFound { .. } => Description::fixed("not_found", NotFound),
            Self::AlreadyExists { .. } => Description::fixed("already_exists", Conflict),
            Self::Conflict { .. } => Description::fixed("version_conflict", Conflict),
            Self::VersionRequired { .. } => Description::fixed("version_required", Invalid),
            Self::Coordinated { .. } => Description::fixed("coordinated", Conflict),
            Self::OutOfDomain { .. } => Description::fixed("out_of_domain", Invalid),
            Self::InvalidDomain { .. } => Description::fixed("invalid_domain", Invalid),
            Self::TooLarge { .. } => Description::fixed("too_large", TooLarge),
            Self::Capacity { .. } => Description::fixed("capacity", Conflict),
            Self::SubscriberCapacity { .. } => Description::fixed("subscriber_capacity", Conflict),
            Self::Coordination { .. } => Description::fixed("invalid_coordination", Invalid),
        }
    }
}

impl VariableError {
    /// The stable snake_case code (see [`Describe`]).
    pub fn code(&self) -> &'static str {
        self.describe().code
    }

    pub(crate) fn invalid_name(name: &str, reason: String) -> Self {
        Self::InvalidName {
            name: truncate(name),
            reason,
        }
    }

    pub(crate) fn invalid_agent(agent_id: &str, reason: String) -> Self {
        Self::InvalidAgentId {
            agent_id: truncate(agent_id),
            reason,
        }
    }
}

/// At most 128 bytes of `s`, cut on a character boundary, so a huge bad name cannot make a
/// huge error.
fn truncate(s: &str) -> String {
    let mut end = s.len().min(super::domain::NAME_LEN_MAX);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_classes_and_messages() {
        let e = VariableError::Conflict {
            name: "x".into(),
            expected: 3,
            actual: 5,
        };
        assert_eq!(
            (e.code(), e.describe().class),
            ("version_conflict", ErrorClass::Conflict)
        );
        assert!(e.to_string().contains("retry with version 5"), "{e}");
        let e = VariableError::NotFound { name: "x".into() };
        assert_eq!(
            (e.code(), e.describe().class),
            ("not_found", ErrorClass::NotFound)
        );
        assert!(e.to_string().contains("POST /api/variables"));
        let e = VariableError::Capacity { max: 4 };
        assert_eq!(
            (e.code(), e.describe().class),
            ("capacity", ErrorClass::Conflict)
        );
        assert!(e.to_string().contains("raise max_variables"));
        let e = VariableError::TooLarge {
            what: "value".into(),
            bytes_max: 10,
        };
        assert_eq!(
            (e.code(), e.describe().class),
            ("too_large", ErrorClass::TooLarge)
        );
        let e = VariableError::OutOfDomain {
            name: "x".into(),
            reason: "r".into(),
        };
        assert_eq!(
            (e.code(), e.describe().class),
            ("out_of_domain", ErrorClass::Invalid)
        );
    }

    #[test]
    fn bad_names_are_truncated_in_errors() {
        let long = "\u{e9}".repeat(200);
        let e = VariableError::invalid_name(&long, "r".into());
        let VariableError::InvalidName { name, .. } = e else {
            unreachable!()
        };
        assert!(name.len() <= 128 && long.starts_with(&name));
    }
}
