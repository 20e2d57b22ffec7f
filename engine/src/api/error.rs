//! The embedding API's error: one type for every engine operation, each variant
//! with a stable snake_case code (the HTTP layer's `error.code`) and a status.

use crate::coord::CoordError;
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

impl EngineError {
    /// A stable snake_case code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Registry(e) => e.code(),
            EngineError::NotFound { .. } => "not_found",
            EngineError::UnknownKind { .. } => "unknown_kind",
            EngineError::AgentNotRunning { .. } => "agent_not_running",
            EngineError::Agent(_) => "agent_error",
            EngineError::AgentCrashed { .. } => "agent_crashed",
            EngineError::Overloaded { .. } | EngineError::PoolBusy { .. } => "overloaded",
            EngineError::ShuttingDown => "shutting_down",
            EngineError::Canceled(_) => "canceled",
            EngineError::Timeout { .. } => "timeout",
            EngineError::CoordinationTimeout { .. } => "coordination_timeout",
            EngineError::OverMemory { .. } => "memory_limit",
            EngineError::ProcessLimit { .. } => "process_limit",
            EngineError::Coord(e) => e.code(),
            EngineError::Variable(e) => e.code(),
            EngineError::Session(e) => e.code(),
            EngineError::Profile(_) => "invalid_profile",
            EngineError::Disabled { .. } => "disabled",
            EngineError::InvalidInput(_) => "invalid_input",
            EngineError::Start(_) => "start_failed",
            EngineError::Internal(_) => "internal",
        }
    }

    /// The HTTP status this error maps to.
    pub fn status(&self) -> u16 {
        match self {
            EngineError::Registry(e) => match e {
                RegistryError::NotFound { .. } => 404,
                RegistryError::AlreadyExists { .. }
                | RegistryError::InvalidTransition { .. }
                | RegistryError::Capacity { .. } => 409,
                _ => 400,
            },
            EngineError::NotFound { .. } => 404,
            EngineError::UnknownKind { .. } => 400,
            EngineError::AgentNotRunning { .. } => 409,
            EngineError::Agent(_) => 422,
            EngineError::AgentCrashed { .. } => 500,
            EngineError::Overloaded { .. }
            | EngineError::PoolBusy { .. }
            | EngineError::ShuttingDown
            | EngineError::Canceled(_)
            | EngineError::OverMemory { .. }
            | EngineError::ProcessLimit { .. } => 503,
            EngineError::Timeout { .. } | EngineError::CoordinationTimeout { .. } => 504,
            EngineError::Coord(_) => 400,
            EngineError::Variable(e) => e.status(),
            EngineError::Session(e) => e.status(),
            EngineError::Profile(_) => 400,
            EngineError::Disabled { .. } => 404,
            EngineError::InvalidInput(_) => 400,
            EngineError::Start(_) | EngineError::Internal(_) => 500,
        }
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            EngineError::Overloaded { .. }
                | EngineError::PoolBusy { .. }
                | EngineError::Timeout { .. }
                | EngineError::OverMemory { .. }
                | EngineError::ProcessLimit { .. }
                | EngineError::Session(SessionError::TooManySessions { .. })
        )
    }
}
