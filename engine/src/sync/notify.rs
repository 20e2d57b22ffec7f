//! Wake-up protocol between producers and one parked consumer.
//!
//! A worker parks when its inbox is empty; producers wake it after a push. The
//! protocol must never lose a wake-up: a command pushed while the worker decides to
//! park must not wait for the park timeout.
//!
//! One atomic word carries both a count of notifications (upper bits) and the
//! consumer's SLEEPING bit (bit 0). Both sides use read-modify-write operations on
//! that word, so their order is the word's modification order -- no reliance on
//! fences, which loom cannot model in full.
//!
//! ```text
//! consumer (worker)                          producer
//! seen = epoch()          (before draining)  queue.push(cmd)
//! drain the queue                            prev = state.fetch_add(2)
//! CAS(seen, seen|SLEEPING)                   if prev has SLEEPING:
//!   ok  -> park; clear SLEEPING                 if fetch_and(!SLEEPING) had it: unpark
//!   err -> a push happened since `seen`: drain again
//! ```
//!
//! If the producer's `fetch_add` comes first in the word's order, the consumer's
//! CAS fails and it drains again (the Acquire CAS makes the push visible). If the
//! CAS comes first, the producer sees SLEEPING and unparks; thread parking keeps
//! a token, so an unpark that lands before the park is not lost.
//! `tests/loom_notify.rs` checks every interleaving under loom.

#[cfg(loom)]
use loom::{
    sync::Mutex,
    sync::atomic::{AtomicU64, Ordering},
    thread::{self, Thread},
};
#[cfg(not(loom))]
use std::{
    sync::Mutex,
    sync::atomic::{AtomicU64, Ordering},
    thread::{self, Thread},
};

const SLEEPING: u64 = 1;
const ONE: u64 = 2;

/// Wakes one consumer thread that parks when it has nothing to do.
#[derive(Debug)]
pub struct Notify {
    state: AtomicU64,
    consumer: Mutex<Option<Thread>>,
}

impl Default for Notify {
    fn default() -> Self {
        Self::new()
    }
}

impl Notify {
    /// A signal with no consumer registered yet.
    pub fn new() -> Self {
        Self {
            state: AtomicU64::new(0),
            consumer: Mutex::new(None),
        }
    }

    /// Registers the calling thread as the consumer to wake. Call once, from the
    /// consumer thread, before its first [`Notify::park`].
    pub fn register_current(&self) {
        let mut slot = self.consumer.lock().unwrap_or_else(|e| e.into_inner());
        *slot = Some(thread::current());
    }

    /// Producer side: call after making work visible (for example after a queue
    /// push). One read-modify-write; the slow path (a syscall) only when the
    /// consumer is parked.
    pub fn notify(&self) {
        let prev = self.state.fetch_add(ONE, Ordering::AcqRel);
        if prev & SLEEPING != 0 && self.state.fetch_and(!SLEEPING, Ordering::AcqRel) & SLEEPING != 0
        {
            let slot = self.consumer.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(t) = slot.as_ref() {
                t.unpark();
            }
        }
    }

    /// Consumer side: the notification count to pass to [`Notify::park`]. Read it
    /// before draining the queue.
    pub fn epoch(&self) -> u64 {
        self.state.load(Ordering::Acquire) & !SLEEPING
    }

    /// Consumer side: parks for at most `timeout` (`None`: until notified) unless a
    /// notification arrived since `seen` was read. Returns `true` if it parked.
    ///
    /// Spurious wake-ups are possible; callers re-check their queues in a loop.
    pub fn park(&self, seen: u64, timeout: Option<std::time::Duration>) -> bool {
        if self
            .state
            .compare_exchange(seen, seen | SLEEPING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        park_for(timeout);
        self.state.fetch_and(!SLEEPING, Ordering::AcqRel);
        true
    }
}

#[cfg(not(loom))]
fn park_for(timeout: Option<std::time::Duration>) {
    match timeout {
        Some(d) => thread::park_timeout(d),
        None => thread::park(),
    }
}

#[cfg(loom)]
fn park_for(_timeout: Option<std::time::Duration>) {
    // loom has no timed park; a model that parks must be woken by a producer,
    // which is exactly the property under test (a lost wake-up deadlocks).
    thread::park();
}
