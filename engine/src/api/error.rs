//! The embedding API's error: one type for every engine operation, each variant
//! described once in the engine's error vocabulary (code, class, retry hint; see
//! [`crate::error`]). The transport picks its answer from the class alone
//! ([`http_status`](super::http_status)).

use crate::coord::CoordError;
use crate::error::{Describe, Description, ErrorClass, Retry};
use crate::profile::ProfileError;
use crate::registry::{AgentState, RegistryError};
use crate::runtime::agent::AgentError;
use crate::runtime::reply::Canceled;
use crate::session::SessionError;
use crate::variables::VariableError;

/// An engine operation failed. Nothing was changed unless the variant says so.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// A registry refusal (capacity, id taken, unknown id, invalid transition or spec).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// No such resource.
    #[error("no {what} with id {id:?}; check the id (ids are case-sensitive)")]
    NotFound {
        /// What was looked for (`agent`, `variable`, ...).
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// No behaviour is registered for this agent kind (the engine was built
    /// with strict kinds).
    #[error("no agent behaviour for kind {kind:?}; register the kind with EngineBuilder::kind")]
    UnknownKind {
        /// The kind asked for.
        kind: String,
    },
    /// The agent must be running for this.
    #[error("agent {id:?} is {state}, not running; start it first")]
    AgentNotRunning {
        /// The agent.
        id: String,
        /// Its state.
        state: AgentState,
    },
    /// The agent's handler answered with an error.
    #[error("agent error ({}): {}", .0.code, .0.message)]
    Agent(AgentError),
    /// The agent panicked while handling the message; its supervisor has acted.
    #[error(
        "agent {id:?} crashed while handling the message; its supervisor decides whether it restarts"
    )]
    AgentCrashed {
        /// The agent.
        id: String,
    },
    /// The owning worker's inbox is full. Retry after a short back-off.
    #[error(
        "worker {worker} is overloaded (its inbox is at engine.inbox_depth_max); retry shortly"
    )]
    Overloaded {
        /// The worker whose inbox was full.
        worker: usize,
    },
    /// The engine is shutting down.
    #[error("the engine is shutting down and accepts no new work")]
    ShuttingDown,
    /// The command was dropped unanswered (the engine stopped hard).
    #[error(transparent)]
    Canceled(#[from] Canceled),
    /// No answer within the caller's timeout. The command may still run.
    #[error("no answer within {ms} ms; the command may still complete")]
    Timeout {
        /// The timeout that passed.
        ms: u64,
    },
    /// The clearing pool holds its limit of clearings in flight
    /// (`concurrency.coordination_pool_size`). Retry after a short back-off.
    #[error(
        "the clearing pool has its limit of {max} clearings in flight (concurrency.coordination_pool_size); retry shortly"
    )]
    PoolBusy {
        /// The limit.
        max: usize,
    },
    /// A one-shot coordination did not clear within `coordination.default_timeout`; it
    /// was stopped (nothing of it remains running).
    #[error(
        "the coordination did not clear within {ms} ms (coordination.default_timeout) and was stopped; send fewer bids or items, lower coordination.combinatorial_node_limit, or raise the timeout"
    )]
    CoordinationTimeout {
        /// The deadline that passed.
        ms: u64,
    },
    /// Process memory is over `performance.memory_limit_mb` (by the last sample):
    /// every write that grows state is refused while reads, deletes and closes
    /// continue. Code `memory_limit`.
    #[error(
        "memory is over performance.memory_limit_mb ({limit_mb} MiB): writes that grow state are refused until it drops; retry later, delete agents, variables or sessions, or raise the limit"
    )]
    OverMemory {
        /// The limit.
        limit_mb: u64,
    },
    /// The node holds `performance.process_limit` live agents plus live sessions:
    /// a registration or session open is refused until one goes away.
    #[error(
        "the node holds performance.process_limit ({limit}) live agents plus live sessions: deregister agents or close sessions, retry later, or raise the limit"
    )]
    ProcessLimit {
        /// The limit.
        limit: usize,
    },
    /// A coordination request was invalid.
    #[error(transparent)]
    Coord(#[from] CoordError),
    /// A shared-variable operation was refused.
    #[error(transparent)]
    Variable(#[from] VariableError),
    /// A live-session operation (auction, market, consensus round) was refused.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The profile is invalid.
    #[error(transparent)]
    Profile(#[from] std::sync::Arc<ProfileError>),
    /// A feature switched off in the profile.
    #[error("{what} is switched off in the profile")]
    Disabled {
        /// What is off, and the key that turns it on.
        what: &'static str,
    },
    /// An argument was invalid (for example an unknown protocol name).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The engine could not start (threads, pools, telemetry).
    #[error("the engine could not start: {0}")]
    Start(String),
    /// An internal invariant failed; this is a bug, please report it.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Describe for EngineError {
    /// Module errors describe themselves; the engine's own conditions are described here.
    fn describe(&self) -> Description {
        use ErrorClass::{
            Conflict, Internal, Invalid, NotFound, Overloaded, Rejected, Timeout, Unavailable,
        };
        match self {
            EngineError::Registry(e) => e.describe(),
            EngineError::NotFound { .. } => Description::fixed("not_found", NotFound),
            EngineError::UnknownKind { .. } => Description::fixed("unknown_kind", Invalid),
            EngineError::AgentNotRunning { .. } => {
                Description::fixed("agent_not_running", Conflict)
            }
            EngineError::Agent(_) => Description::fixed("agent_error", Rejected),
            EngineError::AgentCrashed { .. } => Description::fixed("agent_crashed", Internal),
            EngineError::Overloaded { .. } | EngineError::PoolBusy { .. } => {
                Description::transient("overloaded", Overloaded)
            }
            EngineError::ShuttingDown => Description::fixed("shutting_down", Unavailable),
            EngineError::Canceled(_) => Description::fixed("canceled", Unavailable),
            EngineError::Timeout { .. } => Description::transient("timeout", Timeout),
            EngineError::CoordinationTimeout { .. } => {
                Description::fixed("coordination_timeout", Timeout)
            }
            EngineError::OverMemory { .. } => Description::transient("memory_limit", Overloaded),
            EngineError::ProcessLimit { .. } => Description::transient("process_limit", Overloaded),
            EngineError::Coord(e) => e.describe(),
            EngineError::Variable(e) => e.describe(),
            EngineError::Session(e) => e.describe(),
            EngineError::Profile(_) => Description::fixed("invalid_profile", Invalid),
            EngineError::Disabled { .. } => Description::fixed("disabled", NotFound),
            EngineError::InvalidInput(_) => Description::fixed("invalid_input", Invalid),
            EngineError::Start(_) => Description::fixed("start_failed", Internal),
            EngineError::Internal(_) => Description::fixed("internal", Internal),
        }
    }
}

impl EngineError {
    /// A stable snake_case code for this error (see [`Describe`]).
    pub fn code(&self) -> &'static str {
        self.describe().code
    }

    /// The class a transport answers by (see [`Describe`]).
    pub fn class(&self) -> ErrorClass {
        self.describe().class
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.describe().retry == Retry::Later
    }

    /// A command refused by a worker's inbox: full (`overloaded`, retry later) or closed
    /// (`shutting_down`). The one place a submit refusal becomes an error.
    pub(crate) fn refused<C>(e: &crate::runtime::inbox::SubmitError<C>, worker: usize) -> Self {
        match e {
            crate::runtime::inbox::SubmitError::Full(_) => EngineError::Overloaded { worker },
            crate::runtime::inbox::SubmitError::ShuttingDown(_) => EngineError::ShuttingDown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::http_status;
    use crate::runtime::agent::AgentError;
    use crate::variables::coordinate::CoordinationError;
    use std::collections::HashMap;

    /// One error of every variant of every module error (the profile's own error aside:
    /// it is always `invalid_profile`), as the API hands them out.
    fn every_error() -> Vec<EngineError> {
        let s = || "x".to_owned();
        let coord = [
            CoordError::Malformed { message: s() },
            CoordError::MissingField {
                field: s(),
                hint: "h",
            },
            CoordError::FieldNotAllowed {
                field: s(),
                hint: "h",
            },
            CoordError::InvalidId {
                field: s(),
                value: s(),
            },
            CoordError::InvalidAmount {
                field: s(),
                value: s(),
                hint: "h",
            },
            CoordError::InvalidQuantity { field: s() },
            CoordError::InvalidParameter {
                field: s(),
                hint: s(),
            },
            CoordError::DuplicateAgent {
                field: s(),
                agent_id: s(),
            },
            CoordError::UnknownItem {
                field: s(),
                item: s(),
            },
            CoordError::TooMany {
                field: s(),
                count: 2,
                max: 1,
            },
            CoordError::WeightCapExceeded {
                field: s(),
                agent_id: s(),
                cap: 1.0,
            },
            CoordError::Overflow { what: "w" },
            CoordError::BookFull { capacity: 1 },
            CoordError::UnknownOrder { order_id: 1 },
            CoordError::Pool { message: s() },
            CoordError::Cancelled,
        ];
        let session = [
            SessionError::NotFound {
                what: "market",
                id: s(),
            },
            SessionError::AlreadyExists { id: s() },
            SessionError::TooManySessions { max: 1 },
            SessionError::NotOpen {
                id: s(),
                state: "closed",
                what: "bids",
            },
            SessionError::Full {
                id: s(),
                max: 1,
                what: "bids",
                setting: "k",
            },
            SessionError::Duplicate {
                id: s(),
                agent_id: s(),
            },
            SessionError::KeyReused { id: s(), key: s() },
            SessionError::KeysExhausted { id: s(), max: 1 },
            SessionError::InvalidKey,
            SessionError::WrongKind {
                id: s(),
                kind: "call",
                hint: "h",
            },
        ];
        let variable = [
            VariableError::InvalidName {
                name: s(),
                reason: s(),
            },
            VariableError::InvalidAgentId {
                agent_id: s(),
                reason: s(),
            },
            VariableError::NotFound { name: s() },
            VariableError::AlreadyExists { name: s() },
            VariableError::Conflict {
                name: s(),
                expected: 1,
                actual: 2,
            },
            VariableError::VersionRequired {
                name: s(),
                actual: 1,
            },
            VariableError::Coordinated { name: s() },
            VariableError::OutOfDomain {
                name: s(),
                reason: s(),
            },
            VariableError::InvalidDomain { reason: s() },
            VariableError::TooLarge {
                what: s(),
                bytes_max: 1,
            },
            VariableError::Capacity { max: 1 },
            VariableError::SubscriberCapacity { name: s(), max: 1 },
            VariableError::Coordination {
                name: s(),
                source: CoordinationError::Empty("votes"),
            },
        ];
        let registry = [
            RegistryError::Capacity { max: 1 },
            RegistryError::AlreadyExists { id: s() },
            RegistryError::NotFound { id: s() },
            RegistryError::InvalidTransition {
                id: s(),
                from: AgentState::Registered,
                to: AgentState::Registered,
            },
            RegistryError::InvalidId {
                id: s(),
                reason: s(),
            },
            RegistryError::InvalidSpec {
                field: s(),
                reason: s(),
            },
            RegistryError::WrongShard {
                id: s(),
                shard: 0,
                owner: 1,
            },
            RegistryError::InvalidConfig { reason: s() },
        ];
        let own = [
            EngineError::NotFound {
                what: "agent",
                id: s(),
            },
            EngineError::UnknownKind { kind: s() },
            EngineError::AgentNotRunning {
                id: s(),
                state: AgentState::Registered,
            },
            EngineError::Agent(AgentError {
                code: s(),
                message: s(),
            }),
            EngineError::AgentCrashed { id: s() },
            EngineError::Overloaded { worker: 0 },
            EngineError::ShuttingDown,
            EngineError::Canceled(Canceled),
            EngineError::Timeout { ms: 1 },
            EngineError::PoolBusy { max: 1 },
            EngineError::CoordinationTimeout { ms: 1 },
            EngineError::OverMemory { limit_mb: 1 },
            EngineError::ProcessLimit { limit: 1 },
            EngineError::Disabled { what: "w" },
            EngineError::InvalidInput(s()),
            EngineError::Start(s()),
            EngineError::Internal(s()),
        ];
        let mut all: Vec<EngineError> = own.into();
        all.extend(coord.iter().cloned().map(EngineError::Coord));
        all.extend(
            coord
                .into_iter()
                .map(|e| EngineError::Session(SessionError::Invalid(e))),
        );
        all.extend(session.into_iter().map(EngineError::Session));
        all.extend(variable.into_iter().map(EngineError::Variable));
        all.extend(registry.into_iter().map(EngineError::Registry));
        all
    }

    #[test]
    fn every_code_means_one_class_and_retry_hint_and_every_class_has_a_status() {
        let mut meaning: HashMap<&'static str, (ErrorClass, Retry)> = HashMap::new();
        for e in every_error() {
            let d = e.describe();
            assert!(
                !d.code.is_empty() && d.code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "code {:?} is not snake_case",
                d.code
            );
            let seen = *meaning.entry(d.code).or_insert((d.class, d.retry));
            assert_eq!(
                seen,
                (d.class, d.retry),
                "code {:?} has two meanings ({e:?})",
                d.code
            );
            assert_eq!(e.code(), d.code);
            assert_eq!(e.is_retryable(), d.retry == Retry::Later);
            let status = http_status(d.class);
            assert!((400..600).contains(&status), "{e:?} -> {status}");
        }
        for class in ErrorClass::ALL {
            assert!((400..600).contains(&http_status(class)), "{class:?}");
        }
    }

    /// The cases the four old per-module tables disagreed on, answered once.
    #[test]
    fn formerly_disagreeing_cases_have_one_answer() {
        let book_full = CoordError::BookFull { capacity: 4 };
        let direct = book_full.describe();
        let in_engine = EngineError::Coord(book_full.clone()).describe();
        let in_session = EngineError::Session(SessionError::Invalid(book_full)).describe();
        assert_eq!(direct, in_engine);
        assert_eq!(direct, in_session);
        assert_eq!(
            (direct.class, direct.retry),
            (ErrorClass::Conflict, Retry::Later)
        );
        assert_eq!(http_status(direct.class), 409);
        let pool = EngineError::Coord(CoordError::Pool {
            message: "m".into(),
        });
        assert_eq!(
            (pool.code(), http_status(pool.class())),
            ("pool_unavailable", 503)
        );
        let cancelled = EngineError::Session(SessionError::Invalid(CoordError::Cancelled));
        assert_eq!(
            (cancelled.code(), http_status(cancelled.class())),
            ("cancelled", 503)
        );
    }
}
