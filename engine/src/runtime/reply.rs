//! One-shot replies from a worker to whoever submitted a command.
//!
//! A [`Reply`] can be awaited two ways: a blocking [`Reply::wait`] (spin briefly,
//! then park the thread) for embedders on their own threads, and `.await` (it is a
//! [`Future`]) for async callers such as the HTTP layer. A sender dropped without
//! sending resolves the reply to [`Canceled`], so a command lost in a shutdown is
//! always seen by its caller.

use parking_lot::Mutex;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// The command was dropped before it was answered (the engine shut down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the engine dropped the command before answering it (shutting down); retry on a running engine"
)]
pub struct Canceled;

/// Error of [`Reply::wait_timeout`].
#[derive(Debug, thiserror::Error)]
pub enum WaitError<T> {
    /// No answer within the timeout; the reply is handed back to wait again.
    #[error("no reply within the timeout")]
    Timeout(Reply<T>),
    /// The command was dropped unanswered.
    #[error(transparent)]
    Canceled(#[from] Canceled),
}

enum Waiter {
    None,
    Thread(Thread),
    Task(Waker),
}

impl Waiter {
    fn wake(self) {
        match self {
            Waiter::None => {}
            Waiter::Thread(t) => t.unpark(),
            Waiter::Task(w) => w.wake(),
        }
    }
}

struct Slot<T> {
    value: Option<T>,
    waiter: Waiter,
}

struct Inner<T> {
    /// Set (Release) once the slot holds its final state: a value, or closed.
    ready: AtomicBool,
    slot: Mutex<Slot<T>>,
}

/// The worker's half: answers exactly once, or resolves the reply to
/// [`Canceled`] when dropped.
pub struct ReplySender<T> {
    inner: Option<Arc<Inner<T>>>,
}

/// The caller's half: wait for it, or `.await` it.
pub struct Reply<T> {
    inner: Arc<Inner<T>>,
}

impl<T> std::fmt::Debug for Reply<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("ready", &self.inner.ready.load(Ordering::Relaxed))
            .finish()
    }
}

impl<T> std::fmt::Debug for ReplySender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplySender").finish_non_exhaustive()
    }
}

/// A connected sender and reply.
pub fn reply_channel<T>() -> (ReplySender<T>, Reply<T>) {
    let inner = Arc::new(Inner {
        ready: AtomicBool::new(false),
        slot: Mutex::new(Slot {
            value: None,
            waiter: Waiter::None,
        }),
    });
    (
        ReplySender {
            inner: Some(Arc::clone(&inner)),
        },
        Reply { inner },
    )
}

impl<T> ReplySender<T> {
    /// Answers the command and wakes the waiter.
    pub fn send(mut self, value: T) {
        if let Some(inner) = self.inner.take() {
            complete(&inner, Some(value));
        }
    }
}

impl<T> Drop for ReplySender<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            complete(&inner, None);
        }
    }
}

fn complete<T>(inner: &Inner<T>, value: Option<T>) {
    let waiter = {
        let mut slot = inner.slot.lock();
        slot.value = value;
        inner.ready.store(true, Ordering::Release);
        std::mem::replace(&mut slot.waiter, Waiter::None)
    };
    waiter.wake();
}

/// How long a blocking wait spins before it parks the thread. A worker answers
/// an idle round trip well inside this, so a waiting embedder never pays for a
/// futex wake-up at rest.
const SPIN: Duration = Duration::from_micros(50);

impl<T> Reply<T> {
    /// Whether the answer (or a cancellation) has arrived.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Acquire)
    }

    /// Blocks the calling thread until the answer arrives.
    pub fn wait(self) -> Result<T, Canceled> {
        if !self.spin() {
            while !self.park_once(None) {}
        }
        self.take()
    }

    /// Blocks for at most `timeout`; on timeout the reply is handed back.
    pub fn wait_timeout(self, timeout: Duration) -> Result<T, WaitError<T>> {
        let deadline = Instant::now() + timeout;
        if !self.spin() {
            loop {
                let now = Instant::now();
                if now >= deadline {
                    self.inner.slot.lock().waiter = Waiter::None;
                    if self.is_ready() {
                        break;
                    }
                    return Err(WaitError::Timeout(self));
                }
                if self.park_once(Some(deadline - now)) {
                    break;
                }
            }
        }
        self.take().map_err(WaitError::Canceled)
    }

    /// Registers this thread as the waiter and parks once; returns whether the
    /// reply is ready afterwards (parking may end spuriously).
    fn park_once(&self, timeout: Option<Duration>) -> bool {
        {
            let mut slot = self.inner.slot.lock();
            if self.inner.ready.load(Ordering::Acquire) {
                return true;
            }
            slot.waiter = Waiter::Thread(thread::current());
        }
        match timeout {
            None => thread::park(),
            Some(d) => thread::park_timeout(d),
        }
        self.is_ready()
    }

    /// Spins for up to [`SPIN`]; returns whether the reply became ready.
    fn spin(&self) -> bool {
        // Read the clock once every 64 spins: a clock read costs tens of ns here.
        let start = Instant::now();
        let mut i: u32 = 0;
        loop {
            if self.is_ready() {
                return true;
            }
            std::hint::spin_loop();
            i = i.wrapping_add(1);
            if i.is_multiple_of(64) {
                if start.elapsed() >= SPIN {
                    return self.is_ready();
                }
                if i.is_multiple_of(1024) {
                    // Let the answering worker run if this core is oversubscribed.
                    thread::yield_now();
                }
            }
        }
    }

    fn take(&self) -> Result<T, Canceled> {
        self.inner.slot.lock().value.take().ok_or(Canceled)
    }
}

impl<T> Future for Reply<T> {
    type Output = Result<T, Canceled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if !self.is_ready() {
            let mut slot = self.inner.slot.lock();
            if !self.inner.ready.load(Ordering::Acquire) {
                slot.waiter = Waiter::Task(cx.waker().clone());
                return Poll::Pending;
            }
        }
        Poll::Ready(self.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    #[test]
    fn blocking_wait_gets_the_value_from_another_thread() {
        let (tx, rx) = reply_channel();
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(5));
            tx.send(42_u32);
        });
        assert_eq!(rx.wait(), Ok(42));
        t.join().unwrap();
    }

    #[test]
    fn dropped_sender_cancels() {
        let (tx, rx) = reply_channel::<u32>();
        drop(tx);
        assert_eq!(rx.wait(), Err(Canceled));
    }

    #[test]
    fn timeout_hands_the_reply_back() {
        let (tx, rx) = reply_channel::<u32>();
        let rx = match rx.wait_timeout(Duration::from_millis(1)) {
            Err(WaitError::Timeout(rx)) => rx,
            other => panic!("expected a timeout, got {other:?}"),
        };
        tx.send(7);
        assert_eq!(rx.wait_timeout(Duration::from_secs(5)).ok(), Some(7));
    }

    struct CountWake(std::sync::atomic::AtomicUsize, Thread);
    impl Wake for CountWake {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
            self.1.unpark();
        }
    }

    #[test]
    fn future_is_woken_by_send() {
        let (tx, mut rx) = reply_channel::<&'static str>();
        let counter = Arc::new(CountWake(0.into(), thread::current()));
        let waker = Waker::from(Arc::clone(&counter));
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut rx).poll(&mut cx).is_pending());
        let t = thread::spawn(move || tx.send("done"));
        t.join().unwrap();
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert_eq!(Pin::new(&mut rx).poll(&mut cx), Poll::Ready(Ok("done")));
    }
}
