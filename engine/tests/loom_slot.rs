//! Loom models of slot publication: an `EpochBox` hands readers fully built values, and a
//! registry handle (`AgentRef`) never reaches another agent when its slot is reused.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p mabeam-engine --release --test loom_slot`
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicU64, Ordering};
use loom::thread;

use mabeam_engine::registry::{AgentSpec, AgentState, Registry};
use mabeam_engine::sync::epoch::{Backlog, EpochBox, pin};

/// A value whose fields are written (Relaxed) after construction and before publication:
/// a reader sees the final values only if publication is Release and loading is Acquire.
struct Payload {
    version: AtomicU64,
    check: AtomicU64,
}

fn payload(version: u64) -> Box<Payload> {
    let p = Box::new(Payload {
        version: AtomicU64::new(0),
        check: AtomicU64::new(0),
    });
    p.version.store(version, Ordering::Relaxed);
    p.check.store(version * 7 + 1, Ordering::Relaxed);
    p
}

#[test]
fn readers_see_whole_values() {
    loom::model(|| {
        let cell = Arc::new(EpochBox::new(payload(1)));
        let backlog = Backlog::new();
        let writer = {
            let cell = cell.clone();
            thread::spawn(move || {
                let guard = pin();
                let old = cell.replace(Some(payload(2)), &guard, &backlog);
                assert_eq!(old.map(|p| p.version.load(Ordering::Relaxed)), Some(1));
                cell.replace(None, &guard, &backlog);
                cell.replace(Some(payload(3)), &guard, &backlog);
            })
        };
        let guard = pin();
        let mut last = 0;
        for _ in 0..2 {
            if let Some(p) = cell.load(&guard) {
                let version = p.version.load(Ordering::Relaxed);
                assert!((1..=3).contains(&version), "saw an unpublished value");
                assert_eq!(p.check.load(Ordering::Relaxed), version * 7 + 1);
                assert!(version >= last, "went back in time");
                last = version;
            }
        }
        drop(guard);
        writer.join().unwrap();
        let guard = pin();
        assert_eq!(
            cell.load(&guard).map(|p| p.version.load(Ordering::Relaxed)),
            Some(3)
        );
    });
}

#[test]
fn stale_handles_never_reach_a_reused_slot() {
    // The reader runs in the spawned thread and the writer in the model's main thread:
    // loom's DPOR remembers only the last access to each atomic, so a writer that loads a
    // word before storing it (the latch's sequence, the slot pointer it finds the entry
    // by) hides an earlier read by another thread; with the writes first in the initial
    // run, every read that follows them is checked against them and the interleavings are
    // explored (up to two preemptions: unbounded, it ran past ten minutes).
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        // One shard, one slot: "b" must reuse the slot "a" had.
        let (registry, mut writers) = Registry::new(1, 1).unwrap();
        let mut w = writers.pop().unwrap();
        let a = w.register(AgentSpec::new("a", "k"), 0).unwrap();
        let reader = {
            let registry = registry.clone();
            thread::spawn(move || {
                // The handle of "a" yields "a" (in either published state) or nothing.
                if let Some(rec) = registry.get_ref(a) {
                    assert_eq!(rec.id(), "a");
                    assert_eq!(rec.agent_ref, a);
                    // State and time of one write, never a mix (they sit in different
                    // words of the entry's latch).
                    let moved = rec.state == AgentState::Starting;
                    assert_eq!(moved, rec.updated_at_ms == 1, "torn status {rec:?}");
                }
                if let Some(status) = registry.status_ref(a) {
                    assert_eq!(status.agent_ref, a);
                }
                if let Some(id) = registry.with("b", |r| r.id().to_owned()) {
                    assert_eq!(id, "b");
                }
            })
        };
        w.transition("a", AgentState::Starting, 1).unwrap();
        w.deregister("a").unwrap();
        let b = w.register(AgentSpec::new("b", "k"), 2).unwrap();
        assert_eq!((a.slot, a.shard), (b.slot, b.shard));
        assert_ne!(a.generation, b.generation);
        reader.join().unwrap();
        assert!(registry.get_ref(a).is_none());
        assert_eq!(
            registry.get_ref(b).map(|r| r.id().to_owned()),
            Some("b".into())
        );
        assert_eq!(registry.count(), 1);
    });
}
