//! Loom model of the two-copy latch (`sync::latch`) that holds an agent's live status: a
//! reader never sees the words of two writes mixed, never an older write after a newer
//! one, and never waits for the writer (its retries are bounded by the writes completed).
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p mabeam-engine --release --test loom_latch`
#![cfg(loom)]

use loom::model::Builder;
use loom::sync::Arc;
use loom::thread;

use mabeam_engine::sync::latch::Latch;

/// Every interleaving with up to `bound` preemptions.
fn model(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = Builder::new();
    builder.preemption_bound = Some(bound);
    builder.check(f);
}

#[test]
fn reads_are_whole_and_never_go_back() {
    model(3, || {
        let latch = Arc::new(Latch::new([0u64, 0]));
        let w = {
            let latch = latch.clone();
            thread::spawn(move || {
                for k in 1..=3 {
                    latch.write([k, k]);
                }
            })
        };
        let mut last = 0;
        for _ in 0..2 {
            let [a, b] = latch.read();
            assert_eq!(a, b, "torn read");
            assert!(a >= last, "went back from {last} to {a}");
            last = a;
        }
        w.join().unwrap();
        assert_eq!(latch.read(), [3, 3]);
    });
}

#[test]
fn a_stalled_writer_leaves_the_previous_write_readable() {
    // The reader runs while the writer may stop anywhere inside its second write: it must
    // still answer with a whole write, the first or the second.
    model(3, || {
        let latch = Arc::new(Latch::new([0u64, 0, 0]));
        latch.write([1, 1, 1]);
        let w = {
            let latch = latch.clone();
            thread::spawn(move || latch.write([2, 2, 2]))
        };
        let words = latch.read();
        assert!(words == [1, 1, 1] || words == [2, 2, 2], "read {words:?}");
        w.join().unwrap();
    });
}
