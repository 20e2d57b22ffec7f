//! What travels through a worker's inbox.

use crate::api::EngineError;
use crate::registry::{AgentRecord, AgentSpec};
use crate::runtime::reply::ReplySender;
use crate::runtime::sessions::SessionCmd;
use crate::runtime::variables::VariableCmd;
use crate::variables::Change;
use serde_json::Value;
use std::sync::Arc;

/// A reply to a command: the value or the engine's typed error.
pub(crate) type Answer<T> = ReplySender<Result<T, EngineError>>;

/// A lifecycle operation on one agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleOp {
    /// `registered`/`stopped`/`failed` -> `running` (through `starting`).
    Start,
    /// `running` -> `stopped` (through `stopping`); `registered`/`failed` -> `stopped`.
    Stop,
    /// Stop if running, then start a fresh instance.
    Restart,
}

/// One command for the worker that owns the shard of its key.
pub(crate) enum Command {
    Register {
        spec: AgentSpec,
        reply: Answer<AgentRecord>,
    },
    Deregister {
        id: String,
        reply: Answer<AgentRecord>,
    },
    Lifecycle {
        id: String,
        op: LifecycleOp,
        reply: Answer<AgentRecord>,
    },
    Send {
        id: String,
        msg: Value,
        reply: Answer<Value>,
    },
    /// The worker's measurements of one agent.
    AgentStats {
        id: String,
        reply: Answer<crate::runtime::agent::AgentStats>,
    },
    /// A round trip that does nothing: answers the worker's index.
    Ping { reply: Answer<usize> },
    /// A live-session command (auctions, markets, consensus rounds).
    Session(SessionCmd),
    /// A shared-variable command.
    Variable(VariableCmd),
    /// A variable change for a subscribed agent owned by this worker:
    /// fire-and-forget (no reply; counted in the delivery statistics).
    Deliver { to: Arc<str>, change: Change },
}
