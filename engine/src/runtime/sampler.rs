//! The memory sampler: one small thread that keeps the admission size fresh, so the
//! memory limit holds between maintenance sweeps. It takes the first sample at start
//! (before the engine reports ready), then one every
//! `performance.memory_sample_interval_ms` ([`Telemetry::refresh_memory_used`]: the
//! resident set size from one `/proc/self/statm` read).

use crate::api::EngineError;
use crate::telemetry::Telemetry;
use crossbeam_channel::{RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;

#[derive(Debug)]
pub(crate) struct MemorySampler {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MemorySampler {
    /// Takes the first sample on this thread, then samples every `every` on its own.
    pub(crate) fn start(
        telemetry: Telemetry,
        every: Duration,
        limit_mb: u64,
    ) -> Result<Self, EngineError> {
        let mut over = Crossing::new(limit_mb);
        let first = telemetry.refresh_memory_used();
        if first.is_none() {
            tracing::warn!(
                limit_mb,
                "memory use cannot be read on this platform (no /proc/self/statm, no jemalloc): performance.memory_limit_mb is not enforced"
            );
        }
        over.observe(first);
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let thread = std::thread::Builder::new()
            .name("mabeam-memory".to_owned())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    over.observe(telemetry.refresh_memory_used());
                }
            })
            .map_err(|e| EngineError::Start(format!("spawning the memory sampler: {e}")))?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for it (at most one sample's time).
    pub(crate) fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for MemorySampler {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Logs when the node goes over its memory limit and when it is back under, at most
/// one line per [`LOG_EVERY`] (a node at its limit crosses it often); a line says how
/// many crossings went unlogged before it.
struct Crossing {
    limit_mb: u64,
    over: bool,
    last_log: Option<Instant>,
    unlogged: u64,
}

/// Fewest seconds between two crossing lines.
const LOG_EVERY: Duration = Duration::from_secs(10);

impl Crossing {
    fn new(limit_mb: u64) -> Self {
        Self {
            limit_mb,
            over: false,
            last_log: None,
            unlogged: 0,
        }
    }

    fn observe(&mut self, used: Option<u64>) {
        let over = crate::telemetry::memory::over_limit(used, self.limit_mb);
        if over == self.over {
            return;
        }
        self.over = over;
        let now = Instant::now();
        if self
            .last_log
            .is_some_and(|t| now.duration_since(t) < LOG_EVERY)
        {
            self.unlogged += 1;
            return;
        }
        self.last_log = Some(now);
        let unlogged = std::mem::take(&mut self.unlogged);
        let used_mb = used.unwrap_or(0) / MIB;
        if over {
            tracing::warn!(
                used_mb,
                limit_mb = self.limit_mb,
                crossings_unlogged = unlogged,
                "memory over performance.memory_limit_mb: growing writes are refused (503 memory_limit) and /ready is false until it drops"
            );
        } else {
            tracing::info!(
                used_mb,
                limit_mb = self.limit_mb,
                crossings_unlogged = unlogged,
                "memory back under performance.memory_limit_mb: writes admitted again"
            );
        }
    }
}
