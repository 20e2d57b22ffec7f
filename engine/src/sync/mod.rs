//! The `sync` layer: the only place in the engine where `unsafe` is allowed.
//!
//! Everything here exists so that one thread can own and write a table while any other
//! thread reads it without taking a lock and without blocking:
//!
//! - `primitive` (crate-internal) re-exports the atomics the rest of the engine uses, from `loom` under
//!   `cfg(loom)` and from `std` otherwise, so the protocols can be model-checked;
//! - [`epoch`] publishes immutable values behind an atomic pointer ([`epoch::EpochBox`]) and
//!   frees replaced values only once no reader can still hold them (crossbeam-epoch);
//! - [`index`] is a single-writer, lock-free-read open-addressing hash index from a key's
//!   hash to a slot number ([`index::NameIndex`]), rebuilt and republished through an
//!   [`epoch::EpochBox`] when tombstones pile up;
//! - [`latch`] holds a few words written in place by one writer and read whole by any
//!   thread under a sequence counter over two copies, so a stalled writer never makes a
//!   reader wait (the registry's live agent status);
//! - [`status`] is a fixed-size, pin-free table mirroring a few status words per slot,
//!   found by key through its own hash index and read under per-slot sequence counters
//!   (a reader that meets a write in progress falls back instead of waiting);
//! - [`notify`] is the wake-up protocol between a worker's producers and the parked worker
//!   (no `unsafe`; here so its loom model sits beside the others).
//!
//! The design and its justification are in `engine/src/sync/README.md`; the loom models are
//! `engine/tests/loom_*.rs`.

pub(crate) mod primitive;

pub mod epoch;
pub mod index;
pub mod latch;
pub mod notify;
pub mod status;
