//! One-shot clearing on the engine's clearing pool, with its deadline and cancellation.

use crate::api::{EngineError, Pending};
use crate::coord::{Cancel, CoordError};
use crate::runtime::reply::reply_channel;
use crate::runtime::shared::{LiveCounters, Shared};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// A clearing running on the clearing pool: `.await` it, or [`Clearing::wait`] for it on
/// this thread. It carries the one-shot deadline (`coordination.default_timeout`):
/// [`Clearing::wait`] stops the clearing when the deadline passes, and an async caller
/// races it against [`Clearing::deadline`]. Dropping it, or [`Clearing::cancel`], stops
/// the clearing at its next check, so an answer nobody waits for stops using CPU.
#[derive(Debug)]
#[must_use = "dropping a clearing cancels it"]
pub struct Clearing<T> {
    pending: Option<Pending<T>>,
    cancel: Arc<Cancel>,
    deadline: Duration,
}

impl<T: Send + 'static> Clearing<T> {
    /// Runs `work` on the pool (it reads the flag it is given), within the pool's limit
    /// of clearings in flight (`concurrency.coordination_pool_size`, shared with the
    /// live sessions' clearings); past it the clearing answers
    /// [`EngineError::PoolBusy`] at once.
    pub(crate) fn spawn(
        shared: &Arc<Shared>,
        work: impl FnOnce(&Cancel) -> Result<T, CoordError> + Send + 'static,
    ) -> Clearing<T> {
        let (tx, rx) = reply_channel();
        let cancel = Arc::new(Cancel::new());
        let max = shared.config.concurrency.coordination_pool_size.max(1);
        if LiveCounters::reserve(&shared.live.clearings_in_flight, max) {
            let flag = Arc::clone(&cancel);
            let owner = Arc::clone(shared);
            shared.pool.spawn(move || {
                let result = catch_unwind(AssertUnwindSafe(|| work(&flag))).unwrap_or_else(|_| {
                    Err(CoordError::Pool {
                        message: "the clearing panicked; this is a bug, please report it".into(),
                    })
                });
                LiveCounters::release(&owner.live.clearings_in_flight, 1);
                tx.send(result.map_err(EngineError::from));
            });
        } else {
            tx.send(Err(EngineError::PoolBusy { max }));
        }
        Clearing {
            pending: Some(Pending::new(rx)),
            cancel,
            deadline: shared.config.coordination.default_timeout,
        }
    }
}

impl<T> Clearing<T> {
    /// The time the clearing has (`coordination.default_timeout`), from when it was handed
    /// to the pool.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Stops the clearing at its next check; it then answers `cancelled`.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// The error a caller reports when the deadline passed (504 `coordination_timeout`).
    pub fn timed_out(&self) -> EngineError {
        EngineError::CoordinationTimeout {
            ms: u64::try_from(self.deadline.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// Blocks until the clearing answers or its deadline passes; past the deadline the
    /// clearing is cancelled and the answer is [`EngineError::CoordinationTimeout`].
    pub fn wait(mut self) -> Result<T, EngineError> {
        let Some(pending) = self.pending.take() else {
            return Err(EngineError::Internal("a clearing waited for twice".into()));
        };
        match pending.wait_timeout(self.deadline) {
            Err(EngineError::Timeout { .. }) => Err(self.timed_out()),
            other => other,
        }
    }
}

impl<T> Drop for Clearing<T> {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl<T> Future for Clearing<T> {
    type Output = Result<T, EngineError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.pending.as_mut() {
            Some(p) => Pin::new(p).poll(cx),
            None => Poll::Ready(Err(EngineError::Internal(
                "a clearing polled after it answered".into(),
            ))),
        }
    }
}
