//! loom model of the inbox wake-up protocol (`sync::notify`).
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p mabeam-engine --release --test loom_notify`
//! A lost wake-up shows as a deadlock, which loom reports as a failure.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use mabeam_engine::sync::notify::Notify;

/// Every interleaving with up to three preemptions: enough for the two-step
/// protocol on each side, and quick enough for CI.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// One producer, one consumer: the consumer parks only while nothing is queued,
/// and is always woken once the producer's item is visible.
#[test]
fn no_lost_wakeup_one_producer() {
    model(|| {
        let notify = Arc::new(Notify::new());
        let queued = Arc::new(AtomicUsize::new(0));
        notify.register_current();

        let producer = {
            let (notify, queued) = (Arc::clone(&notify), Arc::clone(&queued));
            thread::spawn(move || {
                queued.fetch_add(1, Ordering::Relaxed);
                notify.notify();
            })
        };

        loop {
            let seen = notify.epoch();
            if queued.load(Ordering::Relaxed) > 0 {
                break;
            }
            notify.park(seen, None);
        }
        producer.join().unwrap();
    });
}

/// Two producers: the consumer sees both items, however the pushes and the
/// consumer's decision to park interleave.
#[test]
fn no_lost_wakeup_two_producers() {
    model(|| {
        let notify = Arc::new(Notify::new());
        let queued = Arc::new(AtomicUsize::new(0));
        notify.register_current();

        // Producers are not joined: loom's join shares the park token that a
        // late (harmless) unpark leaves behind, and trips its own assertion.
        // The model still runs every producer to completion.
        for _ in 0..2 {
            let (notify, queued) = (Arc::clone(&notify), Arc::clone(&queued));
            thread::spawn(move || {
                queued.fetch_add(1, Ordering::Relaxed);
                notify.notify();
            });
        }

        loop {
            let seen = notify.epoch();
            if queued.load(Ordering::Relaxed) == 2 {
                break;
            }
            notify.park(seen, None);
        }
    });
}
