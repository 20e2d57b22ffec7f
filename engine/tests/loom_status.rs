//! Loom models of the pin-free status table (`sync::status`): a key that stays present is
//! never reported missing while the writer removes the key ahead of it in its probe chain
//! (which moves it back a line) and inserts another; lookups by slot follow the move; and a
//! reader never sees a torn or an older pair of status words after a newer one.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p mabeam-engine --release --test loom_status`
#![cfg(loom)]

use loom::model::Builder;
use loom::sync::Arc;
use loom::thread;

use mabeam_engine::sync::status::{Probe, StatusTable};

/// Hashes with the same home line (0), so keys form one probe chain.
const HOME0: u64 = 0;

/// Every interleaving with up to `bound` preemptions.
fn model(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = Builder::new();
    builder.preemption_bound = Some(bound);
    builder.check(f);
}

#[test]
fn present_key_is_never_missed_while_its_chain_shifts() {
    model(3, || {
        // 4 slots, 8 lines.
        let (table, mut writer) = StatusTable::new(4, 4);
        assert!(table.insert(&mut writer, 0, HOME0, b"x", [1, 1])); // line 0
        assert!(table.insert(&mut writer, 1, HOME0, b"k", [2, 2])); // line 1
        let table = Arc::new(table);
        let w = {
            let table = table.clone();
            thread::spawn(move || {
                assert!(table.remove(&mut writer, 0)); // k moves back to line 0
                assert!(table.insert(&mut writer, 2, HOME0, b"y", [3, 3])); // y in line 1
            })
        };
        match table.find(HOME0, b"k") {
            Probe::Hit { slot, status } => assert_eq!((slot, status), (1, [2, 2])),
            Probe::Busy => {}
            Probe::Miss => panic!("k reported missing while it moved"),
        }
        match table.get(1) {
            Probe::Hit { slot, status } => assert_eq!((slot, status), (1, [2, 2])),
            Probe::Busy => {}
            Probe::Miss => panic!("slot 1 reported empty while it moved"),
        }
        match table.find(HOME0, b"y") {
            Probe::Hit { slot, status } => assert_eq!((slot, status), (2, [3, 3])),
            Probe::Miss | Probe::Busy => {}
        }
        w.join().unwrap();
        assert_eq!(table.find(HOME0, b"x"), Probe::Miss);
        assert_eq!(table.get(0), Probe::Miss);
        assert_eq!(
            table.find(HOME0, b"k"),
            Probe::Hit {
                slot: 1,
                status: [2, 2]
            }
        );
        assert_eq!(
            table.find(HOME0, b"y"),
            Probe::Hit {
                slot: 2,
                status: [3, 3]
            }
        );
    });
}

#[test]
fn status_words_are_never_torn_nor_older() {
    model(3, || {
        let (table, mut writer) = StatusTable::new(2, 2);
        assert!(table.insert(&mut writer, 0, 5, b"a", [0, 0]));
        let table = Arc::new(table);
        let w = {
            let table = table.clone();
            thread::spawn(move || {
                assert!(table.set(&mut writer, 0, [1, 1]));
                assert!(table.set(&mut writer, 0, [2, 2]));
            })
        };
        let mut last = 0;
        for probe in [table.find(5, b"a"), table.get(0)] {
            match probe {
                Probe::Hit {
                    slot,
                    status: [a, b],
                } => {
                    assert_eq!(slot, 0);
                    assert_eq!(a, b, "torn status words");
                    assert!(a >= last, "went back from {last} to {a}");
                    last = a;
                }
                Probe::Busy => {}
                Probe::Miss => panic!("a present key reported missing"),
            }
        }
        w.join().unwrap();
        assert_eq!(
            table.get(0),
            Probe::Hit {
                slot: 0,
                status: [2, 2]
            }
        );
    });
}
