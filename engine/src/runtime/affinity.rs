//! CPU pinning. The CPU list is read once, on the thread that starts the engine:
//! `core_affinity::get_core_ids()` reports the calling thread's mask, so reading
//! it from a worker that is already pinned would put every worker on one core.

use core_affinity::CoreId;

/// Which CPU each worker should pin to (`None`: leave it unpinned).
pub(crate) fn plan(workers: usize, pin: bool) -> Vec<Option<CoreId>> {
    if !pin {
        return vec![None; workers];
    }
    match core_affinity::get_core_ids() {
        Some(ids) if !ids.is_empty() => (0..workers).map(|w| Some(ids[w % ids.len()])).collect(),
        _ => {
            tracing::warn!("could not read this process's CPU list; workers run unpinned");
            vec![None; workers]
        }
    }
}

/// Pins the calling worker thread; a refusal is logged, not fatal.
pub(crate) fn pin_current(worker: usize, core: Option<CoreId>) -> bool {
    let Some(core) = core else { return false };
    if core_affinity::set_for_current(core) {
        tracing::debug!(worker, cpu = core.id, "worker pinned");
        true
    } else {
        tracing::warn!(
            worker,
            cpu = core.id,
            "the OS refused to pin the worker; it runs unpinned"
        );
        false
    }
}
