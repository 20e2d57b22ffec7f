//! An answer on its way from a worker.

use crate::api::EngineError;
use crate::runtime::reply::{Reply, WaitError};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The answer to a command sent to a worker: [`Pending::wait`] for it on this
/// thread, or `.await` it.
#[derive(Debug)]
#[must_use = "a command's answer says whether it succeeded"]
pub struct Pending<T> {
    reply: Reply<Result<T, EngineError>>,
}

impl<T> Pending<T> {
    pub(crate) fn new(reply: Reply<Result<T, EngineError>>) -> Self {
        Self { reply }
    }

    /// Blocks until the worker answers.
    pub fn wait(self) -> Result<T, EngineError> {
        self.reply.wait()?
    }

    /// Blocks for at most `timeout`.
    pub fn wait_timeout(self, timeout: Duration) -> Result<T, EngineError> {
        match self.reply.wait_timeout(timeout) {
            Ok(r) => r,
            Err(WaitError::Timeout(_)) => Err(EngineError::Timeout {
                ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            }),
            Err(WaitError::Canceled(c)) => Err(c.into()),
        }
    }
}

impl<T> Future for Pending<T> {
    type Output = Result<T, EngineError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.reply).poll(cx) {
            Poll::Ready(Ok(r)) => Poll::Ready(r),
            Poll::Ready(Err(c)) => Poll::Ready(Err(c.into())),
            Poll::Pending => Poll::Pending,
        }
    }
}
