//! Loom models of the name index: a key that stays present is always found while the
//! writer inserts, removes (tombstones), reuses tombstones and rebuilds the table; and
//! through `KeyedSlots`, whose buckets carry the value pointer, a reader by key always gets
//! a whole, published value of that key.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p mabeam-engine --release --test loom_index`
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicU64, Ordering};
use loom::thread;

use mabeam_engine::sync::epoch::{Backlog, pin};
use mabeam_engine::sync::index::{KeyedSlots, NameIndex};

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

/// A value whose fields are written (Relaxed) after construction and before publication:
/// a reader sees the final values only if every path to it (slot, bucket copy) is a
/// Release store paired with an Acquire load.
struct Value {
    key: u64,
    version: AtomicU64,
    check: AtomicU64,
}

fn value(key: u64, version: u64) -> Box<Value> {
    let v = Box::new(Value {
        key,
        version: AtomicU64::new(0),
        check: AtomicU64::new(0),
    });
    v.version.store(version, Ordering::Relaxed);
    v.check.store(key * 100 + version, Ordering::Relaxed);
    v
}

/// The version of `key` a reader finds, checking the value is whole and is `key`'s.
fn read(table: &KeyedSlots<Value>, key: u64) -> Option<u64> {
    let g = pin();
    let (slot, v) = table.find(chained(key), &g, |v| v.key == key)?;
    assert_eq!(v.key, key, "found another key's value");
    let version = v.version.load(Ordering::Relaxed);
    assert!(version >= 1, "saw an unpublished value");
    assert_eq!(
        v.check.load(Ordering::Relaxed),
        key * 100 + version,
        "torn value"
    );
    let by_slot = table.get(slot, &g).map(|v| v.key);
    assert!(
        by_slot.is_none() || by_slot == Some(key),
        "slot holds another key"
    );
    Some(version)
}

#[test]
fn keyed_readers_see_whole_current_values() {
    loom::model(|| {
        // X (slot 1) and K (slot 2) share a probe chain; the writer updates K, removes X
        // and inserts Y (slot 3) into X's tombstone, while a reader looks all three up.
        let (table, mut w) = KeyedSlots::<Value>::new(4, 2, Backlog::new());
        let table = Arc::new(table);
        {
            let g = pin();
            assert!(table.insert(&mut w, chained(1), 1, value(1, 1), &g).is_ok());
            assert!(table.insert(&mut w, chained(2), 2, value(2, 1), &g).is_ok());
        }
        let writer = {
            let table = table.clone();
            thread::spawn(move || {
                let g = pin();
                assert!(
                    table
                        .replace(&mut w, chained(2), 2, value(2, 2), &g)
                        .is_ok()
                );
                assert!(table.remove(&mut w, chained(1), 1, &g).is_some());
                assert!(table.insert(&mut w, chained(3), 3, value(3, 1), &g).is_ok());
            })
        };
        let k = read(&table, 2).expect("K lost");
        let k_again = read(&table, 2).expect("K lost");
        assert!(k_again >= k, "K went back in time");
        let x = read(&table, 1);
        assert!(x.is_none() || x == Some(1));
        let y = read(&table, 3);
        assert!(y.is_none() || y == Some(1));
        writer.join().unwrap();
        assert_eq!(read(&table, 2), Some(2));
        assert_eq!(read(&table, 1), None);
        assert_eq!(read(&table, 3), Some(1));
    });
}

#[test]
fn keyed_readers_survive_a_rebuild() {
    loom::model(|| {
        // 8 buckets holding 5 keys; the writer updates K (key 5) and then inserts two more
        // keys, forcing a rebuild (the bucket copies move to the fresh table).
        let (table, mut w) = KeyedSlots::<Value>::new(8, 1, Backlog::new());
        let table = Arc::new(table);
        {
            let g = pin();
            for k in 1..=5u64 {
                assert!(
                    table
                        .insert(&mut w, chained(k), k as u32, value(k, 1), &g)
                        .is_ok()
                );
            }
            assert_eq!(table.buckets(&g), 8);
        }
        let writer = {
            let table = table.clone();
            thread::spawn(move || {
                let g = pin();
                assert!(
                    table
                        .replace(&mut w, chained(5), 5, value(5, 2), &g)
                        .is_ok()
                );
                assert!(table.insert(&mut w, chained(6), 6, value(6, 1), &g).is_ok());
                assert!(table.insert(&mut w, chained(7), 7, value(7, 1), &g).is_ok());
                assert_eq!(table.buckets(&g), 16, "no rebuild happened");
                assert!(
                    table
                        .replace(&mut w, chained(5), 5, value(5, 3), &g)
                        .is_ok()
                );
            })
        };
        let k = read(&table, 5).expect("K lost");
        assert!((1..=3).contains(&k));
        writer.join().unwrap();
        assert_eq!(read(&table, 5), Some(3));
        for key in 1..=7 {
            assert!(read(&table, key).is_some());
        }
    });
}
