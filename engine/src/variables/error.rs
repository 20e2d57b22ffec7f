//! The one error type of the variables layer, with a stable code and an HTTP status.

use thiserror::Error;

use super::coordinate::CoordinationError;

/// Why a variable operation was refused. Nothing changes when an operation fails.
///
/// Every message says what is wrong and what to do; [`code`](Self::code) is the stable
/// snake_case code for `{"error":{"code",...}}` and [`status`](Self::status) the HTTP status.
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

impl VariableError {
    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidName { .. } => "invalid_name",
            Self::InvalidAgentId { .. } => "invalid_agent_id",
            Self::NotFound { .. } => "not_found",
            Self::AlreadyExists { .. } => "already_exists",
            Self::Conflict { .. } => "version_conflict",
            Self::VersionRequired { .. } => "version_required",
            Self::Coordinated { .. } => "coordinated",
            Self::OutOfDomain { .. } => "out_of_domain",
            Self::InvalidDomain { .. } => "invalid_domain",
            Self::TooLarge { .. } => "too_large",
            Self::Capacity { .. } => "capacity",
            Self::SubscriberCapacity { .. } => "subscriber_capacity",
            Self::Coordination { .. } => "invalid_coordination",
        }
    }

    /// The HTTP status for this error (per API.md conventions).
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidName { .. }
            | Self::InvalidAgentId { .. }
            | Self::VersionRequired { .. }
            | Self::OutOfDomain { .. }
            | Self::InvalidDomain { .. }
            | Self::Coordination { .. } => 400,
            Self::NotFound { .. } => 404,
            Self::AlreadyExists { .. }
            | Self::Conflict { .. }
            | Self::Coordinated { .. }
            | Self::Capacity { .. }
            | Self::SubscriberCapacity { .. } => 409,
            Self::TooLarge { .. } => 413,
        }
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
    fn codes_statuses_and_messages() {
        let e = VariableError::Conflict {
            name: "x".into(),
            expected: 3,
            actual: 5,
        };
        assert_eq!((e.code(), e.status()), ("version_conflict", 409));
        assert!(e.to_string().contains("retry with version 5"), "{e}");
        let e = VariableError::NotFound { name: "x".into() };
        assert_eq!((e.code(), e.status()), ("not_found", 404));
        assert!(e.to_string().contains("POST /api/variables"));
        let e = VariableError::Capacity { max: 4 };
        assert_eq!((e.code(), e.status()), ("capacity", 409));
        assert!(e.to_string().contains("raise max_variables"));
        let e = VariableError::TooLarge {
            what: "value".into(),
            bytes_max: 10,
        };
        assert_eq!((e.code(), e.status()), ("too_large", 413));
        let e = VariableError::OutOfDomain {
            name: "x".into(),
            reason: "r".into(),
        };
        assert_eq!((e.code(), e.status()), ("out_of_domain", 400));
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
