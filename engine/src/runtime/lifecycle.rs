//! Agents on their owner worker: start, stop, messages, crashes, restarts and
//! health checks. Registry writes go through the worker's own shard writers.

use crate::api::EngineError;
use crate::registry::{AgentRecord, AgentSpec, AgentState, Health};
use crate::runtime::agent::{Agent, AgentContext, AgentStats};
use crate::runtime::command::LifecycleOp;
use crate::runtime::supervisor::{Decision, ExitReason, RestartWindow};
use crate::runtime::worker::Worker;
use crate::telemetry::Counter;
use serde_json::Value;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

/// The running side of one agent, owned by its worker.
pub(crate) struct Live {
    instance: Option<Box<dyn Agent>>,
    window: RestartWindow,
    failed_checks: u32,
    stats: AgentStats,
}

impl Worker {
    pub(crate) fn register(&mut self, mut spec: AgentSpec) -> Result<AgentRecord, EngineError> {
        if !self.shared.kinds.knows(&spec.kind) {
            return Err(EngineError::UnknownKind { kind: spec.kind });
        }
        self.admit_process()?;
        let default = self.shared.config.agent_registry.restart_strategy;
        spec.supervision.strategy.get_or_insert(default);
        let id = spec.id.clone();
        let window =
            RestartWindow::new(spec.supervision.max_restarts, spec.supervision.max_seconds);
        let now = self.now_ms;
        let writer = self.writer_for(&id);
        if let Err(e) = writer.register(spec, now) {
            self.release_processes(1);
            return Err(e.into());
        }
        let record = writer.registry().get(&id).ok_or_else(|| {
            EngineError::Internal(format!("agent {id} vanished after registration"))
        })?;
        self.agents.insert(
            id,
            Live {
                instance: None,
                window,
                failed_checks: 0,
                stats: AgentStats {
                    monitored: self.shared.config.agent_registry.resource_monitoring,
                    ..AgentStats::default()
                },
            },
        );
        self.rec.inc(Counter::AgentsRegistered);
        self.rec.agent_transition(None, Some(record.state.into()));
        Ok(record)
    }

    pub(crate) fn deregister(&mut self, id: &str) -> Result<AgentRecord, EngineError> {
        let record = self.current(id)?;
        if matches!(record.state, AgentState::Running | AgentState::Starting) {
            self.stop_instance(id)?;
        }
        let record = self.writer_for(id).deregister(id)?;
        self.release_processes(1);
        self.agents.remove(id);
        self.rec.inc(Counter::AgentsDeregistered);
        self.rec.agent_transition(Some(record.state.into()), None);
        Ok(record)
    }

    pub(crate) fn lifecycle(
        &mut self,
        id: &str,
        op: LifecycleOp,
    ) -> Result<AgentRecord, EngineError> {
        let record = self.current(id)?;
        match op {
            LifecycleOp::Start => {
                self.check(&record, AgentState::Starting)?;
                self.start_instance(id)
            }
            LifecycleOp::Stop => match record.state {
                AgentState::Running => self.stop_instance(id),
                _ => {
                    self.check(&record, AgentState::Stopped)?;
                    self.set_state(id, AgentState::Stopped)
                }
            },
            LifecycleOp::Restart => {
                if record.state == AgentState::Running {
                    self.stop_instance(id)?;
                } else {
                    self.check(&record, AgentState::Starting)?;
                }
                let now = self.now_ms;
                self.writer_for(id).record_restart(id, now)?;
                self.rec.inc(Counter::AgentsRestarted);
                self.start_instance(id)
            }
        }
    }

    /// Runs the agent's handler on this worker. A panic crashes the agent (its
    /// supervisor decides what follows) and answers the caller with an error.
    pub(crate) fn deliver(&mut self, id: &str, msg: Value) -> Result<Value, EngineError> {
        let record = self.current(id)?;
        if record.state != AgentState::Running {
            return Err(EngineError::AgentNotRunning {
                id: id.to_owned(),
                state: record.state,
            });
        }
        let now = self.now_ms;
        let Some(mut instance) = self.agents.get_mut(id).and_then(|l| l.instance.take()) else {
            return Err(EngineError::AgentNotRunning {
                id: id.to_owned(),
                state: record.state,
            });
        };
        let mut ctx = AgentContext::new(&record, now);
        let monitored = self.shared.config.agent_registry.resource_monitoring;
        let started = monitored.then(Instant::now);
        let result = catch_unwind(AssertUnwindSafe(|| instance.handle(msg, &mut ctx)));
        let stop = ctx.stop_requested();
        if let (Some(started), Some(live)) = (started, self.agents.get_mut(id)) {
            let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            let s = &mut live.stats;
            s.messages += 1;
            s.errors += u64::from(!matches!(result, Ok(Ok(_))));
            s.busy_us = s.busy_us.saturating_add(us);
            s.max_message_us = s.max_message_us.max(us);
        }
        match result {
            Ok(answer) => {
                if stop {
                    instance.terminate(&mut AgentContext::new(&record, now));
                    self.after_exit(id, ExitReason::Normal)?;
                } else if let Some(live) = self.agents.get_mut(id) {
                    live.instance = Some(instance);
                }
                answer.map_err(EngineError::Agent)
            }
            Err(_) => {
                drop(instance);
                self.crashed(id)?;
                Err(EngineError::AgentCrashed { id: id.to_owned() })
            }
        }
    }

    /// Health checks of every running agent: `degraded_threshold` failed checks in
    /// a row make it degraded, `unhealthy_threshold` unhealthy; one good check
    /// makes it healthy again.
    pub(crate) fn check_health(&mut self) {
        let hm = &self.shared.config.health_monitoring;
        let (degraded_at, unhealthy_at, timeout) = (
            hm.degraded_threshold,
            hm.unhealthy_threshold,
            hm.health_check_timeout,
        );
        let ids: Vec<String> = self
            .agents
            .iter()
            .filter(|(_, l)| l.instance.is_some())
            .map(|(id, _)| id.clone())
            .collect();
        let now = self.now_ms;
        for id in ids {
            let Some(record) = self.shared.registry.get(&id) else {
                continue;
            };
            let Some(live) = self.agents.get_mut(&id) else {
                continue;
            };
            let Some(instance) = live.instance.as_mut() else {
                continue;
            };
            let started = Instant::now();
            let mut ctx = AgentContext::new(&record, now);
            let ok = catch_unwind(AssertUnwindSafe(|| instance.health_check(&mut ctx)))
                .unwrap_or(false)
                && started.elapsed() <= timeout;
            live.failed_checks = if ok {
                0
            } else {
                live.failed_checks.saturating_add(1)
            };
            let health = if live.failed_checks == 0 {
                Health::Healthy
            } else if live.failed_checks >= unhealthy_at {
                Health::Unhealthy
            } else if live.failed_checks >= degraded_at {
                Health::Degraded
            } else {
                record.health
            };
            if !ok {
                self.rec.inc(Counter::AgentHealthChecksFailed);
            }
            if health != record.health {
                // The agent cannot vanish between the read above and this write:
                // only this worker writes its shard.
                let _ = self.writer_for(&id).set_health(&id, health);
            }
        }
    }

    /// The worker's measurements of one agent.
    pub(crate) fn agent_stats(&self, id: &str) -> Result<AgentStats, EngineError> {
        self.agents
            .get(id)
            .map(|l| AgentStats {
                failed_checks: l.failed_checks,
                ..l.stats
            })
            .ok_or_else(|| EngineError::NotFound {
                what: "agent",
                id: id.to_owned(),
            })
    }

    /// Stops every running agent (shutdown); returns how many. Agents get
    /// `agent_registry.graceful_shutdown_timeout` in all to terminate; past it
    /// the rest are marked stopped without their `terminate` callback, and the
    /// skip is logged.
    pub(crate) fn stop_all_agents(&mut self) -> u64 {
        let mut ids: Vec<String> = self
            .agents
            .iter()
            .filter(|(_, l)| l.instance.is_some())
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        let deadline = Instant::now() + self.shared.config.agent_registry.graceful_shutdown_timeout;
        let mut n = 0;
        let mut skipped = 0u64;
        for id in ids {
            if Instant::now() >= deadline {
                if let Some(live) = self.agents.get_mut(&id) {
                    live.instance = None;
                }
                let _ = self.set_state(&id, AgentState::Stopping);
                if self.set_state(&id, AgentState::Stopped).is_ok() {
                    n += 1;
                    skipped += 1;
                }
                continue;
            }
            if self.stop_instance(&id).is_ok() {
                n += 1;
            }
        }
        if skipped > 0 {
            tracing::warn!(
                worker = self.index,
                skipped,
                "agent_registry.graceful_shutdown_timeout passed: agents stopped without terminate"
            );
        }
        n
    }

    fn current(&self, id: &str) -> Result<AgentRecord, EngineError> {
        self.shared
            .registry
            .get(id)
            .ok_or_else(|| EngineError::NotFound {
                what: "agent",
                id: id.to_owned(),
            })
    }

    fn check(&self, record: &AgentRecord, to: AgentState) -> Result<(), EngineError> {
        if record.state.can_transition_to(to) {
            Ok(())
        } else {
            Err(crate::registry::RegistryError::InvalidTransition {
                id: record.id().to_owned(),
                from: record.state,
                to,
            }
            .into())
        }
    }

    fn set_state(&mut self, id: &str, to: AgentState) -> Result<AgentRecord, EngineError> {
        let now = self.now_ms;
        let before = self.current(id)?.state;
        let record = self.writer_for(id).transition(id, to, now)?;
        self.rec
            .agent_transition(Some(before.into()), Some(to.into()));
        match to {
            AgentState::Running => self.rec.inc(Counter::AgentsStarted),
            AgentState::Stopped => self.rec.inc(Counter::AgentsStopped),
            AgentState::Failed => self.rec.inc(Counter::AgentsFailed),
            _ => {}
        }
        Ok(record)
    }

    /// `starting` -> build and `init` a fresh instance -> `running`, or a crash.
    fn start_instance(&mut self, id: &str) -> Result<AgentRecord, EngineError> {
        let record = self.set_state(id, AgentState::Starting)?;
        let Some(mut instance) = self.shared.kinds.build(&record) else {
            self.set_state(id, AgentState::Failed)?;
            return Err(EngineError::UnknownKind {
                kind: record.kind().to_owned(),
            });
        };
        let mut ctx = AgentContext::new(&record, self.now_ms);
        let init = catch_unwind(AssertUnwindSafe(|| instance.init(&mut ctx)));
        match init {
            Ok(Ok(())) => {
                if let Some(live) = self.agents.get_mut(id) {
                    live.instance = Some(instance);
                    live.failed_checks = 0;
                }
                self.writer_for(id).set_health(id, Health::Healthy)?;
                self.set_state(id, AgentState::Running)
            }
            Ok(Err(e)) => {
                tracing::warn!(agent = id, error = %e, "agent init failed");
                self.crashed(id)
            }
            Err(_) => {
                tracing::warn!(agent = id, "agent init panicked");
                self.crashed(id)
            }
        }
    }

    /// `running` -> `stopping` -> terminate -> `stopped`.
    fn stop_instance(&mut self, id: &str) -> Result<AgentRecord, EngineError> {
        let record = self.set_state(id, AgentState::Stopping)?;
        if let Some(mut instance) = self.agents.get_mut(id).and_then(|l| l.instance.take()) {
            let mut ctx = AgentContext::new(&record, self.now_ms);
            if catch_unwind(AssertUnwindSafe(|| instance.terminate(&mut ctx))).is_err() {
                tracing::warn!(agent = id, "agent terminate panicked; it is stopped anyway");
            }
        }
        self.set_state(id, AgentState::Stopped)
    }

    /// The agent crashed: mark it failed, then let its supervisor decide.
    fn crashed(&mut self, id: &str) -> Result<AgentRecord, EngineError> {
        let now = self.now_ms;
        if let Some(live) = self.agents.get_mut(id) {
            live.instance = None;
        }
        self.writer_for(id).record_failure(id, now)?;
        self.set_state(id, AgentState::Failed)?;
        self.after_exit(id, ExitReason::Crashed)
    }

    /// After an exit (the agent is `failed` for a crash, or its instance has
    /// terminated normally): restart, stay down, or give up.
    fn after_exit(&mut self, id: &str, reason: ExitReason) -> Result<AgentRecord, EngineError> {
        let record = self.current(id)?;
        let auto = self.shared.config.agent_registry.auto_restart;
        let strategy = record
            .spec
            .supervision
            .strategy_or(self.shared.config.agent_registry.restart_strategy);
        let now = self.now_ms;
        let decision = match self.agents.get_mut(id) {
            Some(live) => live.window.on_exit(strategy, reason, auto, now),
            None => Decision::StayDown,
        };
        if reason == ExitReason::Normal && record.state == AgentState::Running {
            self.set_state(id, AgentState::Stopping)?;
            self.set_state(id, AgentState::Stopped)?;
        }
        match decision {
            Decision::Restart => {
                self.writer_for(id).record_restart(id, now)?;
                self.rec.inc(Counter::AgentsRestarted);
                self.start_instance(id)
            }
            Decision::StayDown => self.current(id),
            Decision::GiveUp => {
                self.rec.inc(Counter::RestartIntensityExceeded);
                tracing::warn!(
                    agent = id,
                    max_restarts = record.spec.supervision.max_restarts,
                    max_seconds = record.spec.supervision.max_seconds,
                    "restart intensity exceeded; the agent stays failed"
                );
                self.current(id)
            }
        }
    }
}
