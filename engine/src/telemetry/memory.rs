//! Memory and process statistics: the allocator's view (jemalloc, behind the `jemalloc`
//! feature) and the kernel's (`/proc/self/status`).
//!
//! jemalloc caches its statistics; [`sample`] advances the stats epoch before reading, so
//! numbers are current. The allocator numbers describe the process only when jemalloc is
//! the global allocator (the `mabeam` binary installs it with the same feature); without
//! the feature they are reported as unavailable.
//!
//! Admission control counts the process's resident set size (what an orchestrator's
//! memory limit counts), read from `/proc/self/statm`: one small read the kernel answers
//! from counters it keeps, about 5 us. (jemalloc's own figures cost about 20 times more
//! per read: refreshing them merges every arena's statistics.) Where `/proc` is missing,
//! jemalloc's `resident` stands in.

use serde::Serialize;

/// jemalloc's counters, bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AllocatorStats {
    /// Bytes in live allocations.
    pub allocated: u64,
    /// Bytes in active pages (allocated rounded up, plus fragmentation).
    pub active: u64,
    /// Bytes in physically resident pages the allocator maps.
    pub resident: u64,
    /// Bytes in virtual memory retained for reuse (not returned to the OS).
    pub retained: u64,
}

/// What the kernel reports for this process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProcessStats {
    /// Resident set size, bytes.
    pub resident_bytes: Option<u64>,
    /// Virtual memory size, bytes.
    pub virtual_bytes: Option<u64>,
    /// Threads in the process.
    pub threads: Option<u64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
}

/// A memory sample.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MemoryStats {
    /// Allocator counters, when available.
    pub allocator: Option<AllocatorStats>,
    /// Why `allocator` is missing, or which allocator it describes.
    pub allocator_note: &'static str,
    /// Kernel view.
    pub process: ProcessStats,
}

impl MemoryStats {
    /// Bytes used for admission control: the process's resident set when known, else
    /// the allocator's `resident`.
    pub fn used_bytes(&self) -> Option<u64> {
        self.process
            .resident_bytes
            .or(self.allocator.map(|a| a.resident))
    }
}

/// The process's resident set size read now (the allocator's `resident` where the
/// kernel's figure is unavailable); `None` when neither can be read.
pub fn used_bytes() -> Option<u64> {
    resident_set_bytes().or_else(allocator_resident)
}

/// The kernel's resident set size of this process: the second field of
/// `/proc/self/statm`, in pages.
#[cfg(target_os = "linux")]
fn resident_set_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    pages.checked_mul(u64::try_from(rustix::param::page_size()).ok()?)
}

/// The kernel's resident set size: unavailable off Linux.
#[cfg(not(target_os = "linux"))]
fn resident_set_bytes() -> Option<u64> {
    None
}

/// jemalloc's `resident` after advancing its stats epoch; `None` without jemalloc.
#[cfg(feature = "jemalloc")]
fn allocator_resident() -> Option<u64> {
    use tikv_jemalloc_ctl::{epoch, stats};
    epoch::advance().ok()?;
    stats::resident::read().ok().map(|v| v as u64)
}

/// jemalloc's `resident`: `None` without the `jemalloc` feature.
#[cfg(not(feature = "jemalloc"))]
fn allocator_resident() -> Option<u64> {
    None
}

/// Read the allocator's counters (advancing jemalloc's epoch first).
#[cfg(feature = "jemalloc")]
pub fn allocator_stats() -> Result<AllocatorStats, &'static str> {
    use tikv_jemalloc_ctl::{epoch, stats};
    const FAILED: &str = "jemalloc statistics could not be read (mallctl failed)";
    epoch::advance().map_err(|_| FAILED)?;
    let read = |r: Result<usize, tikv_jemalloc_ctl::Error>| r.map(|v| v as u64).map_err(|_| FAILED);
    Ok(AllocatorStats {
        allocated: read(stats::allocated::read())?,
        active: read(stats::active::read())?,
        resident: read(stats::resident::read())?,
        retained: read(stats::retained::read())?,
    })
}

/// Read the allocator's counters: unavailable without the `jemalloc` feature.
#[cfg(not(feature = "jemalloc"))]
pub fn allocator_stats() -> Result<AllocatorStats, &'static str> {
    Err(ALLOCATOR_UNAVAILABLE)
}

#[cfg(not(feature = "jemalloc"))]
const ALLOCATOR_UNAVAILABLE: &str =
    "allocator statistics unavailable: built without the `jemalloc` feature; using RSS";

/// Take a sample: allocator counters and the kernel's view.
pub fn sample() -> MemoryStats {
    let (allocator, allocator_note) = match allocator_stats() {
        Ok(a) => (Some(a), "jemalloc"),
        Err(why) => (None, why),
    };
    MemoryStats {
        allocator,
        allocator_note,
        process: process_stats(),
    }
}

/// True when the process uses more than `limit_mb` MiB by [`used_bytes`] read now.
/// `limit_mb == 0` means no limit; an unreadable size is not "over". For per-request
/// admission use `Telemetry::memory_over_limit`, which reads the last sample.
pub fn memory_over_limit(limit_mb: u64) -> bool {
    over_limit(used_bytes(), limit_mb)
}

pub(crate) fn over_limit(used_bytes: Option<u64>, limit_mb: u64) -> bool {
    limit_mb != 0 && used_bytes.is_some_and(|used| used > limit_mb.saturating_mul(1024 * 1024))
}

/// Read `/proc/self/status` and `/proc/self/fd` (all `None` where unavailable).
pub fn process_stats() -> ProcessStats {
    let mut stats = process_stats_status();
    stats.open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as u64);
    stats
}

/// What `/proc/self/status` gives (no descriptor count).
fn process_stats_status() -> ProcessStats {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| parse_status(&s))
        .unwrap_or_default()
}

/// Parse the fields we use from `/proc/<pid>/status` text.
pub(crate) fn parse_status(text: &str) -> ProcessStats {
    let mut out = ProcessStats::default();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let number = words.next().and_then(|w| w.parse::<u64>().ok());
        let scale = match words.next() {
            Some("kB") => 1024,
            _ => 1,
        };
        match key {
            "VmRSS" => out.resident_bytes = number.map(|n| n.saturating_mul(scale)),
            "VmSize" => out.virtual_bytes = number.map(|n| n.saturating_mul(scale)),
            "Threads" => out.threads = number,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_text() {
        let text =
            "Name:\tmabeam\nVmSize:\t  20000 kB\nVmRSS:\t    1500 kB\nThreads:\t7\nbad line\n";
        let s = parse_status(text);
        assert_eq!(s.resident_bytes, Some(1500 * 1024));
        assert_eq!(s.virtual_bytes, Some(20000 * 1024));
        assert_eq!(s.threads, Some(7));
        assert_eq!(parse_status("VmRSS:\tlots kB\n").resident_bytes, None);
    }

    #[test]
    fn limit_rules() {
        assert!(!over_limit(Some(u64::MAX), 0), "0 means no limit");
        assert!(!over_limit(None, 1), "unknown is not over");
        assert!(over_limit(Some(2 * 1024 * 1024), 1));
        assert!(!over_limit(Some(1024 * 1024), 1));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn used_bytes_is_the_resident_set() {
        let block = vec![1u8; 32 << 20];
        let statm = used_bytes().expect("statm");
        let status = process_stats().resident_bytes.expect("status");
        assert!(statm >= 32 << 20, "{statm}");
        assert!(
            statm.abs_diff(status) < 4 << 20,
            "statm {statm}, status {status}"
        );
        assert_eq!(block[block.len() - 1], 1);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sample_reads_this_process() {
        let s = sample();
        assert!(s.process.resident_bytes.unwrap_or(0) > 0);
        assert!(s.process.threads.unwrap_or(0) >= 1);
        assert!(s.used_bytes().is_some());
    }
}
