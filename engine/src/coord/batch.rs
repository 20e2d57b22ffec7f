//! Batch clearing on one named rayon pool.
//!
//! Requests are independent, so they are cleared with `par_iter` and collected in input
//! order: the results are the same as serial clearing at any thread count. This is the one
//! place in `coord` that owns threads.

use rayon::prelude::*;

use crate::coord::clear::{clear, clear_cancellable};
use crate::coord::error::CoordError;
use crate::coord::outcome::CoordinationOutcome;
use crate::coord::request::CoordinationRequest;
use crate::coord::validate::Limits;
use crate::coord::work::Cancel;

/// Most threads a clearing pool may have.
pub const THREADS_MAX: usize = 1024;

/// How much lower than the threads that start it a clearing thread runs (a Linux `nice`
/// increment): on a busy node, request serving, probes and the workers' ticks win the CPU
/// over a long clearing, which only waits.
pub const CLEARING_NICE_INCREMENT: i32 = 10;

/// Lowers the calling thread's priority by [`CLEARING_NICE_INCREMENT`] (Linux; elsewhere,
/// or when refused, the thread keeps its priority).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let me = Some(rustix::thread::gettid());
        let lowered = getpriority_process(me)
            .and_then(|now| setpriority_process(me, (now + CLEARING_NICE_INCREMENT).min(19)));
        if let Err(e) = lowered {
            tracing::debug!(error = %e, "a clearing thread keeps its priority");
        }
    }
}

/// A rayon pool whose threads are named `mabeam-clear-N`.
#[derive(Debug)]
pub struct ClearingPool {
    pool: rayon::ThreadPool,
}

impl ClearingPool {
    /// Starts a pool of `threads` threads (1 ..= 1024).
    pub fn new(threads: usize) -> Result<ClearingPool, CoordError> {
        if threads == 0 || threads > THREADS_MAX {
            return Err(CoordError::InvalidParameter {
                field: "threads".into(),
                hint: format!("a clearing pool has 1 to {THREADS_MAX} threads, not {threads}"),
            });
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("mabeam-clear-{i}"))
            .start_handler(|_| lower_priority())
            .build()
            .map_err(|e| CoordError::Pool {
                message: e.to_string(),
            })?;
        Ok(ClearingPool { pool })
    }

    /// Threads in the pool.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Clears every request in parallel; results in input order, identical to
    /// `reqs.iter().map(|r| clear(r, limits))`.
    pub fn clear_batch(
        &self,
        reqs: &[CoordinationRequest],
        limits: &Limits,
    ) -> Vec<Result<CoordinationOutcome, CoordError>> {
        self.clear_batch_cancellable(reqs, limits, &Cancel::new())
    }

    /// [`ClearingPool::clear_batch`], stopping once `cancel` is set: the requests not
    /// finished by then answer [`CoordError::Cancelled`].
    pub fn clear_batch_cancellable(
        &self,
        reqs: &[CoordinationRequest],
        limits: &Limits,
        cancel: &Cancel,
    ) -> Vec<Result<CoordinationOutcome, CoordError>> {
        self.pool.install(|| {
            reqs.par_iter()
                .map(|r| clear_cancellable(r, limits, cancel))
                .collect()
        })
    }

    /// Queues `f` on the pool and returns at once (the runtime's non-blocking
    /// hand-off: a worker never waits for a clearing). `f` should not panic; a
    /// panic in it aborts the process, as with any rayon spawn.
    pub fn spawn(&self, f: impl FnOnce() + Send + 'static) {
        self.pool.spawn(f);
    }

    /// Runs `f` on the pool (for embedders that batch their own clearing work).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.pool.install(f)
    }
}

/// Clears every request on the calling thread (the serial baseline of `clear_batch`).
pub fn clear_serial(
    reqs: &[CoordinationRequest],
    limits: &Limits,
) -> Vec<Result<CoordinationOutcome, CoordError>> {
    reqs.iter().map(|r| clear(r, limits)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_threads_are_named_and_bounded() {
        let pool = ClearingPool::new(2).unwrap();
        assert_eq!(pool.threads(), 2);
        let name = pool.install(|| std::thread::current().name().map(str::to_string));
        assert!(name.is_some_and(|n| n.starts_with("mabeam-clear-")));
        assert_eq!(
            ClearingPool::new(0).unwrap_err().code(),
            "invalid_parameter"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn clearing_threads_run_below_the_caller() {
        use rustix::process::getpriority_process;
        let caller = getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let pool = ClearingPool::new(1).unwrap();
        let inside = pool.install(|| getpriority_process(Some(rustix::thread::gettid())).unwrap());
        assert_eq!(inside, (caller + CLEARING_NICE_INCREMENT).min(19));
    }
}
