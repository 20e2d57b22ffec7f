//! A single-writer hash index with lock-free reads: key hash -> slot number (and, in
//! [`KeyedSlots`], the slot's current value).
//!
//! The table is open addressing with linear probing over 16-byte buckets. A bucket's first
//! word is `EMPTY` (0), a `TOMBSTONE` (1), or a full entry: bit 32 set, the slot number in
//! the low 32 bits, and the low 31 bits of the key's hash (the *tag*) in the top 31 bits.
//! Its second word is a copy of the pointer the slot publishes (null in a bare
//! [`NameIndex`]), so that [`KeyedSlots::find`] reaches the value from the bucket without
//! loading the slot. The index stores no keys: a reader that finds a full bucket with a
//! matching tag asks its caller whether the slot (or value) really is the key's
//! (`is_match`), so a stale or colliding entry costs one extra check, never a wrong answer.
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

use std::ptr;

use super::epoch::{Backlog, EpochBox, Guard};
use super::primitive::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

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

/// One bucket: the entry word, then the value pointer, in one 16-byte aligned pair so
/// that a reader's second load hits the line the first one fetched.
#[repr(C, align(16))]
struct Bucket {
    meta: AtomicU64,
    /// The slot's current value (type-erased), or null. Written by the writer before
    /// `meta` on insert, after `meta` on remove; see [`KeyedSlots`].
    value: AtomicPtr<()>,
}

impl Bucket {
    fn empty() -> Self {
        Self {
            meta: AtomicU64::new(EMPTY),
            value: AtomicPtr::new(ptr::null_mut()),
        }
    }
}

struct Table {
    mask: usize,
    buckets: Box<[Bucket]>,
}

impl Table {
    fn new(buckets: usize) -> Self {
        Self {
            mask: buckets - 1,
            buckets: (0..buckets).map(|_| Bucket::empty()).collect(),
        }
    }

    /// The bucket holding exactly `target` (writer only).
    fn position(&self, hash: u64, target: u64) -> Option<usize> {
        let mut i = self.home(hash);
        for _ in 0..=self.mask {
            let bucket = self.buckets[i].meta.load(Ordering::Relaxed);
            if bucket == EMPTY {
                return None;
            }
            if bucket == target {
                return Some(i);
            }
            i = (i + 1) & self.mask;
        }
        None
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
        self.find_raw(hash, guard, |slot, _| is_match(slot))
            .map(|(slot, _)| slot)
    }

    /// Probes for `hash`, calling `is_match(slot, value)` on every full bucket whose tag
    /// matches (`value` is the bucket's pointer copy, Acquire-loaded after the entry word,
    /// possibly null).
    #[inline]
    fn find_raw(
        &self,
        hash: u64,
        guard: &Guard,
        mut is_match: impl FnMut(u32, *mut ()) -> bool,
    ) -> Option<(u32, *mut ())> {
        let table = self.table.load(guard)?;
        let tag = tag_of(hash);
        let mut i = table.home(hash);
        for _ in 0..=table.mask {
            let b = &table.buckets[i];
            let bucket = b.meta.load(Ordering::Acquire);
            if bucket == EMPTY {
                return None;
            }
            if is_full(bucket) && bucket >> 33 == tag {
                let value = b.value.load(Ordering::Acquire);
                if is_match(slot_of(bucket), value) {
                    return Some((slot_of(bucket), value));
                }
            }
            i = (i + 1) & table.mask;
        }
        None
    }

    /// Adds `hash -> slot`. Writer only; the caller has checked the key is absent.
    pub fn insert(&self, hash: u64, slot: u32, guard: &Guard) {
        self.insert_raw(hash, slot, ptr::null_mut(), guard);
    }

    /// Adds `hash -> slot` with the slot's value pointer: the pointer is stored before the
    /// entry word (Release), so a reader that sees the entry sees the pointer.
    fn insert_raw(&self, hash: u64, slot: u32, value: *mut (), guard: &Guard) {
        let Some(table) = self.table.load(guard) else {
            return;
        };
        let mut i = table.home(hash);
        loop {
            let bucket = table.buckets[i].meta.load(Ordering::Relaxed);
            if bucket == EMPTY || bucket == TOMBSTONE {
                table.buckets[i].value.store(value, Ordering::Release);
                table.buckets[i]
                    .meta
                    .store(entry(hash, slot), Ordering::Release);
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
    ///
    /// The entry word becomes a tombstone, then the pointer copy is cleared: a reader that
    /// loaded the entry just before may still load the old pointer, which the caller keeps
    /// alive (it retires the value only after this returns).
    pub fn remove(&self, hash: u64, slot: u32, guard: &Guard) -> bool {
        let Some(table) = self.table.load(guard) else {
            return false;
        };
        let Some(i) = table.position(hash, entry(hash, slot)) else {
            return false;
        };
        table.buckets[i].meta.store(TOMBSTONE, Ordering::Release);
        table.buckets[i]
            .value
            .store(ptr::null_mut(), Ordering::Release);
        self.tombstones.fetch_add(1, Ordering::Relaxed);
        let live = self.live.fetch_sub(1, Ordering::Relaxed) - 1;
        if table.buckets.len() > self.min_buckets && live * 8 < table.buckets.len() {
            self.rebuild(table, guard);
        }
        true
    }

    /// Points the entry `hash -> slot` at the slot's new value; false if it is not there.
    /// Writer only.
    fn set_value(&self, hash: u64, slot: u32, value: *mut (), guard: &Guard) -> bool {
        let Some(table) = self.table.load(guard) else {
            return false;
        };
        let Some(i) = table.position(hash, entry(hash, slot)) else {
            return false;
        };
        table.buckets[i].value.store(value, Ordering::Release);
        true
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
        for b in old.buckets.iter() {
            let bucket = b.meta.load(Ordering::Relaxed);
            if !is_full(bucket) {
                continue;
            }
            let mut i = ((bucket >> 33) as usize) & fresh.mask;
            while fresh.buckets[i].meta.load(Ordering::Relaxed) != EMPTY {
                i = (i + 1) & fresh.mask;
            }
            fresh.buckets[i]
                .value
                .store(b.value.load(Ordering::Relaxed), Ordering::Relaxed);
            fresh.buckets[i].meta.store(bucket, Ordering::Relaxed);
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

/// Preallocated slots of immutable values, found by number or by key hash, with one
/// writer and lock-free readers.
///
/// Each slot is an [`EpochBox<T>`]; the [`NameIndex`] beside them maps a key's hash to the
/// slot *and* keeps a copy of the slot's value pointer in the bucket, so a lookup by key
/// makes two dependent memory accesses (bucket, value) instead of three (bucket, slot,
/// value). All writes go through this type, which keeps the rule that makes the copies
/// safe: a value is retired only after every copy of its pointer (slot, bucket) has been
/// overwritten, and readers only dereference pointers loaded under their [`Guard`].
///
/// Writes need the table's [`SlotsWriter`] by `&mut`, so there is exactly one writer at a
/// time by construction (a second writer could leave a stale pointer copy behind, which
/// the safety argument excludes). The writer keeps the keys' uniqueness:
/// [`KeyedSlots::insert`] into an empty slot under a hash not yet indexed for that slot;
/// [`KeyedSlots::replace`] and [`KeyedSlots::remove`] for a `(hash, slot)` inserted before.
pub struct KeyedSlots<T> {
    slots: Box<[EpochBox<T>]>,
    index: NameIndex,
    backlog: Backlog,
    id: u64,
}

/// The one write capability of a [`KeyedSlots`]: made with it, `Send`, not `Clone`.
#[derive(Debug)]
pub struct SlotsWriter {
    table: u64,
}

impl<T: Send + 'static> KeyedSlots<T> {
    /// `slots` empty slots and an index sized for about `expected` keys, and their writer.
    /// Values and index tables retired later are counted in `backlog`.
    pub fn new(slots: usize, expected: usize, backlog: Backlog) -> (Self, SlotsWriter) {
        // Not part of any checked protocol: a plain std counter naming each table.
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let table = Self {
            slots: (0..slots).map(|_| EpochBox::empty()).collect(),
            index: NameIndex::new(expected, backlog.clone()),
            backlog,
            id,
        };
        (table, SlotsWriter { table: id })
    }

    /// The number of slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Keys indexed.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no key is indexed.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Tombstones in the index's current table.
    pub fn tombstones(&self) -> usize {
        self.index.tombstones()
    }

    /// Buckets in the index's current table.
    pub fn buckets(&self, guard: &Guard) -> usize {
        self.index.buckets(guard)
    }

    /// The value in `slot`, if any. Any thread; never blocks.
    #[inline]
    pub fn get<'g>(&'g self, slot: u32, guard: &'g Guard) -> Option<&'g T> {
        self.slots.get(slot as usize)?.load(guard)
    }

    /// The value in `slot`, read by the writer without pinning; `None` for an empty slot,
    /// a slot out of range or a writer of another table. Every write to the table needs
    /// `&mut SlotsWriter`, so none can retire the value while this borrow of `writer` lives.
    #[inline]
    pub fn get_owned<'w>(&'w self, writer: &'w SlotsWriter, slot: u32) -> Option<&'w T> {
        if writer.table != self.id {
            return None;
        }
        let cell = self.slots.get(slot as usize)?;
        // SAFETY: values in this table's slots are retired only by `insert`, `replace` and
        // `remove`, which need `&mut` to this table's one `SlotsWriter`; the shared borrow
        // of it for 'w excludes them, so the value outlives the returned borrow.
        unsafe { cell.load_unpinned() }
    }

    /// The slot and value of the key with this hash for which `is_match(value)` holds.
    /// Any thread; never blocks. `is_match` must check the whole key (the index compares
    /// only 31 bits of the hash), and may see a value that is being replaced or removed.
    #[inline]
    pub fn find<'g>(
        &'g self,
        hash: u64,
        guard: &'g Guard,
        mut is_match: impl FnMut(&T) -> bool,
    ) -> Option<(u32, &'g T)> {
        let (slot, value) = self.index.find_raw(hash, guard, |_, value| {
            // SAFETY: see `deref` below; the reference does not escape this call.
            unsafe { deref::<T>(value) }.is_some_and(&mut is_match)
        })?;
        // SAFETY: `value` came from a bucket of a table loaded under `guard`, as above.
        unsafe { deref::<T>(value) }.map(|v| (slot, v))
    }

    /// Publishes `value` in the empty `slot` and indexes it under `hash`. Writer only.
    /// Gives the value back if the slot is out of range or not empty.
    /// Also refused with a writer of another table.
    pub fn insert(
        &self,
        writer: &mut SlotsWriter,
        hash: u64,
        slot: u32,
        value: Box<T>,
        guard: &Guard,
    ) -> Result<(), Box<T>> {
        let Some(cell) = self.slots.get(slot as usize) else {
            return Err(value);
        };
        if writer.table != self.id {
            return Err(value);
        }
        if !cell.is_empty() {
            return Err(value);
        }
        // The slot is empty: nothing is retired. The value is published in the slot first,
        // then in the index (pointer before entry word, both Release).
        cell.replace_then(Some(value), guard, &self.backlog, |new| {
            self.index.insert_raw(hash, slot, new.cast(), guard);
        });
        Ok(())
    }

    /// Publishes `value` in place of the value of `(hash, slot)` and retires the previous
    /// one, which stays readable through the returned reference while `guard` lives.
    /// Writer only. Gives the value back if `(hash, slot)` is not indexed.
    /// Also refused with a writer of another table.
    pub fn replace<'g>(
        &'g self,
        writer: &mut SlotsWriter,
        hash: u64,
        slot: u32,
        value: Box<T>,
        guard: &'g Guard,
    ) -> Result<Option<&'g T>, Box<T>> {
        let Some(cell) = self.slots.get(slot as usize) else {
            return Err(value);
        };
        if writer.table != self.id || self.index.find_raw(hash, guard, |s, _| s == slot).is_none() {
            return Err(value);
        }
        // The bucket's copy is overwritten before the old value is retired.
        Ok(cell.replace_then(Some(value), guard, &self.backlog, |new| {
            self.index.set_value(hash, slot, new.cast(), guard);
        }))
    }

    /// Unindexes `(hash, slot)`, empties the slot and retires its value, which stays
    /// readable through the returned reference while `guard` lives. Writer only; `None`
    /// if `(hash, slot)` was not indexed or `writer` belongs to another table (nothing is
    /// changed then).
    pub fn remove<'g>(
        &'g self,
        writer: &mut SlotsWriter,
        hash: u64,
        slot: u32,
        guard: &'g Guard,
    ) -> Option<&'g T> {
        let cell = self.slots.get(slot as usize)?;
        if writer.table != self.id {
            return None;
        }
        // Unindex first (entry word, then pointer copy), then empty the slot and retire.
        if !self.index.remove(hash, slot, guard) {
            return None;
        }
        cell.replace(None, guard, &self.backlog)
    }
}

/// Borrows a value pointer loaded from an index bucket.
///
/// # Safety
///
/// `value` must be null or a pointer copy loaded (Acquire) from a bucket of a table
/// loaded under `guard`-like pinning that is still alive for `'g`: every non-null copy was
/// made from a `Box::into_raw` pointer published in a slot (`KeyedSlots::insert` and
/// `replace`, after the value was fully built), and the value is retired only after its
/// copies are overwritten, so it is freed no earlier than when every thread pinned before
/// the retirement has unpinned.
#[inline]
unsafe fn deref<'g, T>(value: *mut ()) -> Option<&'g T> {
    // SAFETY: the caller's contract above: the pointee is a live, initialised `T` for 'g.
    unsafe { value.cast::<T>().as_ref() }
}

impl<T> std::fmt::Debug for KeyedSlots<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedSlots")
            .field("capacity", &self.slots.len())
            .field("index", &self.index)
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
    fn keyed_slots_find_the_current_value_through_rebuilds() {
        let (t, mut w) = KeyedSlots::<(u64, u32)>::new(64, 2, Backlog::new());
        let g = pin();
        // Weak hashes: long probe chains; values are (key, version).
        for k in 0..40u32 {
            assert!(
                t.insert(&mut w, h(u64::from(k)), k, Box::new((u64::from(k), 0)), &g)
                    .is_ok()
            );
        }
        assert!(t.buckets(&g) > 8, "no rebuild happened");
        // Occupied slot, out-of-range slot: refused, value handed back.
        assert_eq!(
            t.insert(&mut w, 1, 3, Box::new((9, 9)), &g).unwrap_err().0,
            9
        );
        assert!(t.insert(&mut w, 1, 64, Box::new((9, 9)), &g).is_err());
        for k in 0..40u32 {
            let old = t.replace(&mut w, h(u64::from(k)), k, Box::new((u64::from(k), 1)), &g);
            assert_eq!(old.ok().flatten(), Some(&(u64::from(k), 0)));
        }
        // Not indexed under that hash: refused.
        assert!(
            t.replace(&mut w, h(3) + 1, 3, Box::new((3, 2)), &g)
                .is_err()
        );
        for k in (0..40u32).step_by(2) {
            assert_eq!(
                t.remove(&mut w, h(u64::from(k)), k, &g),
                Some(&(u64::from(k), 1))
            );
            assert_eq!(t.remove(&mut w, h(u64::from(k)), k, &g), None);
        }
        for k in 0..40u32 {
            let key = u64::from(k);
            let found = t.find(h(key), &g, |v| v.0 == key).map(|(s, v)| (s, *v));
            assert_eq!(found, (k % 2 == 1).then_some((k, (key, 1))));
            assert_eq!(t.get(k, &g).is_some(), k % 2 == 1);
        }
        assert_eq!(t.len(), 20);
        // Another table's writer is refused everywhere.
        let (_, mut other) = KeyedSlots::<(u64, u32)>::new(1, 1, Backlog::new());
        assert!(t.insert(&mut other, h(0), 0, Box::new((0, 0)), &g).is_err());
        assert!(
            t.replace(&mut other, h(1), 1, Box::new((1, 2)), &g)
                .is_err()
        );
        assert!(t.remove(&mut other, h(1), 1, &g).is_none());
        assert_eq!(t.find(h(1), &g, |v| v.0 == 1), Some((1, &(1, 1))));
        // The writer reads without pinning; another table's writer reads nothing.
        assert_eq!(t.get_owned(&w, 1), Some(&(1, 1)));
        assert_eq!(t.get_owned(&w, 0), None);
        assert_eq!(t.get_owned(&w, 64), None);
        assert_eq!(t.get_owned(&other, 1), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(buckets_for(0), 8);
        assert_eq!(buckets_for(3), 8);
        assert_eq!(buckets_for(4), 16);
        assert_eq!(buckets_for(usize::MAX), MAX_BUCKETS);
    }
}
