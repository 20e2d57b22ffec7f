//! A few words written in place by one writer and read by any thread without blocking: a
//! sequence-counter latch (two copies of the words, Linux's `seqcount_latch`).
//!
//! A plain seqlock makes a reader that meets a write in progress wait for the writer, so a
//! writer descheduled mid-write stalls every reader of the cell. A [`Latch`] keeps two
//! copies instead. The sequence's low bit says which copy is stable; the writer rewrites
//! the other one, flips the bit, then brings the first copy up to date:
//!
//! - `seq` even: readers read copy 0. The writer makes `seq` odd (Release), so readers
//!   move to copy 1, which holds the previous value; then it rewrites copy 0.
//! - `seq` odd: the writer makes `seq` even again (Release), so readers move to the fresh
//!   copy 0; then it rewrites copy 1 to match.
//!
//! A reader loads `seq` (Acquire), reads the copy it names, and rechecks `seq` after an
//! Acquire fence. If the writer began rewriting that very copy meanwhile, the recheck sees
//! a newer `seq` (the writer's Release fence sits between its `seq` store and its word
//! stores) and the reader reads again, from the other copy. A reader therefore retries
//! only when a write *completed a step* during its read; a stalled writer always leaves one
//! stable copy behind, so reads never wait for it.
//!
//! Everything is atomics: no `unsafe`. Two writers at once would leave the copies
//! inconsistent (never unsound); keeping to one is the caller's protocol (the registry's
//! `ShardWriter`, by `&mut`). Loom model: `engine/tests/loom_latch.rs`.

use super::primitive::{AtomicU64, Ordering, fence};

/// `N` words, published together by one writer and read whole by any thread.
///
/// `repr(C)`: the sequence sits right before copy 0, so a reader of a quiet latch touches
/// one contiguous run of `8 + 8 * N` bytes.
#[repr(C)]
pub struct Latch<const N: usize> {
    seq: AtomicU64,
    copies: [[AtomicU64; N]; 2],
}

impl<const N: usize> Latch<N> {
    /// A latch holding `words`.
    pub fn new(words: [u64; N]) -> Self {
        Self {
            seq: AtomicU64::new(0),
            copies: [words.map(AtomicU64::new), words.map(AtomicU64::new)],
        }
    }

    /// The words of one write, never a mix of two. Never waits for the writer; retries
    /// only if a write step completed while it was reading.
    #[inline]
    pub fn read(&self) -> [u64; N] {
        loop {
            let seq = self.seq.load(Ordering::Acquire);
            let copy = &self.copies[(seq & 1) as usize];
            let words = std::array::from_fn(|i| copy[i].load(Ordering::Relaxed));
            // Orders the loads above before the recheck (pairs with the writer's Release
            // fence between its sequence store and its word stores).
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == seq {
                return words;
            }
            #[cfg(loom)]
            loom::thread::yield_now();
        }
    }

    /// Publishes `words`. One writer at a time (see the module docs).
    pub fn write(&self, words: [u64; N]) {
        let seq = self.seq.load(Ordering::Relaxed);
        // Odd: readers move to copy 1. Release, so a reader that sees the odd sequence also
        // sees copy 1 complete (written at the end of the previous write).
        self.seq.store(seq.wrapping_add(1), Ordering::Release);
        // A reader that sees a store below also sees the odd sequence at its recheck.
        fence(Ordering::Release);
        for (cell, word) in self.copies[0].iter().zip(words) {
            cell.store(word, Ordering::Relaxed);
        }
        // Even: readers move to the fresh copy 0 (Release: its words are visible first).
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
        fence(Ordering::Release);
        for (cell, word) in self.copies[1].iter().zip(words) {
            cell.store(word, Ordering::Relaxed);
        }
    }

    /// Writes made so far (a reader's retries are bounded by how many complete meanwhile).
    pub fn writes(&self) -> u64 {
        self.seq.load(Ordering::Acquire) / 2
    }
}

impl<const N: usize> std::fmt::Debug for Latch<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latch")
            .field("words", &self.read())
            .field("writes", &self.writes())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn reads_the_last_write() {
        let latch = Latch::new([1, 2, 3]);
        assert_eq!(latch.read(), [1, 2, 3]);
        assert_eq!(latch.writes(), 0);
        latch.write([4, 5, 6]);
        assert_eq!(latch.read(), [4, 5, 6]);
        latch.write([7, 8, 9]);
        assert_eq!(latch.read(), [7, 8, 9]);
        assert_eq!(latch.writes(), 2);
    }

    #[test]
    fn readers_never_see_a_mix_or_go_back() {
        // The writer publishes [k, k, k, k] for rising k; readers check every read is
        // whole and never older than the one before.
        const WRITES: u64 = 200_000;
        let latch = Arc::new(Latch::new([0u64; 4]));
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (latch, done) = (latch.clone(), done.clone());
                std::thread::spawn(move || {
                    let mut last = 0;
                    let mut reads = 0u64;
                    loop {
                        let finished = done.load(std::sync::atomic::Ordering::Acquire);
                        let w = latch.read();
                        assert!(w.iter().all(|&x| x == w[0]), "torn read {w:?}");
                        assert!(w[0] >= last, "went back from {last} to {}", w[0]);
                        last = w[0];
                        reads += 1;
                        if finished && reads >= 1000 {
                            return last;
                        }
                    }
                })
            })
            .collect();
        for k in 1..=WRITES {
            latch.write([k; 4]);
        }
        done.store(true, std::sync::atomic::Ordering::Release);
        for r in readers {
            assert_eq!(r.join().unwrap(), WRITES);
        }
    }
}
