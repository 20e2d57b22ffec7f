//! Starting and stopping an engine.

use crate::api::{EngineError, Handle};
use crate::coord::{ClearingPool, Limits};
use crate::profile::Config;
use crate::registry::Registry;
use crate::runtime::affinity;
use crate::runtime::agent::{Agent, AgentKinds};
use crate::runtime::inbox::Inbox;
use crate::runtime::sampler::MemorySampler;
use crate::runtime::shared::{Shared, WorkerStatus, unix_ms};
use crate::runtime::worker::{Worker, WorkerExit};
use crate::telemetry::{Telemetry, TelemetrySettings};
use crossbeam_utils::CachePadded;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Builds an [`Engine`]: a validated [`Config`] plus the agent kinds it runs.
#[derive(Debug)]
pub struct EngineBuilder {
    config: Config,
    kinds: AgentKinds,
}

impl EngineBuilder {
    /// Adds the behaviour of agents of `kind`.
    pub fn kind<F, A>(mut self, kind: impl Into<String>, factory: F) -> Self
    where
        F: Fn(&crate::registry::AgentRecord) -> A + Send + Sync + 'static,
        A: Agent,
    {
        self.kinds.insert(kind, factory);
        self
    }

    /// Refuse to register agents whose kind has no behaviour (by default they
    /// get [`crate::runtime::agent::Passive`]).
    pub fn strict_kinds(mut self) -> Self {
        self.kinds.clear_fallback();
        self
    }

    /// Starts the workers, the clearing pool and telemetry.
    pub fn start(self) -> Result<Engine, EngineError> {
        Engine::start_with(self.config, self.kinds)
    }
}

/// A running engine. Dropping it shuts it down (see [`Engine::shutdown`]).
#[derive(Debug)]
pub struct Engine {
    handle: Handle,
    threads: Vec<JoinHandle<WorkerExit>>,
    exits: crossbeam_channel::Receiver<WorkerExit>,
    sampler: MemorySampler,
    stopped: bool,
}

/// What a shutdown did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Commands answered while draining.
    pub drained: u64,
    /// Commands dropped unanswered after the deadline (callers saw `Canceled`).
    pub abandoned: u64,
    /// Agents stopped.
    pub agents_stopped: u64,
    /// Workers that had not exited by the deadline (left detached).
    pub workers_unjoined: Vec<usize>,
    /// Whether everything finished within `graceful_shutdown_timeout`.
    pub clean: bool,
    /// How long the shutdown took.
    pub elapsed: Duration,
}

impl Engine {
    /// A builder for an engine with `config`.
    pub fn builder(config: Config) -> EngineBuilder {
        EngineBuilder {
            config,
            kinds: AgentKinds::new(),
        }
    }

    /// Starts an engine with `config` and passive agents for every kind.
    pub fn start(config: Config) -> Result<Engine, EngineError> {
        Self::builder(config).start()
    }

    fn start_with(config: Config, kinds: AgentKinds) -> Result<Engine, EngineError> {
        let available = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
        let workers = config.engine.effective_workers(available).max(1);
        let shards = config.engine.shard_count(available).max(workers);
        let shards = shards - shards % workers;
        let (registry, writers) = Registry::new(shards, config.effective_max_agents())?;
        let pool = ClearingPool::new(config.engine.effective_clearing_threads(available).max(1))?;
        let telemetry = Telemetry::new(telemetry_settings(&config, workers))
            .map_err(|e| EngineError::Start(e.to_string()))?;
        let limits = Limits {
            bids_per_auction_max: config.coordination.bids_per_auction_max,
            orders_per_market_max: config.coordination.orders_per_market_max,
            combinatorial_node_limit: config.coordination.combinatorial_node_limit as u64,
            ..Limits::default()
        };
        let inboxes: Box<[Inbox<_>]> = (0..workers)
            .map(|_| Inbox::new(config.engine.inbox_depth_max))
            .collect();
        let status = (0..workers)
            .map(|_| CachePadded::new(WorkerStatus::default()))
            .collect();
        let cores = affinity::plan(workers, config.engine.pin_workers);
        // The first memory sample is taken here, before anything reports ready.
        let sampler = MemorySampler::start(
            telemetry.clone(),
            config.performance.memory_sample_interval_ms,
            config.performance.memory_limit_mb,
        )?;
        let shared = Arc::new(Shared {
            config,
            registry,
            inboxes,
            status,
            kinds,
            pool,
            limits,
            telemetry,
            draining: Default::default(),
            hard_stop: Default::default(),
            ready: Default::default(),
            live: Default::default(),
        });

        // Hand each worker the writers of the shards it owns (shard % workers).
        let mut owned: Vec<Vec<_>> = (0..workers).map(|_| Vec::new()).collect();
        for (shard, w) in writers.into_iter().enumerate() {
            owned[shard % workers].push(w);
        }
        let (exit_tx, exits) = crossbeam_channel::bounded(workers);
        let mut threads = Vec::with_capacity(workers);
        for (index, writers) in owned.into_iter().enumerate() {
            let rec = shared
                .telemetry
                .worker_recorder(index as u32, unix_ms())
                .map_err(|e| EngineError::Start(e.to_string()))?;
            let worker = Worker::new(index, Arc::clone(&shared), writers, rec)?;
            let core = cores[index];
            let tx = exit_tx.clone();
            let shared_for_thread = Arc::clone(&shared);
            let t = std::thread::Builder::new()
                .name(format!("mabeam-worker-{index}"))
                .spawn(move || {
                    let pinned = affinity::pin_current(index, core);
                    let status = &shared_for_thread.status[index];
                    status.pinned.store(pinned, Ordering::Relaxed);
                    let exit = worker.run();
                    status.exited.store(true, Ordering::Release);
                    let _ = tx.send(exit.clone());
                    exit
                })
                .map_err(|e| EngineError::Start(format!("spawning worker {index}: {e}")))?;
            threads.push(t);
        }
        shared.ready.store(true, Ordering::Release);
        tracing::info!(workers, shards, "engine started");
        Ok(Engine {
            handle: Handle::new(shared),
            threads,
            exits,
            sampler,
            stopped: false,
        })
    }

    /// A handle for any thread: cheap to clone, usable after the engine moves.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Shuts down within `core.graceful_shutdown_timeout`: stop accepting, drain
    /// the inboxes (every queued command is answered), stop the agents, join the
    /// workers. Past the deadline, workers drop what is left (their callers see
    /// `Canceled`) and the report says what was abandoned.
    pub fn shutdown(mut self) -> ShutdownReport {
        self.shutdown_inner()
    }

    fn shutdown_inner(&mut self) -> ShutdownReport {
        if self.stopped {
            return ShutdownReport::default();
        }
        self.stopped = true;
        let started = Instant::now();
        let shared = self.handle.shared();
        let timeout = shared.config.core.graceful_shutdown_timeout;
        shared.ready.store(false, Ordering::Release);
        shared.draining.store(true, Ordering::Release);
        for inbox in shared.inboxes.iter() {
            inbox.close();
        }
        let deadline = started + timeout;
        let mut report = ShutdownReport::default();
        let mut done = vec![false; self.threads.len()];
        let mut hard = false;
        while done.iter().any(|d| !d) {
            let wait_until = if hard {
                // After the hard stop, give workers a moment to notice it.
                deadline + Duration::from_millis(500)
            } else {
                deadline
            };
            match self.exits.recv_deadline(wait_until) {
                Ok(exit) => {
                    report.drained += exit.drained;
                    report.abandoned += exit.abandoned;
                    report.agents_stopped += exit.agents_stopped;
                    done[exit.worker] = true;
                }
                Err(_) if !hard => {
                    hard = true;
                    shared.hard_stop.store(true, Ordering::Release);
                    for inbox in shared.inboxes.iter() {
                        inbox.wake();
                    }
                    tracing::warn!(
                        timeout_ms = timeout.as_millis() as u64,
                        "graceful shutdown timed out; abandoning what is left"
                    );
                }
                Err(_) => break,
            }
        }
        for (i, t) in std::mem::take(&mut self.threads).into_iter().enumerate() {
            if done[i] {
                let _ = t.join();
            } else {
                report.workers_unjoined.push(i);
            }
        }
        // Commands that raced the close: drop them so their callers see Canceled.
        for inbox in shared.inboxes.iter() {
            while let Some(cmd) = inbox.pop() {
                drop(cmd);
                report.abandoned += 1;
            }
        }
        self.sampler.stop();
        report.clean = !hard && report.abandoned == 0 && report.workers_unjoined.is_empty();
        report.elapsed = started.elapsed();
        tracing::info!(?report, "engine stopped");
        report
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown_inner();
    }
}

fn telemetry_settings(config: &Config, workers: usize) -> TelemetrySettings {
    let t = &config.telemetry;
    TelemetrySettings {
        enabled: config.telemetry_on(),
        // Windows keep at most `telemetry.retention_minutes`, and never longer
        // than `performance.metrics_retention`.
        retention_minutes: (t
            .retention_minutes
            .min(config.performance.metrics_retention)
            .as_secs()
            / 60)
            .max(1) as u32,
        cleanup_interval_ms: t.cleanup_interval_ms.as_millis() as u64,
        anomaly_threshold: t.anomaly_threshold,
        anomaly_min_samples: t.anomaly_min_samples as u32,
        anomaly_window_samples: t.anomaly_window_samples as u32,
        buffer_size: config.concurrency.telemetry_buffer_size as u32,
        max_recorders: (workers as u32).saturating_add(256),
        ..TelemetrySettings::default()
    }
}
