//! Epoch-based publication of immutable values.
//!
//! An [`EpochBox<T>`] is an atomic, owning pointer to a heap value. The single writer of a
//! table replaces the value wholesale ([`EpochBox::replace`]); readers on any thread
//! [`pin`] a [`Guard`] and borrow the current value for as long as the guard lives
//! ([`EpochBox::load`]). A replaced value is *retired*: its destructor is deferred until
//! every thread that was pinned when it was retired has unpinned, so a reader can never see
//! freed memory, and a reader never waits for a writer (nor a writer for a reader).
//!
//! Reclamation is crossbeam-epoch's. Under `cfg(loom)` the guard is a no-op and retired
//! values are leaked instead of freed: the loom models check the publication protocol
//! (release/acquire pairing, generation checks), not the reclamation scheme.
//!
//! The number of values retired but not yet freed is counted in a [`Backlog`] gauge, which
//! the maintenance sweep exports and the budgets watch: it must drain.

use std::marker::PhantomData;
use std::ptr;
use std::sync::Arc;

use super::primitive::{AtomicPtr, AtomicUsize, CachePadded, Ordering};

/// A pinned reader: values loaded through it stay alive until it is dropped.
///
/// Pinning is cheap (no lock, no allocation) and re-entrant. Do not keep a guard for long:
/// while it lives, nothing retired after it was pinned can be freed.
pub struct Guard {
    #[cfg(not(loom))]
    inner: crossbeam_epoch::Guard,
    #[cfg(loom)]
    _not_send: PhantomData<*const ()>,
}

/// Pins the current thread and returns the guard.
#[must_use]
pub fn pin() -> Guard {
    Guard {
        #[cfg(not(loom))]
        inner: crossbeam_epoch::pin(),
        #[cfg(loom)]
        _not_send: PhantomData,
    }
}

impl Guard {
    /// Hands this thread's locally buffered retired values to the global collector so that
    /// they can be freed even if the thread stops pinning (call it when a writer goes idle).
    pub fn flush(&self) {
        #[cfg(not(loom))]
        self.inner.flush();
    }

    /// Defers dropping `old` until no thread pinned now can still hold it.
    fn retire<T: Send + 'static>(&self, old: *mut T, backlog: Backlog) {
        #[cfg(not(loom))]
        // SAFETY:
        // - `old` came from `Box::into_raw` and was just unlinked by the caller's `swap`, so
        //   no new reader can reach it and it is retired exactly once;
        // - crossbeam-epoch runs the closure only after every thread pinned at this point
        //   has unpinned, so no `&T` handed out by `EpochBox::load` outlives the value;
        // - `T: Send`, so dropping it on whichever thread runs the collector is sound.
        unsafe {
            self.inner.defer_unchecked(move || {
                drop(Box::from_raw(old));
                backlog.0.fetch_sub(1, Ordering::Relaxed);
            });
        }
        #[cfg(loom)]
        // Under loom the value is leaked (see the module docs).
        let _ = (old, backlog);
    }
}

/// A gauge of values retired but not yet freed. Cloning shares the gauge.
#[derive(Clone)]
pub struct Backlog(Arc<CachePadded<AtomicUsize>>);

impl Backlog {
    /// A gauge at zero.
    pub fn new() -> Self {
        Self(Arc::new(CachePadded::new(AtomicUsize::new(0))))
    }

    /// Values retired but not yet freed right now.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

impl Default for Backlog {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Backlog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Backlog").field(&self.get()).finish()
    }
}

/// An atomic owning pointer to an immutable `T`, replaced wholesale by its writer and read
/// without locks by any thread holding a [`Guard`].
///
/// Writes are memory-safe from any number of threads (each replaced value is retired
/// exactly once); keeping to a single writer is the caller's protocol, not a safety need.
pub struct EpochBox<T> {
    ptr: AtomicPtr<T>,
    _owns: PhantomData<Box<T>>,
}

impl<T> EpochBox<T> {
    /// An empty box.
    pub fn empty() -> Self {
        Self {
            ptr: AtomicPtr::new(ptr::null_mut()),
            _owns: PhantomData,
        }
    }

    /// A box holding `value`.
    pub fn new(value: Box<T>) -> Self {
        Self {
            ptr: AtomicPtr::new(Box::into_raw(value)),
            _owns: PhantomData,
        }
    }

    /// The current value, if any, borrowed for as long as both the box and the guard live.
    #[inline]
    pub fn load<'a>(&'a self, _guard: &'a Guard) -> Option<&'a T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY:
        // - `p` is null or came from `Box::into_raw` in `new`/`replace`, and the Acquire load
        //   pairs with the Release half of the swap that published it, so the value is fully
        //   initialised;
        // - the value is freed either by the deferred destructor of `replace`, which cannot
        //   run while `_guard` (pinned before this load) is alive, or by `Drop`, which needs
        //   `&mut self` and so cannot run while the returned borrow of `self` is alive.
        unsafe { p.as_ref() }
    }

    /// The current value, read by the box's only writer without pinning.
    ///
    /// # Safety
    ///
    /// The caller must be the box's only writer, and must not replace or empty the box (nor
    /// let anyone else) while the returned borrow lives: the value is retired only by such
    /// a write, so until then it stays allocated.
    #[inline]
    pub(crate) unsafe fn load_unpinned(&self) -> Option<&T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: `p` is null or a fully initialised value from `Box::into_raw` (see
        // `load`); the caller's contract keeps it from being retired, hence freed, while
        // the borrow lives, and `Drop` needs `&mut self`.
        unsafe { p.as_ref() }
    }

    /// Whether the box is empty right now.
    pub fn is_empty(&self) -> bool {
        self.ptr.load(Ordering::Acquire).is_null()
    }
}

impl<T: Send + 'static> EpochBox<T> {
    /// Publishes `new` (or empties the box with `None`) and retires the previous value,
    /// which stays readable through the returned reference while `guard` lives.
    pub fn replace<'a>(
        &'a self,
        new: Option<Box<T>>,
        guard: &'a Guard,
        backlog: &Backlog,
    ) -> Option<&'a T> {
        self.replace_then(new, guard, backlog, |_| ())
    }

    /// [`EpochBox::replace`], calling `unlink(new)` after the swap and before the previous
    /// value is retired: where other structures hold copies of the pointer (an index
    /// bucket), `unlink` overwrites them, so no reader pinned after the retirement can
    /// reach the retired value through them.
    pub(crate) fn replace_then<'a>(
        &'a self,
        new: Option<Box<T>>,
        guard: &'a Guard,
        backlog: &Backlog,
        unlink: impl FnOnce(*mut T),
    ) -> Option<&'a T> {
        let new = new.map_or(ptr::null_mut(), Box::into_raw);
        let old = self.ptr.swap(new, Ordering::AcqRel);
        unlink(new);
        if old.is_null() {
            return None;
        }
        backlog.0.fetch_add(1, Ordering::Relaxed);
        guard.retire(old, backlog.clone());
        // SAFETY: `old` came from `Box::into_raw` (see `load`) and its deferred destructor
        // cannot run before `guard`, pinned before the swap, is dropped; the borrow is tied
        // to `guard`.
        Some(unsafe { &*old })
    }
}

impl<T> Drop for EpochBox<T> {
    fn drop(&mut self) {
        let p = self.ptr.swap(ptr::null_mut(), Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: `&mut self` proves no borrow from `load`/`replace` is alive, and `p`
            // is the current (not retired) value, owned by this box alone.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

impl<T> Default for EpochBox<T> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<T> std::fmt::Debug for EpochBox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochBox")
            .field("empty", &self.is_empty())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn load_replace_and_drop() {
        let backlog = Backlog::new();
        let b = EpochBox::new(Box::new(String::from("a")));
        let g = pin();
        assert_eq!(b.load(&g).map(String::as_str), Some("a"));
        let old = b.replace(Some(Box::new(String::from("b"))), &g, &backlog);
        assert_eq!(old.map(String::as_str), Some("a"));
        assert_eq!(b.load(&g).map(String::as_str), Some("b"));
        assert_eq!(backlog.get(), 1);
        assert!(b.replace(None, &g, &backlog).is_some());
        assert!(b.is_empty());
        assert!(b.replace(None, &g, &backlog).is_none());
        assert_eq!(backlog.get(), 2);
    }

    #[test]
    fn backlog_drains() {
        let backlog = Backlog::new();
        let b = EpochBox::new(Box::new(0u64));
        for i in 1..=1000u64 {
            let g = pin();
            b.replace(Some(Box::new(i)), &g, &backlog);
        }
        // Keep pinning and flushing until the collector has freed everything.
        // Other tests pin concurrently (and may be descheduled while pinned): allow time.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while backlog.get() != 0 && std::time::Instant::now() < deadline {
            pin().flush();
            std::thread::yield_now();
        }
        assert_eq!(backlog.get(), 0, "retired values were never freed");
    }
}
