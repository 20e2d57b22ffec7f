//! One worker thread: drains its inbox in batches, owns its shards, runs its
//! agents, keeps its timers. See `runtime/README.md` for the tick.

use crate::api::EngineError;
use crate::registry::ShardWriter;
use crate::runtime::command::Command;
use crate::runtime::lifecycle::Live;
use crate::runtime::sessions::LiveState;
use crate::runtime::shared::{Shared, unix_ms};
use crate::runtime::variables::VarState;
use crate::telemetry::Recorder;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How soon an idle worker with retired records still unfreed wakes to flush.
const RECLAIM_RETRY: Duration = Duration::from_millis(10);

/// What a worker reports when its thread ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerExit {
    /// The worker's index.
    pub worker: usize,
    /// Commands it answered while draining for shutdown.
    pub drained: u64,
    /// Commands it dropped unanswered after the hard-stop deadline (their
    /// callers saw `Canceled`).
    pub abandoned: u64,
    /// Agents it stopped on the way out.
    pub agents_stopped: u64,
}

pub(crate) struct Worker {
    pub(crate) index: usize,
    pub(crate) shared: Arc<Shared>,
    /// The shards this worker owns: global shard `s` is `writers[s / workers]`.
    pub(crate) writers: Vec<ShardWriter>,
    /// The running side of this worker's agents, by id.
    pub(crate) agents: HashMap<String, Live>,
    pub(crate) rec: Recorder,
    pub(crate) now_ms: u64,
    /// Live sessions this worker owns (`runtime/sessions.rs`).
    pub(crate) live: LiveState,
    /// Shared variables this worker owns (`runtime/variables.rs`).
    pub(crate) vars: VarState,
    next_health: Instant,
    next_gc: Instant,
    last_stall_log: Option<Instant>,
    /// Worker 0 only: engine-wide health evaluation and telemetry export.
    pub(crate) engine_timers: Option<crate::runtime::watch::EngineTimers>,
}

impl Worker {
    pub(crate) fn new(
        index: usize,
        shared: Arc<Shared>,
        writers: Vec<ShardWriter>,
        rec: Recorder,
    ) -> Result<Self, EngineError> {
        let now = Instant::now();
        let cfg = &shared.config;
        let live = LiveState::new(cfg, &shared.limits);
        let vars = VarState::new(cfg)?;
        let engine_timers =
            (index == 0).then(|| crate::runtime::watch::EngineTimers::new(cfg, now));
        Ok(Self {
            index,
            next_health: now + cfg.agent_registry.health_check_interval,
            next_gc: now + cfg.performance.gc_frequency,
            shared,
            writers,
            agents: HashMap::new(),
            rec,
            now_ms: unix_ms(),
            live,
            vars,
            last_stall_log: None,
            engine_timers,
        })
    }

    /// The writer of the shard that owns `id`.
    pub(crate) fn writer_for(&mut self, id: &str) -> &mut ShardWriter {
        let shard = self.shared.registry.shard_of(id);
        let local = shard / self.shared.workers();
        &mut self.writers[local]
    }

    /// The worker loop; returns when the engine shuts down.
    pub(crate) fn run(mut self) -> WorkerExit {
        let shared = Arc::clone(&self.shared);
        let inbox = &shared.inboxes[self.index];
        inbox.register_consumer();
        let cfg = &shared.config.engine;
        let budget = cfg.tick_budget_us;
        let spin = cfg.idle_spin_us;
        let batch_max = cfg.batch_max.max(1);
        let mut exit = WorkerExit {
            worker: self.index,
            ..WorkerExit::default()
        };
        let mut idle_since: Option<Instant> = None;
        loop {
            let seen = inbox.epoch();
            let tick_start = Instant::now();
            self.now_ms = unix_ms();
            let draining = shared.draining.load(Ordering::Acquire);
            let mut handled = 0u64;
            while handled < batch_max as u64 {
                if shared.hard_stop.load(Ordering::Acquire) {
                    break;
                }
                let Some(cmd) = inbox.pop() else { break };
                self.execute(cmd);
                handled += 1;
            }
            if draining {
                exit.drained += handled;
            }
            self.run_timers(tick_start);
            self.session_tick(tick_start);
            let elapsed = tick_start.elapsed();
            if handled > 0 {
                let stalled = elapsed > budget;
                self.rec.record_tick(elapsed, handled, stalled);
                if stalled {
                    self.log_stall(elapsed, handled, budget);
                }
            }
            shared.status[self.index].beat(self.now_ms);
            self.rec.set_inbox_depth(inbox.len());
            self.rec.tick(self.now_ms);

            if shared.hard_stop.load(Ordering::Acquire) {
                while let Some(cmd) = inbox.pop() {
                    drop(cmd);
                    exit.abandoned += 1;
                }
                break;
            }
            if draining && inbox.is_empty() && self.live.quiet() {
                break;
            }
            if handled > 0 {
                idle_since = None;
                continue;
            }
            match idle_since {
                None => idle_since = Some(tick_start),
                Some(since) if tick_start.duration_since(since) < spin => {
                    // Wait for a command without the tick's bookkeeping, up to
                    // the next timer or the end of the spin window.
                    let until = (since + spin).min(self.next_timer());
                    spin_until(|| !inbox.is_empty(), until);
                }
                Some(_) => {
                    for w in &mut self.writers {
                        w.flush();
                    }
                    let backlog = shared.registry.retired_backlog() as u64;
                    self.rec.set_reclaim_backlog(backlog);
                    self.rec.record_park();
                    let mut timeout = self.next_timer().saturating_duration_since(Instant::now());
                    if backlog > 0 {
                        // Retired records are freed only as epochs advance: come
                        // back soon to flush again, so the backlog drains at rest.
                        timeout = timeout.min(RECLAIM_RETRY);
                    }
                    let status = &shared.status[self.index];
                    status.parked.store(true, Ordering::Release);
                    inbox.park(seen, Some(timeout.max(Duration::from_millis(1))));
                    status.parked.store(false, Ordering::Release);
                    idle_since = None;
                }
            }
        }
        self.fail_session_waiters();
        exit.agents_stopped = self.stop_all_agents();
        for w in &mut self.writers {
            w.flush();
        }
        self.rec.flush_blocking();
        exit
    }

    fn execute(&mut self, cmd: Command) {
        match cmd {
            Command::Register { spec, reply } => reply.send(self.register(spec)),
            Command::Deregister { id, reply } => reply.send(self.deregister(&id)),
            Command::Lifecycle { id, op, reply } => reply.send(self.lifecycle(&id, op)),
            Command::Send { id, msg, reply } => reply.send(self.deliver(&id, msg)),
            Command::Ping { reply } => reply.send(Ok(self.index)),
            Command::AgentStats { id, reply } => reply.send(self.agent_stats(&id)),
            Command::Session(cmd) => self.session_command(cmd),
            Command::Variable(cmd) => self.variable_command(cmd),
            Command::Deliver { to, change } => self.deliver_change(&to, &change),
        }
    }

    fn next_timer(&self) -> Instant {
        let now = Instant::now();
        let t = self
            .next_health
            .min(self.next_gc)
            .min(self.session_next_timer(now));
        match &self.engine_timers {
            Some(e) => t.min(e.next_check).min(e.next_export),
            None => t,
        }
    }

    fn run_timers(&mut self, now: Instant) {
        let health_every = self.shared.config.agent_registry.health_check_interval;
        let gc_every = self.shared.config.performance.gc_frequency;
        if now >= self.next_health {
            self.next_health = now + health_every;
            self.check_health();
        }
        if self.index == 0 {
            self.engine_timers(now);
        }
        if now >= self.next_gc {
            self.next_gc = now + gc_every;
            let started = Instant::now();
            self.sweep();
            self.rec.record_sweep(started.elapsed());
        }
    }

    /// The maintenance sweep ("GC"): hand retired registry records to the
    /// reclaimer; worker 0 also lets telemetry drop what is past its retention.
    /// (Memory is sampled by the engine's memory sampler, `runtime/sampler.rs`.)
    fn sweep(&mut self) {
        for w in &mut self.writers {
            w.flush();
        }
        // The backlog is summed over every shard (other cores' cache lines): read
        // it here and when parking, not on every tick.
        let backlog = self.shared.registry.retired_backlog() as u64;
        self.rec.set_reclaim_backlog(backlog);
        if self.index == 0 {
            self.shared.telemetry.cleanup_if_due(self.now_ms);
        }
    }

    fn log_stall(&mut self, elapsed: Duration, handled: u64, budget: Duration) {
        let now = Instant::now();
        if self
            .last_stall_log
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            self.last_stall_log = Some(now);
            tracing::warn!(
                worker = self.index,
                tick_us = elapsed.as_micros() as u64,
                budget_us = budget.as_micros() as u64,
                commands = handled,
                "worker tick over its budget (engine.tick_budget_us); counted in mabeam_runtime_stalls_total"
            );
        }
    }
}

/// Spins (yielding now and then, so an oversubscribed machine still makes
/// progress) until `ready` holds or `until` passes.
fn spin_until(ready: impl Fn() -> bool, until: Instant) {
    let mut i: u32 = 0;
    loop {
        if ready() {
            return;
        }
        std::hint::spin_loop();
        i = i.wrapping_add(1);
        if i.is_multiple_of(64) {
            if Instant::now() >= until {
                return;
            }
            if i.is_multiple_of(1024) {
                std::thread::yield_now();
            }
        }
    }
}
