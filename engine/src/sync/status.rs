//! A compact, pin-free status table: key -> two words of status, read without touching
//! the epoch collector, usually in one cache line.
//!
//! [`StatusTable`] sits beside a table of epoch-published values (the registry's records,
//! kept in numbered slots) and mirrors the few words a hot lookup needs. Everything it owns
//! is allocated once, up front, and never freed while it lives, so a reader needs no
//! guard: it reads atomics only and validates what it read with sequence counters
//! (seqlocks). Nothing here is `unsafe` except the zeroed allocation of the arrays.
//!
//! Layout: an open-addressing table of 64-byte **lines**, linear probing from the key's
//! home line (low bits of its hash), at least twice as many lines as expected keys. A line
//! is one key's whole entry: word 0 is its *head*: sequence (bits 0-31, odd while the
//! writer changes the line), key length (bits 32-39; 0 for an empty line, [`LONG_KEY`] for
//! a key longer than [`KEY_MAX`] bytes, whose bytes are not stored) and the slot number
//! (bits 40-63); words 1-2 are the caller's status words; words 3-7 the key's bytes,
//! zero-padded to a whole word (words past the length are never read). A lookup by key compares in the line it has fetched, so a hit usually costs
//! one cache miss. `positions` maps a slot number to its line (plus one; 0 = none), for
//! lookups by slot. Deletion shifts the rest of the probe chain back (no tombstones, never
//! a rebuild) under the table's own sequence counter, `version`.
//!
//! Writer (one, holding the [`StatusWriter`] by `&mut`): a line is written between two
//! stores of its head (odd sequence, Release fence, the words, even sequence with a
//! Release store); a slot's position is stored (Release) after its line. A removal bumps
//! `version` to odd (Release fence), moves lines back, empties the last one, and bumps it
//! to even (Release store). If the table holds three lines in four, a further key is not
//! mirrored: it is counted in `unmirrored`, and while that count is not zero readers
//! answer `Busy` where they would answer `Miss`.
//!
//! Reader ([`StatusTable::find`], [`StatusTable::get`]): a hit is a line whose head was
//! even and unchanged across the reads of its words and whose key equals the one asked for
//! (or, by slot, whose slot is the one asked for); a line holds a key only while that key
//! is in the table, so a hit is exact whatever else moved meanwhile. A miss is trusted only
//! if `version` was even and unchanged across the whole probe (no line moved back past the
//! reader). A reader that meets a write in progress does not wait: it gets [`Probe::Busy`]
//! and asks the authoritative copy, so a paused writer never blocks a reader.

use super::primitive::{AtomicU32, AtomicU64, AtomicUsize, CachePadded, Ordering, fence};

/// Longest key stored inline; longer keys are mirrored but must be looked up elsewhere.
pub const KEY_MAX: usize = 40;
/// The length recorded for a key longer than [`KEY_MAX`].
pub const LONG_KEY: u8 = u8::MAX;
/// Most slots a table may serve (a head packs the slot in 24 bits).
pub const SLOTS_MAX: usize = 1 << 24;
/// Most lines a table allocates (128 MiB); more keys than 3/4 of that are not mirrored.
pub const LINES_MAX: usize = 1 << 21;

const KEY_WORDS: usize = KEY_MAX / 8;
/// How many times a reader retries a line that changed under it before answering `Busy`.
const RETRIES: usize = 2;

/// One key's entry; see the module docs.
#[repr(C, align(64))]
struct Line {
    head: AtomicU64,
    status: [AtomicU64; 2],
    key: [AtomicU64; KEY_WORDS],
}

/// What a reader found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The key is in this slot, with these status words (read as one consistent pair).
    Hit {
        /// The slot holding the key.
        slot: u32,
        /// The slot's status words.
        status: [u64; 2],
    },
    /// The key is not in the table.
    Miss,
    /// A write was in progress where the reader looked, or the key is not mirrored here;
    /// ask the authoritative copy.
    Busy,
}

/// What one line held when read.
enum Seen {
    Hit(u32, [u64; 2]),
    Empty,
    Other,
    Busy,
}

/// The table; see the module docs.
pub struct StatusTable {
    version: CachePadded<AtomicU64>,
    unmirrored: CachePadded<AtomicUsize>,
    mask: usize,
    lines: Box<[Line]>,
    positions: Box<[AtomicU32]>,
    id: u64,
}

/// The one write capability of a [`StatusTable`]: made with it, `Send`, not `Clone`. It
/// remembers each slot's hash (to find a line's home when shifting a chain) and how many
/// lines are full.
#[derive(Debug)]
pub struct StatusWriter {
    table: u64,
    hashes: Vec<u64>,
    unmirrored: Vec<bool>,
    full: usize,
}

/// A key's bytes as zero-padded little-endian words, the form stored in a line.
#[derive(Clone, Copy)]
struct KeyWords {
    len: u8,
    words: [u64; KEY_WORDS],
}

impl KeyWords {
    #[inline]
    fn new(key: &[u8]) -> Self {
        let mut words = [0u64; KEY_WORDS];
        if key.len() > KEY_MAX {
            return Self {
                len: LONG_KEY,
                words,
            };
        }
        for (i, w) in words.iter_mut().enumerate().take(key.len().div_ceil(8)) {
            *w = word_at(key, i * 8);
        }
        // In range: the length is at most KEY_MAX (40).
        Self {
            len: key.len() as u8,
            words,
        }
    }
}

/// The bytes of `key` from `at` (below its length) as a little-endian word, zero-padded
/// past the end; no copy through memory.
#[inline]
fn word_at(key: &[u8], at: usize) -> u64 {
    let len = key.len();
    let word = |from: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&key[from..from + 8]);
        u64::from_le_bytes(b)
    };
    if at + 8 <= len {
        return word(at);
    }
    let rest = len - at;
    if len >= 8 {
        // The key's last 8 bytes, shifted right past the ones before `at`.
        return word(len - 8) >> (8 * (8 - rest));
    }
    key.iter()
        .enumerate()
        .fold(0, |w, (i, b)| w | u64::from(*b) << (8 * i))
}

fn seq_of(head: u64) -> u32 {
    head as u32
}

fn len_of(head: u64) -> u8 {
    (head >> 32) as u8
}

fn slot_of(head: u64) -> u32 {
    (head >> 40) as u32
}

fn head(seq: u32, len: u8, slot: u32) -> u64 {
    u64::from(slot) << 40 | u64::from(len) << 32 | u64::from(seq)
}

impl StatusTable {
    /// A table for slots numbered below `slots` (at most [`SLOTS_MAX`]), with lines for
    /// about `expected` keys (twice as many lines, rounded up to a power of two, at most
    /// [`LINES_MAX`]), and its writer. Memory is reserved zeroed, so pages never written
    /// are never committed.
    pub fn new(slots: usize, expected: usize) -> (Self, StatusWriter) {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let slots = slots.clamp(1, SLOTS_MAX);
        let lines = expected
            .clamp(1, slots)
            .saturating_mul(2)
            .next_power_of_two()
            .clamp(8, LINES_MAX);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let table = Self {
            version: CachePadded::new(AtomicU64::new(0)),
            unmirrored: CachePadded::new(AtomicUsize::new(0)),
            mask: lines - 1,
            lines: zeroed::<Line>(lines),
            positions: zeroed::<AtomicU32>(slots),
            id,
        };
        let writer = StatusWriter {
            table: id,
            hashes: vec![0; slots],
            unmirrored: vec![false; slots],
            full: 0,
        };
        (table, writer)
    }

    /// The number of lines.
    pub fn lines(&self) -> usize {
        self.lines.len()
    }

    fn home(&self, hash: u64) -> usize {
        // Truncation is fine: only the low bits pick the line.
        (hash as usize) & self.mask
    }

    /// Looks `key` (whose hash is `hash`) up. Any thread; never blocks and never waits for
    /// the writer. A key longer than [`KEY_MAX`] is answered `Busy` (not stored inline).
    #[inline]
    pub fn find(&self, hash: u64, key: &[u8]) -> Probe {
        if key.len() > KEY_MAX {
            return Probe::Busy;
        }
        let want = KeyWords::new(key);
        let version = self.version.load(Ordering::Acquire);
        if version & 1 == 1 {
            return Probe::Busy;
        }
        let mut i = self.home(hash);
        for _ in 0..=self.mask {
            match self.read(i, Some(&want)) {
                Seen::Hit(slot, status) => return Probe::Hit { slot, status },
                Seen::Empty => break,
                Seen::Other => {}
                Seen::Busy => return Probe::Busy,
            }
            i = (i + 1) & self.mask;
        }
        // Orders every load above before the rechecks: a chain shifted meanwhile shows.
        fence(Ordering::Acquire);
        if self.version.load(Ordering::Relaxed) != version
            || self.unmirrored.load(Ordering::Relaxed) != 0
        {
            return Probe::Busy;
        }
        Probe::Miss
    }

    /// The status words of `slot` if it holds a key. Any thread; never blocks.
    #[inline]
    pub fn get(&self, slot: u32) -> Probe {
        let Some(position) = self.positions.get(slot as usize) else {
            return Probe::Miss;
        };
        for _ in 0..RETRIES {
            let at = position.load(Ordering::Acquire);
            if at == 0 {
                break;
            }
            match self.read(at as usize - 1, None) {
                Seen::Hit(found, status) if found == slot => {
                    return Probe::Hit { slot, status };
                }
                Seen::Busy => return Probe::Busy,
                // Moved or removed meanwhile: look at the position again.
                _ => {}
            }
        }
        // Nothing at the position: no key, unless it was not mirrored or is moving.
        fence(Ordering::Acquire);
        if self.unmirrored.load(Ordering::Relaxed) != 0 || position.load(Ordering::Relaxed) != 0 {
            return Probe::Busy;
        }
        Probe::Miss
    }

    /// Reads line `i` under its sequence: `Hit` if it holds `want` (or any key, for
    /// `None`), `Empty`, `Other` if it holds another key, `Busy` if it kept changing.
    #[inline]
    fn read(&self, i: usize, want: Option<&KeyWords>) -> Seen {
        let Some(line) = self.lines.get(i) else {
            return Seen::Empty;
        };
        for _ in 0..RETRIES {
            let before = line.head.load(Ordering::Acquire);
            if seq_of(before) & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let len = len_of(before);
            if len == 0 {
                return Seen::Empty;
            }
            let mut same = true;
            if let Some(w) = want {
                same = len == w.len && len != LONG_KEY;
                if same {
                    let words = usize::from(len).div_ceil(8);
                    for (stored, wanted) in line.key[..words].iter().zip(&w.words[..words]) {
                        same &= stored.load(Ordering::Relaxed) == *wanted;
                    }
                }
            }
            let status = [
                line.status[0].load(Ordering::Relaxed),
                line.status[1].load(Ordering::Relaxed),
            ];
            // Orders the loads above before the recheck (pairs with the writer's Release
            // fence after it made the sequence odd).
            fence(Ordering::Acquire);
            if line.head.load(Ordering::Relaxed) == before {
                return if same {
                    Seen::Hit(slot_of(before), status)
                } else {
                    Seen::Other
                };
            }
        }
        Seen::Busy
    }

    /// Rewrites line `i` under its sequence: `len` and `slot` in the head, the status
    /// words, and the key words when given.
    fn write(&self, i: usize, len: u8, slot: u32, status: [u64; 2], key: Option<&[u64]>) {
        let line = &self.lines[i];
        let cur = line.head.load(Ordering::Relaxed);
        let seq = seq_of(cur);
        line.head.store(
            head(seq.wrapping_add(1), len_of(cur), slot_of(cur)),
            Ordering::Relaxed,
        );
        // Any reader that sees a store below also sees the odd sequence at its recheck.
        fence(Ordering::Release);
        line.status[0].store(status[0], Ordering::Relaxed);
        line.status[1].store(status[1], Ordering::Relaxed);
        if let Some(words) = key {
            // Words past the length are never compared, so they are left as they are.
            let used = usize::from(len.min(KEY_MAX as u8)).div_ceil(8);
            for (stored, w) in line.key[..used].iter().zip(words) {
                stored.store(*w, Ordering::Relaxed);
            }
        }
        line.head
            .store(head(seq.wrapping_add(2), len, slot), Ordering::Release);
    }

    /// The line of `slot`, if it is mirrored (writer only: plain loads of its own stores).
    fn line_of(&self, writer: &StatusWriter, slot: u32) -> Option<usize> {
        if writer.table != self.id {
            return None;
        }
        let at = self.positions.get(slot as usize)?.load(Ordering::Relaxed);
        (at != 0).then(|| at as usize - 1)
    }

    /// Mirrors the new key `key` (hash `hash`) of the empty `slot` with `status`. Writer
    /// only; the caller keeps keys unique. False (nothing changed) if the slot is out of
    /// range or holds a key, or `writer` belongs to another table. With three lines in four
    /// full, the key is counted as not mirrored (readers then fall back) and this is true.
    pub fn insert(
        &self,
        writer: &mut StatusWriter,
        slot: u32,
        hash: u64,
        key: &[u8],
        status: [u64; 2],
    ) -> bool {
        let s = slot as usize;
        if writer.table != self.id
            || s >= self.positions.len()
            || writer.unmirrored[s]
            || self.positions[s].load(Ordering::Relaxed) != 0
        {
            return false;
        }
        if (writer.full + 1) * 4 > self.lines.len() * 3 {
            writer.unmirrored[s] = true;
            self.unmirrored.fetch_add(1, Ordering::Release);
            return true;
        }
        let key = KeyWords::new(key);
        let mut i = self.home(hash);
        while len_of(self.lines[i].head.load(Ordering::Relaxed)) != 0 {
            i = (i + 1) & self.mask;
        }
        self.write(i, key.len, slot, status, Some(&key.words));
        writer.hashes[s] = hash;
        writer.full += 1;
        // In range: i < LINES_MAX.
        self.positions[s].store(i as u32 + 1, Ordering::Release);
        true
    }

    /// Replaces the status words of `slot`'s key. Writer only; false if the slot holds no
    /// key or is out of range, or `writer` belongs to another table.
    pub fn set(&self, writer: &mut StatusWriter, slot: u32, status: [u64; 2]) -> bool {
        let Some(i) = self.line_of(writer, slot) else {
            return writer.table == self.id
                && writer.unmirrored.get(slot as usize).copied() == Some(true);
        };
        let line = &self.lines[i];
        let unchanged = line.status[0].load(Ordering::Relaxed) == status[0]
            && line.status[1].load(Ordering::Relaxed) == status[1];
        if !unchanged {
            let cur = line.head.load(Ordering::Relaxed);
            self.write(i, len_of(cur), slot, status, None);
        }
        true
    }

    /// Removes `slot`'s key, shifting its probe chain back. Writer only; false if the slot
    /// holds no key or is out of range, or `writer` belongs to another table.
    pub fn remove(&self, writer: &mut StatusWriter, slot: u32) -> bool {
        let Some(mut hole) = self.line_of(writer, slot) else {
            if writer.table == self.id
                && writer.unmirrored.get(slot as usize).copied() == Some(true)
            {
                writer.unmirrored[slot as usize] = false;
                self.unmirrored.fetch_sub(1, Ordering::Release);
                return true;
            }
            return false;
        };
        let version = self.version.load(Ordering::Relaxed);
        self.version
            .store(version.wrapping_add(1), Ordering::Relaxed);
        // A reader that sees any store below sees the odd version at its recheck.
        fence(Ordering::Release);
        // Backward-shift deletion: move each later line of the chain into the hole unless
        // its home lies cyclically in (hole, j].
        let mut j = hole;
        loop {
            j = (j + 1) & self.mask;
            let line = &self.lines[j];
            let cur = line.head.load(Ordering::Relaxed);
            if len_of(cur) == 0 {
                break;
            }
            let moving = slot_of(cur);
            let home = self.home(writer.hashes[moving as usize]);
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                let status = [
                    line.status[0].load(Ordering::Relaxed),
                    line.status[1].load(Ordering::Relaxed),
                ];
                let used = usize::from(len_of(cur).min(KEY_MAX as u8)).div_ceil(8);
                let key: [u64; KEY_WORDS] = std::array::from_fn(|w| {
                    if w < used {
                        line.key[w].load(Ordering::Relaxed)
                    } else {
                        0
                    }
                });
                self.write(hole, len_of(cur), moving, status, Some(&key));
                // In range: hole < LINES_MAX.
                self.positions[moving as usize].store(hole as u32 + 1, Ordering::Release);
                hole = j;
            }
        }
        self.write(hole, 0, 0, [0, 0], None);
        self.positions[slot as usize].store(0, Ordering::Release);
        writer.full -= 1;
        self.version
            .store(version.wrapping_add(2), Ordering::Release);
        true
    }
}

impl std::fmt::Debug for StatusTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusTable")
            .field("slots", &self.positions.len())
            .field("lines", &self.lines.len())
            .finish()
    }
}

/// `n` values of `T` whose all-zero bit pattern is a valid value (atomics and lines of
/// atomics), allocated zeroed so that pages never touched are never committed.
#[cfg(not(loom))]
fn zeroed<T: Zeroable>(n: usize) -> Box<[T]> {
    use std::alloc::{self, Layout};
    let Ok(layout) = Layout::array::<T>(n) else {
        alloc::handle_alloc_error(Layout::new::<T>());
    };
    if layout.size() == 0 {
        return (0..n).map(|_| T::zero()).collect();
    }
    // SAFETY: `layout` has a non-zero size (checked above).
    let ptr = unsafe { alloc::alloc_zeroed(layout) }.cast::<T>();
    if ptr.is_null() {
        alloc::handle_alloc_error(layout);
    }
    // SAFETY:
    // - `ptr` is a fresh, non-null allocation of `Layout::array::<T>(n)` from the global
    //   allocator, which is exactly what `Box<[T]>` frees with;
    // - every byte is zero, and `T: Zeroable` promises all-zero bytes are a valid `T`
    //   (`AtomicU32`/`AtomicU64` have the in-memory representation of `u32`/`u64`);
    // - the slice of `n` elements covers exactly the allocation.
    unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, n)) }
}

/// Under loom the atomics are not plain integers: build them one by one.
#[cfg(loom)]
fn zeroed<T: Zeroable>(n: usize) -> Box<[T]> {
    (0..n).map(|_| T::zero()).collect()
}

/// Types whose all-zero bytes are a valid value; `zero()` builds that value.
trait Zeroable {
    fn zero() -> Self;
}

impl Zeroable for AtomicU32 {
    fn zero() -> Self {
        AtomicU32::new(0)
    }
}

impl Zeroable for Line {
    fn zero() -> Self {
        Line {
            head: AtomicU64::new(0),
            status: [AtomicU64::new(0), AtomicU64::new(0)],
            key: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A weak hash: home buckets collide, tags often do.
    fn h(key: u32) -> u64 {
        u64::from(key % 5) | u64::from(key % 3) << 25
    }

    fn key(k: u32) -> Vec<u8> {
        format!("key-{k}").into_bytes()
    }

    #[test]
    fn insert_find_set_remove_with_collisions() {
        let (t, mut w) = StatusTable::new(64, 64);
        for k in 0..40u32 {
            assert!(t.insert(&mut w, k, h(k), &key(k), [u64::from(k), 7]));
        }
        assert!(
            !t.insert(&mut w, 3, h(99), &key(99), [0, 0]),
            "occupied slot"
        );
        assert!(
            !t.insert(&mut w, 64, h(99), &key(99), [0, 0]),
            "out of range"
        );
        for k in 0..40u32 {
            assert_eq!(
                t.find(h(k), &key(k)),
                Probe::Hit {
                    slot: k,
                    status: [u64::from(k), 7]
                }
            );
        }
        assert_eq!(t.find(h(99), &key(99)), Probe::Miss);
        // Same hash, other key: a miss, not a false hit.
        assert_eq!(t.find(h(3), b"key-33x"), Probe::Miss);
        assert!(t.set(&mut w, 5, [1, 2]));
        assert_eq!(
            t.get(5),
            Probe::Hit {
                slot: 5,
                status: [1, 2]
            }
        );
        for k in (0..40u32).step_by(2) {
            assert!(t.remove(&mut w, k));
            assert!(!t.remove(&mut w, k));
            assert!(!t.set(&mut w, k, [0, 0]));
        }
        for k in 0..40u32 {
            let found = matches!(t.find(h(k), &key(k)), Probe::Hit { slot, .. } if slot == k);
            assert_eq!(found, k % 2 == 1, "{k}");
            assert_eq!(matches!(t.get(k), Probe::Hit { .. }), k % 2 == 1);
        }
        assert_eq!(t.get(1000), Probe::Miss);
        // Another table's writer changes nothing.
        let (_, mut other) = StatusTable::new(64, 64);
        assert!(!t.set(&mut other, 1, [0, 0]));
        assert!(!t.remove(&mut other, 1));
        assert!(!t.insert(&mut other, 0, h(0), &key(0), [0, 0]));
    }

    #[test]
    fn keys_past_three_lines_in_four_are_not_mirrored_and_readers_fall_back() {
        // 8 slots, 8 lines: 6 keys fit, 2 more are counted as not mirrored.
        let (t, mut w) = StatusTable::new(8, 2);
        assert_eq!(t.lines(), 8);
        for k in 0..8u32 {
            assert!(t.insert(&mut w, k, u64::from(k), &key(k), [u64::from(k), 0]));
        }
        for k in 0..6u32 {
            assert!(matches!(t.find(u64::from(k), &key(k)), Probe::Hit { slot, .. } if slot == k));
        }
        for k in 6..8u32 {
            assert_eq!(t.find(u64::from(k), &key(k)), Probe::Busy);
            assert_eq!(t.get(k), Probe::Busy);
            assert!(
                t.set(&mut w, k, [1, 1]),
                "a write to a key not mirrored is no error"
            );
        }
        assert_eq!(t.find(99, &key(99)), Probe::Busy, "a miss is not trusted");
        assert!(t.remove(&mut w, 6));
        assert!(!t.remove(&mut w, 6));
        assert!(t.remove(&mut w, 7));
        assert_eq!(t.find(99, &key(99)), Probe::Miss);
        assert_eq!(t.get(7), Probe::Miss);
        // Room again: a new key is mirrored.
        assert!(t.remove(&mut w, 0));
        assert!(t.insert(&mut w, 0, 42, &key(42), [4, 2]));
        assert_eq!(
            t.find(42, &key(42)),
            Probe::Hit {
                slot: 0,
                status: [4, 2]
            }
        );
    }

    #[test]
    fn words_are_zero_padded_little_endian() {
        for len in 1..=KEY_MAX {
            let key: Vec<u8> = (1..=len as u8).collect();
            let mut padded = [0u8; KEY_MAX];
            padded[..len].copy_from_slice(&key);
            let k = KeyWords::new(&key);
            assert_eq!(usize::from(k.len), len);
            for (i, w) in k.words.iter().enumerate() {
                let mut b = [0u8; 8];
                b.copy_from_slice(&padded[i * 8..i * 8 + 8]);
                assert_eq!(*w, u64::from_le_bytes(b), "len {len} word {i}");
            }
        }
    }

    #[test]
    fn long_keys_are_indexed_but_not_compared() {
        let (t, mut w) = StatusTable::new(4, 4);
        let long = vec![b'x'; KEY_MAX + 1];
        assert!(t.insert(&mut w, 0, 11, &long, [1, 1]));
        assert_eq!(t.find(11, &long), Probe::Busy);
        assert_eq!(t.find(11, &long[..KEY_MAX]), Probe::Miss);
        assert_eq!(
            t.get(0),
            Probe::Hit {
                slot: 0,
                status: [1, 1]
            }
        );
        let exact = vec![b'y'; KEY_MAX];
        assert!(t.insert(&mut w, 1, 11, &exact, [2, 2]));
        assert_eq!(
            t.find(11, &exact),
            Probe::Hit {
                slot: 1,
                status: [2, 2]
            }
        );
        assert!(t.remove(&mut w, 0));
        assert_eq!(
            t.find(11, &exact),
            Probe::Hit {
                slot: 1,
                status: [2, 2]
            }
        );
    }

    #[test]
    fn churn_against_model_with_wraparound_chains() {
        // 16 slots -> 32 buckets; homes near the end wrap chains around to bucket 0.
        let (t, mut w) = StatusTable::new(16, 16);
        let mut model: HashMap<u32, u32> = HashMap::new(); // key -> slot
        let mut free: Vec<u32> = (0..16).rev().collect();
        let hash = |k: u32| u64::from(28 + k % 6) | u64::from(k % 4) << 25;
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for step in 0..50_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = (x % 24) as u32;
            if let Some(slot) = model.remove(&k) {
                assert!(t.remove(&mut w, slot), "step {step}");
                free.push(slot);
            } else if let Some(slot) = free.pop() {
                assert!(t.insert(&mut w, slot, hash(k), &key(k), [u64::from(k), 0]));
                model.insert(k, slot);
            }
            for probe in 0..24u32 {
                let got = t.find(hash(probe), &key(probe));
                let want = model.get(&probe).map(|&slot| Probe::Hit {
                    slot,
                    status: [u64::from(probe), 0],
                });
                assert_eq!(got, want.unwrap_or(Probe::Miss), "step {step} key {probe}");
            }
        }
    }
}
