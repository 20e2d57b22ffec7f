//! Atomics and padding used by the engine's concurrent code.
//!
//! Under `cfg(loom)` the atomics come from `loom`, so `RUSTFLAGS="--cfg loom"` test builds
//! explore every interleaving the memory model allows; otherwise they are `std`'s. Code
//! outside `sync/` that takes part in a checked protocol (the registry's counters) imports
//! its atomics from here, never from `std` directly.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};

pub(crate) use crossbeam_utils::CachePadded;
