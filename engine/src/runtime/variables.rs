//! Shared variables on their owner worker, and the delivery of their changes to
//! subscribed agents.
//!
//! A variable's name maps to a shard like an agent id, so one worker owns it and
//! mutates its [`Variables`] store without locks. `core.max_variables` is an
//! engine-wide limit: a create reserves one unit of an atomic count first (and
//! gives it back if the create fails); a remove releases it.
//!
//! A write appends one delivery per subscriber. Each goes to the subscriber's
//! owner worker as a fire-and-forget `Deliver` command (delivered at once when
//! this worker owns the subscriber too) and is handled there as a message
//! `{"event":"variable_changed","name","version","value","agent_id","at"}`. A
//! delivery refused by a full inbox is dropped, counted (`deliveries_dropped`,
//! and the runtime's inbox-full counter) and logged: visible, never silent.

use crate::api::EngineError;
use crate::runtime::command::{Answer, Command};
use crate::runtime::inbox::SubmitError;
use crate::runtime::shared::LiveCounters;
use crate::runtime::worker::Worker;
use crate::telemetry::{Outcome, Protocol, RejectReason};
use crate::variables::{
    Change, CoordinateRequest, CoordinateResponse, CreateRequest, Delivery, HistoryResponse,
    UpdateRequest, VariableError, VariableInfo, VariableResponse, VariableSettings, Variables,
};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A shared-variable command for the variable's owner worker.
pub(crate) enum VariableCmd {
    Create {
        req: Box<CreateRequest>,
        reply: Answer<VariableResponse>,
    },
    Get {
        name: String,
        reply: Answer<VariableInfo>,
    },
    Update {
        name: String,
        req: Box<UpdateRequest>,
        reply: Answer<VariableResponse>,
    },
    History {
        name: String,
        limit: Option<usize>,
        reply: Answer<HistoryResponse>,
    },
    Coordinate {
        name: String,
        req: Box<CoordinateRequest>,
        reply: Answer<CoordinateResponse>,
    },
    Subscribe {
        name: String,
        agent_id: String,
        subscribe: bool,
        reply: Answer<bool>,
    },
    Remove {
        name: String,
        reply: Answer<()>,
    },
}

/// The worker's variables and its reusable delivery buffer.
pub(crate) struct VarState {
    store: Variables,
    outbox: Vec<Delivery>,
    last_drop_log: Option<Instant>,
}

impl VarState {
    pub(crate) fn new(cfg: &crate::profile::Config) -> Result<Self, EngineError> {
        let settings = VariableSettings {
            // The engine-wide count enforces core.max_variables; each store may
            // hold up to all of them.
            max_variables: cfg.core.max_variables.clamp(1, 1 << 24),
            history_retention: cfg.core.history_retention.clamp(1, 1 << 20),
            ..VariableSettings::default()
        };
        let store = Variables::new(settings)
            .map_err(|e| EngineError::Start(format!("variable store: {e}")))?;
        Ok(Self {
            store,
            outbox: Vec::new(),
            last_drop_log: None,
        })
    }
}

fn not_found(name: &str) -> EngineError {
    VariableError::NotFound {
        name: name.to_owned(),
    }
    .into()
}

impl Worker {
    pub(crate) fn variable_command(&mut self, cmd: VariableCmd) {
        let now = self.now_ms;
        match cmd {
            VariableCmd::Create { req, reply } => reply.send(self.create_variable(*req)),
            VariableCmd::Get { name, reply } => reply.send(
                self.vars
                    .store
                    .get(&name)
                    .map(|v| v.to_info())
                    .ok_or_else(|| not_found(&name)),
            ),
            VariableCmd::Update { name, req, reply } => {
                let r = self.admit_growth().and_then(|()| {
                    let vars = &mut self.vars;
                    vars.store
                        .update(&name, *req, now, &mut vars.outbox)
                        .map_err(Into::into)
                });
                reply.send(r);
                self.send_deliveries();
            }
            VariableCmd::History { name, limit, reply } => {
                let limit = limit.unwrap_or(usize::MAX);
                reply.send(self.vars.store.history(&name, limit).map_err(Into::into));
            }
            VariableCmd::Coordinate { name, req, reply } => {
                if let Err(e) = self.admit_growth() {
                    reply.send(Err(e));
                    return;
                }
                let started = Instant::now();
                let vars = &mut self.vars;
                let r = vars.store.coordinate(&name, *req, now, &mut vars.outbox);
                let outcome = if r.is_ok() {
                    Outcome::Success
                } else {
                    Outcome::Failure
                };
                if self.shared.config.coordination_metrics_on() {
                    self.rec.record_coordination(
                        Protocol::Variable,
                        outcome,
                        started.elapsed(),
                        None,
                    );
                }
                reply.send(r.map_err(Into::into));
                self.send_deliveries();
            }
            VariableCmd::Subscribe {
                name,
                agent_id,
                subscribe,
                reply,
            } => {
                let r = if subscribe {
                    if let Err(e) = self.admit_growth() {
                        reply.send(Err(e));
                        return;
                    }
                    self.vars.store.subscribe(&name, &agent_id)
                } else {
                    self.vars.store.unsubscribe(&name, &agent_id)
                };
                reply.send(r.map_err(Into::into));
            }
            VariableCmd::Remove { name, reply } => {
                let r = self.vars.store.remove(&name);
                if r.is_ok() {
                    LiveCounters::release(&self.shared.live.variables_held, 1);
                }
                reply.send(r.map_err(Into::into));
            }
        }
    }

    /// Memory admission and the engine-wide `core.max_variables`, then the create.
    fn create_variable(&mut self, req: CreateRequest) -> Result<VariableResponse, EngineError> {
        self.admit_growth()?;
        let max = self.shared.config.core.max_variables;
        let held = &self.shared.live.variables_held;
        if !LiveCounters::reserve(held, max) {
            self.rec.record_rejection(RejectReason::Capacity);
            return Err(VariableError::Capacity { max }.into());
        }
        let r = self.vars.store.create(req, self.now_ms);
        if r.is_err() {
            LiveCounters::release(held, 1);
        }
        r.map_err(Into::into)
    }

    /// Sends the deliveries the last write produced to their agents' workers.
    fn send_deliveries(&mut self) {
        if self.vars.outbox.is_empty() {
            return;
        }
        let mut outbox = std::mem::take(&mut self.vars.outbox);
        for Delivery { to, change } in outbox.drain(..) {
            let owner = self.shared.worker_of(&to);
            if owner == self.index {
                self.deliver_change(&to, &change);
                continue;
            }
            let cmd = Command::Deliver {
                to: Arc::clone(&to),
                change,
            };
            match self.shared.inboxes[owner].push(cmd) {
                Ok(()) => {}
                Err(e) => {
                    let full = matches!(e, SubmitError::Full(_));
                    self.delivery_dropped(&to, owner, full);
                }
            }
        }
        // Keep the buffer's capacity for the next write.
        self.vars.outbox = outbox;
    }

    fn delivery_dropped(&mut self, to: &str, owner: usize, full: bool) {
        self.shared
            .live
            .deliveries_dropped
            .fetch_add(1, Ordering::Relaxed);
        if full {
            self.rec.record_inbox_full();
        }
        let now = Instant::now();
        if self
            .vars
            .last_drop_log
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            self.vars.last_drop_log = Some(now);
            tracing::warn!(
                agent = to,
                worker = owner,
                inbox_full = full,
                "variable change dropped: the subscriber's worker refused it; counted in deliveries_dropped"
            );
        }
    }

    /// Hands a change to a subscribed agent on this worker.
    pub(crate) fn deliver_change(&mut self, to: &str, change: &Change) {
        let mut msg = serde_json::to_value(change).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut msg {
            map.insert("event".into(), Value::from("variable_changed"));
        }
        let shared = Arc::clone(&self.shared);
        let live = &shared.live;
        match self.deliver(to, msg) {
            Ok(_) => live.deliveries_sent.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                tracing::debug!(agent = to, error = %e, "variable change not taken by its subscriber");
                live.deliveries_refused.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}
