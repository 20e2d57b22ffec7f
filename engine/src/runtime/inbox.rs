//! Bounded inboxes: the only way commands reach a worker.
//!
//! A fixed-capacity [`ArrayQueue`] allocated at start-up, plus the wake-up
//! protocol of [`crate::sync::notify`]. A full inbox hands the command back as
//! [`SubmitError::Full`]; a closed one as [`SubmitError::ShuttingDown`]. Nothing
//! is dropped silently: every command carries a reply sender, and a command
//! dropped during shutdown resolves its reply to `Canceled`.

use crate::sync::notify::Notify;
use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A command refused at submission, handed back to the caller.
#[derive(thiserror::Error)]
pub enum SubmitError<T> {
    /// The owner's inbox is at `inbox_depth_max`: back off and retry (HTTP: 503 with
    /// `Retry-After`).
    #[error("the worker's inbox is full (engine.inbox_depth_max); retry shortly")]
    Full(T),
    /// The engine is shutting down and accepts no new commands.
    #[error("the engine is shutting down and accepts no new commands")]
    ShuttingDown(T),
}

impl<T> std::fmt::Debug for SubmitError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubmitError::Full(_) => f.write_str("Full(..)"),
            SubmitError::ShuttingDown(_) => f.write_str("ShuttingDown(..)"),
        }
    }
}

impl<T> SubmitError<T> {
    /// The refused command.
    pub fn into_inner(self) -> T {
        match self {
            SubmitError::Full(t) | SubmitError::ShuttingDown(t) => t,
        }
    }
}

/// A bounded multi-producer, single-consumer inbox with park/wake.
#[derive(Debug)]
pub(crate) struct Inbox<T> {
    queue: ArrayQueue<T>,
    notify: Notify,
    closed: AtomicBool,
}

impl<T> Inbox<T> {
    /// An inbox holding at most `capacity` commands (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            queue: ArrayQueue::new(capacity.max(1)),
            notify: Notify::new(),
            closed: AtomicBool::new(false),
        }
    }

    /// Producer side: enqueue and wake the worker if it is parked.
    pub(crate) fn push(&self, cmd: T) -> Result<(), SubmitError<T>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(SubmitError::ShuttingDown(cmd));
        }
        self.queue.push(cmd).map_err(SubmitError::Full)?;
        self.notify.notify();
        Ok(())
    }

    /// Consumer side: one command, if any.
    pub(crate) fn pop(&self) -> Option<T> {
        self.queue.pop()
    }

    /// Whether no command is waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Commands waiting now.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Refuse new commands from now on (those already queued stay).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify();
    }

    /// Wakes the consumer without a command (timers, shutdown).
    pub(crate) fn wake(&self) {
        self.notify.notify();
    }

    /// Called once by the consumer thread before it first parks.
    pub(crate) fn register_consumer(&self) {
        self.notify.register_current();
    }

    /// Consumer side: the wake-up epoch; read it before draining.
    pub(crate) fn epoch(&self) -> u64 {
        self.notify.epoch()
    }

    /// Consumer side: park until a command arrives or [`Inbox::wake`] is called
    /// after `seen` was read, or the timeout passes.
    pub(crate) fn park(&self, seen: u64, timeout: Option<Duration>) -> bool {
        self.notify.park(seen, timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn full_inbox_hands_the_command_back() {
        let inbox = Inbox::new(2);
        inbox.push(1).unwrap();
        inbox.push(2).unwrap();
        match inbox.push(3) {
            Err(SubmitError::Full(3)) => {}
            other => panic!("expected Full(3), got {other:?}"),
        }
        assert_eq!(inbox.pop(), Some(1));
        inbox.push(4).unwrap();
        assert_eq!(inbox.len(), 2);
    }

    #[test]
    fn closed_inbox_refuses_but_keeps_what_it_has() {
        let inbox = Inbox::new(4);
        inbox.push(1).unwrap();
        inbox.close();
        assert!(matches!(inbox.push(2), Err(SubmitError::ShuttingDown(2))));
        assert_eq!(inbox.pop(), Some(1));
        assert_eq!(inbox.pop(), None);
    }

    #[test]
    fn parked_consumer_is_woken_by_a_push() {
        let inbox = Arc::new(Inbox::new(1024));
        let consumer = {
            let inbox = Arc::clone(&inbox);
            std::thread::spawn(move || {
                inbox.register_consumer();
                let mut got = 0u64;
                while got < 10_000 {
                    let seen = inbox.epoch();
                    while inbox.pop().is_some() {
                        got += 1;
                    }
                    if got < 10_000 {
                        // A generous timeout: a lost wake-up would show as a
                        // test that takes minutes, not a pass.
                        inbox.park(seen, Some(Duration::from_secs(60)));
                    }
                }
                got
            })
        };
        for i in 0..10_000u64 {
            let mut v = i;
            loop {
                match inbox.push(v) {
                    Ok(()) => break,
                    Err(e) => {
                        v = e.into_inner();
                        std::thread::yield_now();
                    }
                }
            }
            if i % 100 == 0 {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        let started = std::time::Instant::now();
        assert_eq!(consumer.join().unwrap(), 10_000);
        assert!(started.elapsed() < Duration::from_secs(30));
    }
}
