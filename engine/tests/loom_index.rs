//! Loom models of the name index: a key that stays present is always found while the
//! writer inserts, removes (tombstones), reuses tombstones and rebuilds the table.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p mabeam-engine --release --test loom_index`
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;

use mabeam_engine::sync::epoch::{Backlog, pin};
use mabeam_engine::sync::index::NameIndex;

/// Hashes that share a home bucket (low bits) but not a tag, so keys form one probe chain.
fn chained(n: u64) -> u64 {
    n << 8
}

#[test]
fn present_key_survives_tombstones_and_reuse() {
    loom::model(|| {
        let index = Arc::new(NameIndex::new(2, Backlog::new()));
        {
            let g = pin();
            index.insert(chained(1), 1, &g); // X, first in the chain
            index.insert(chained(2), 2, &g); // K, behind X
        }
        let writer = {
            let index = index.clone();
            thread::spawn(move || {
                let g = pin();
                assert!(index.remove(chained(1), 1, &g)); // X -> tombstone
                index.insert(chained(3), 3, &g); // Y reuses the tombstone
            })
        };
        let g = pin();
        assert_eq!(index.find(chained(2), &g, |s| s == 2), Some(2), "K lost");
        let x = index.find(chained(1), &g, |s| s == 1);
        assert!(x.is_none() || x == Some(1));
        let y = index.find(chained(3), &g, |s| s == 3);
        assert!(y.is_none() || y == Some(3));
        drop(g);
        writer.join().unwrap();
        let g = pin();
        assert_eq!(index.find(chained(1), &g, |s| s == 1), None);
        assert_eq!(index.find(chained(3), &g, |s| s == 3), Some(3));
        assert_eq!(index.find(chained(2), &g, |s| s == 2), Some(2));
    });
}

#[test]
fn present_key_survives_a_rebuild() {
    loom::model(|| {
        // 8 buckets; the 7th live entry (live + tombstones > 3/4) forces a rebuild to 16.
        let index = Arc::new(NameIndex::new(1, Backlog::new()));
        {
            let g = pin();
            for k in 1..=5 {
                index.insert(chained(k), k as u32, &g);
            }
            assert_eq!(index.buckets(&g), 8);
        }
        let writer = {
            let index = index.clone();
            thread::spawn(move || {
                let g = pin();
                assert!(index.remove(chained(1), 1, &g));
                index.insert(chained(6), 6, &g);
                index.insert(chained(7), 7, &g);
                index.insert(chained(8), 8, &g);
                assert_eq!(index.buckets(&g), 16, "no rebuild happened");
            })
        };
        let g = pin();
        assert_eq!(index.find(chained(5), &g, |s| s == 5), Some(5), "K lost");
        let eight = index.find(chained(8), &g, |s| s == 8);
        assert!(eight.is_none() || eight == Some(8));
        drop(g);
        writer.join().unwrap();
        let g = pin();
        for k in 2..=8u32 {
            assert_eq!(index.find(chained(u64::from(k)), &g, |s| s == k), Some(k));
        }
        assert_eq!(index.find(chained(1), &g, |s| s == 1), None);
        assert_eq!(index.tombstones(), 0);
    });
}
