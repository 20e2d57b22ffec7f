//! Stopping a clearing from outside: the caller owns a [`Cancel`] flag and sets it when
//! the answer is no longer wanted (its deadline passed, the client left, the server is
//! shutting down). The searches that can run long read it every few thousand steps and
//! stop with [`CoordError::Cancelled`]. `coord` stays pure: it never reads a clock, it
//! only reads a flag its caller sets.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::coord::error::CoordError;

/// Steps a search takes between two reads of its [`Cancel`] flag.
pub(crate) const CHECK_EVERY: u64 = 1 << 12;

/// A flag that asks a running clearing to stop.
#[derive(Debug, Default)]
pub struct Cancel(AtomicBool);

impl Cancel {
    /// A flag not set.
    pub fn new() -> Cancel {
        Cancel(AtomicBool::new(false))
    }

    /// Asks the clearing to stop; it answers [`CoordError::Cancelled`] at its next check.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// `Err(Cancelled)` once the flag is set.
    pub(crate) fn check(&self) -> Result<(), CoordError> {
        if self.is_cancelled() {
            Err(CoordError::Cancelled)
        } else {
            Ok(())
        }
    }
}
