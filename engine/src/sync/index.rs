//! A single-writer hash index with lock-free reads: key hash -> slot number.
//!
//! The table is open addressing with linear probing over `AtomicU64` buckets. A bucket is
//! `EMPTY` (0), a `TOMBSTONE` (1), or a full entry: bit 32 set, the slot number in the low 32
//! bits, and the low 31 bits of the key's hash (the *tag*) in the top 31 bits. The index
//! stores no keys: a reader that finds a full bucket with a matching tag asks its caller
//! whether the slot really holds the key (`is_match`), so a stale or colliding entry costs
//! one extra check, never a wrong answer.
//!
//! Writer rules (one writer per index, serialised by the caller):
//! - insert writes a full entry into the first tombstone or empty bucket of the probe
//!   sequence; remove overwrites the entry with a tombstone; a bucket never returns to
//!   `EMPTY`, so the probe sequence of a key that stays present is never cut short;
//! - when live entries plus tombstones pass 3/4 of the buckets (or live entries fall below
//!   1/8 of an oversized table), the writer builds a fresh table holding only live entries
//!   (at most half full) and republishes it through an [`EpochBox`]; readers still probing
//!   the old table see a consistent, merely older, view, and the old table is freed once
//!   they unpin.
//!
//! Readers: load the table under a [`Guard`], probe from the home bucket until `EMPTY`.
//! Every bucket load is Acquire and pairs with the writer's Release store, so the slot a
//! reader finds was published before the entry pointing at it.

use super::epoch::{Backlog, EpochBox, Guard};
use super::primitive::{AtomicU64, AtomicUsize, Ordering};

const EMPTY: u64 = 0;
const TOMBSTONE: u64 = 1;
const FULL: u64 = 1 << 32;
const TAG_BITS: u64 = 0x7FFF_FFFF;

/// The largest number of buckets an index may use (the tag must cover the bucket mask).
pub const MAX_BUCKETS: usize = 1 << 31;

fn tag_of(hash: u64) -> u64 {
    hash & TAG_BITS
}

fn entry(hash: u64, slot: u32) -> u64 {
    (tag_of(hash) << 33) | FULL | u64::from(slot)
}

fn is_full(bucket: u64) -> bool {
    bucket & FULL != 0
}

fn slot_of(bucket: u64) -> u32 {
    // Truncation is the point: the slot number is the low 32 bits.
    (bucket & 0xFFFF_FFFF) as u32
}

struct Table {
    mask: usize,
    buckets: Box<[AtomicU64]>,
}

impl Table {
    fn new(buckets: usize) -> Self {
        Self {
            mask: buckets - 1,
            buckets: (0..buckets).map(|_| AtomicU64::new(EMPTY)).collect(),
        }
    }

    fn home(&self, hash: u64) -> usize {
        // The tag holds the low 31 bits of the hash and the mask is below 2^31.
        (tag_of(hash) as usize) & self.mask
    }
}

/// Lock-free-read, single-writer map from a key's 64-bit hash to a `u32` slot number.
pub struct NameIndex {
    table: EpochBox<Table>,
    live: AtomicUsize,
    tombstones: AtomicUsize,
    min_buckets: usize,
    backlog: Backlog,
}

impl NameIndex {
    /// An index sized for about `expected` keys without a rebuild; it grows and shrinks on
    /// its own (never below that size). Retired tables are counted in `backlog`.
    pub fn new(expected: usize, backlog: Backlog) -> Self {
        let min_buckets = buckets_for(expected);
        Self {
            table: EpochBox::new(Box::new(Table::new(min_buckets))),
            live: AtomicUsize::new(0),
            tombstones: AtomicUsize::new(0),
            min_buckets,
            backlog,
        }
    }

    /// The slot of the key with this hash for which `is_match(slot)` holds, if any.
    /// Any thread; never blocks.
    #[inline]
    pub fn find(
        &self,
        hash: u64,
        guard: &Guard,
        mut is_match: impl FnMut(u32) -> bool,
    ) -> Option<u32> {
        let table = self.table.load(guard)?;
        let tag = tag_of(hash);
        let mut i = table.home(hash);
        for _ in 0..=table.mask {
            let bucket = table.buckets[i].load(Ordering::Acquire);
            if bucket == EMPTY {
                return None;
            }
            if is_full(bucket) && bucket >> 33 == tag && is_match(slot_of(bucket)) {
                return Some(slot_of(bucket));
            }
            i = (i + 1) & table.mask;
        }
        None
    }

    /// Adds `hash -> slot`. Writer only; the caller has checked the key is absent.
    pub fn insert(&self, hash: u64, slot: u32, guard: &Guard) {
        let Some(table) = self.table.load(guard) else {
            return;
        };
        let mut i = table.home(hash);
        loop {
            let bucket = table.buckets[i].load(Ordering::Relaxed);
            if bucket == EMPTY || bucket == TOMBSTONE {
                table.buckets[i].store(entry(hash, slot), Ordering::Release);
                if bucket == TOMBSTONE {
                    self.tombstones.fetch_sub(1, Ordering::Relaxed);
                }
                break;
            }
            i = (i + 1) & table.mask;
        }
        let live = self.live.fetch_add(1, Ordering::Relaxed) + 1;
        let used = live + self.tombstones.load(Ordering::Relaxed);
        if used * 4 > table.buckets.len() * 3 {
            self.rebuild(table, guard);
        }
    }

    /// Removes `hash -> slot`; false if it was not there. Writer only.
    pub fn remove(&self, hash: u64, slot: u32, guard: &Guard) -> bool {
        let Some(table) = self.table.load(guard) else {
            return false;
        };
        let target = entry(hash, slot);
        let mut i = table.home(hash);
        for _ in 0..=table.mask {
            let bucket = table.buckets[i].load(Ordering::Relaxed);
            if bucket == EMPTY {
                return false;
            }
            if bucket == target {
                table.buckets[i].store(TOMBSTONE, Ordering::Release);
                self.tombstones.fetch_add(1, Ordering::Relaxed);
                let live = self.live.fetch_sub(1, Ordering::Relaxed) - 1;
                if table.buckets.len() > self.min_buckets && live * 8 < table.buckets.len() {
                    self.rebuild(table, guard);
                }
                return true;
            }
            i = (i + 1) & table.mask;
        }
        false
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Whether the index holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tombstones in the current table (they go away at the next rebuild).
    pub fn tombstones(&self) -> usize {
        self.tombstones.load(Ordering::Relaxed)
    }

    /// Buckets in the current table.
    pub fn buckets(&self, guard: &Guard) -> usize {
        self.table.load(guard).map_or(0, |t| t.buckets.len())
    }

    /// Copies the live entries into a fresh table and republishes it.
    fn rebuild(&self, old: &Table, guard: &Guard) {
        let live = self.live.load(Ordering::Relaxed);
        let fresh = Table::new(buckets_for(live).max(self.min_buckets));
        for bucket in old.buckets.iter() {
            let bucket = bucket.load(Ordering::Relaxed);
            if !is_full(bucket) {
                continue;
            }
            let mut i = ((bucket >> 33) as usize) & fresh.mask;
            while fresh.buckets[i].load(Ordering::Relaxed) != EMPTY {
                i = (i + 1) & fresh.mask;
            }
            fresh.buckets[i].store(bucket, Ordering::Relaxed);
        }
        // The swap inside `replace` is a Release: the bucket stores above are visible to
        // any reader that loads the new table.
        self.table
            .replace(Some(Box::new(fresh)), guard, &self.backlog);
        self.tombstones.store(0, Ordering::Relaxed);
    }
}

/// Buckets for `keys` entries at most half full: a power of two, at least 8.
fn buckets_for(keys: usize) -> usize {
    keys.saturating_mul(2)
        .saturating_add(2)
        .max(8)
        .checked_next_power_of_two()
        .unwrap_or(MAX_BUCKETS)
        .min(MAX_BUCKETS)
}

impl std::fmt::Debug for NameIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameIndex")
            .field("len", &self.len())
            .field("tombstones", &self.tombstones())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::epoch::pin;
    use std::collections::HashMap;

    // A weak hash on purpose, so that tags collide and probe chains form.
    fn h(key: u64) -> u64 {
        key % 13
    }

    #[test]
    fn insert_find_remove_with_collisions() {
        let idx = NameIndex::new(4, Backlog::new());
        let g = pin();
        // slot == key in this test, so is_match compares them.
        for k in 0..40u32 {
            idx.insert(h(u64::from(k)), k, &g);
        }
        assert_eq!(idx.len(), 40);
        for k in 0..40u32 {
            assert_eq!(idx.find(h(u64::from(k)), &g, |s| s == k), Some(k));
        }
        assert_eq!(idx.find(h(99), &g, |s| s == 99), None);
        for k in (0..40u32).step_by(2) {
            assert!(idx.remove(h(u64::from(k)), k, &g));
            assert!(!idx.remove(h(u64::from(k)), k, &g));
        }
        for k in 0..40u32 {
            let want = (k % 2 == 1).then_some(k);
            assert_eq!(idx.find(h(u64::from(k)), &g, |s| s == k), want);
        }
    }

    #[test]
    fn churn_against_model_rebuilds_and_stays_bounded() {
        let idx = NameIndex::new(16, Backlog::new());
        let mut model: HashMap<u32, u64> = HashMap::new();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for step in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = (x % 64) as u32;
            let hash = u64::from(key).wrapping_mul(0x9E37_79B9);
            let g = pin();
            if let Some(&hk) = model.get(&key) {
                assert!(idx.remove(hk, key, &g), "step {step}");
                model.remove(&key);
            } else {
                idx.insert(hash, key, &g);
                model.insert(key, hash);
            }
            assert_eq!(idx.len(), model.len());
            assert!(idx.buckets(&g) <= 256, "index grew without bound");
        }
        let g = pin();
        for key in 0..64u32 {
            let hash = u64::from(key).wrapping_mul(0x9E37_79B9);
            assert_eq!(
                idx.find(hash, &g, |s| s == key).is_some(),
                model.contains_key(&key)
            );
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(buckets_for(0), 8);
        assert_eq!(buckets_for(3), 8);
        assert_eq!(buckets_for(4), 16);
        assert_eq!(buckets_for(usize::MAX), MAX_BUCKETS);
    }
}
