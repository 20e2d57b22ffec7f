//! The audit log: JSON lines written off the request path, to `security.audit_path`
//! rotated by size (`audit_file_max_bytes`, keeping `audit_files_max` files).
//!
//! Two kinds of line, each with the client's address (`client`, see [`client`]):
//! - `"kind":"request"`: one per audited request (`security.audit_level`: `writes`, or
//!   `all` for reads too). Requests hand a small record to a bounded channel (`try_send`:
//!   never waits); when the writer falls behind and the channel is full the record is
//!   dropped and counted (`mabeam_audit_records_dropped_total`).
//! - `"kind":"refusals"`: refused requests (401, 403, 429) are counted per client address
//!   and written once per `security.audit_refusals_interval_ms`: one line per address
//!   with the count by status. A flood of bad tokens costs a counter increment per
//!   request and a line per address per interval, never a line per request. At most
//!   [`REFUSAL_ADDRESSES_MAX`] addresses are told apart per interval; refusals from
//!   further addresses are counted on one line with `"client":"other"`.
//!
//! One writer thread (`mabeam-audit`) formats and writes both, a line per write, so the
//! file rotates at a line boundary just past its size limit.
//!
//! [`client`]: crate::http::client

use crate::logfile;
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Records the channel holds before dropping.
pub(crate) const AUDIT_QUEUE_MAX: usize = 8_192;
/// Client addresses whose refusals are counted apart in one interval.
pub(crate) const REFUSAL_ADDRESSES_MAX: usize = 4_096;

/// One audited request.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct AuditRecord {
    /// Unix time, milliseconds.
    pub(crate) ts_ms: u64,
    pub(crate) client: IpAddr,
    pub(crate) who: String,
    pub(crate) role: &'static str,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) status: u16,
    pub(crate) latency_us: u64,
}

/// Refusals counted per client address over the current interval.
#[derive(Debug, Default)]
struct Refusals {
    by_client: Mutex<HashMap<IpAddr, BTreeMap<u16, u64>>>,
    /// Refusals from addresses past [`REFUSAL_ADDRESSES_MAX`].
    other: Mutex<BTreeMap<u16, u64>>,
}

impl Refusals {
    fn count(&self, client: IpAddr, status: u16) {
        let mut map = self.by_client.lock();
        let len = map.len();
        match map.get_mut(&client) {
            Some(counts) => *counts.entry(status).or_insert(0) += 1,
            None if len < REFUSAL_ADDRESSES_MAX => {
                map.insert(client, BTreeMap::from([(status, 1)]));
            }
            None => {
                drop(map);
                *self.other.lock().entry(status).or_insert(0) += 1;
            }
        }
    }

    /// The counts so far, emptied.
    fn take(&self) -> (HashMap<IpAddr, BTreeMap<u16, u64>>, BTreeMap<u16, u64>) {
        let by_client = std::mem::take(&mut *self.by_client.lock());
        let other = std::mem::take(&mut *self.other.lock());
        (by_client, other)
    }
}

/// One line of refusal counts.
#[derive(Debug, Serialize)]
struct RefusalLine<'a> {
    ts_ms: u64,
    kind: &'static str,
    /// The address, or `other`.
    client: &'a str,
    interval_ms: u64,
    count: u64,
    statuses: &'a BTreeMap<u16, u64>,
}

/// One line of one request.
#[derive(Debug, Serialize)]
struct RequestLine<'a> {
    kind: &'static str,
    #[serde(flatten)]
    record: &'a AuditRecord,
}

/// The sending side, shared by every HTTP thread.
#[derive(Debug, Clone)]
pub(crate) struct AuditSink {
    tx: SyncSender<AuditRecord>,
    refusals: Arc<Refusals>,
    dropped: Arc<AtomicU64>,
}

impl AuditSink {
    /// Queues a request's record; drops and counts it when the queue is full.
    pub(crate) fn log(&self, record: AuditRecord) {
        match self.tx.try_send(record) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counts a refused request (401, 403, 429) from `client`.
    pub(crate) fn refused(&self, client: IpAddr, status: u16) {
        self.refusals.count(client, status);
    }
}

/// How the audit file is kept.
#[derive(Debug, Clone)]
pub(crate) struct AuditFile<'a> {
    pub(crate) path: &'a Path,
    pub(crate) max_bytes: u64,
    pub(crate) keep: usize,
}

/// The writer thread; joining it (after every sink is dropped) writes the last counts
/// and flushes the log.
#[derive(Debug)]
pub(crate) struct AuditWriter {
    thread: Option<JoinHandle<()>>,
}

impl AuditWriter {
    /// Opens the audit file (or uses stderr) and starts the writer.
    pub(crate) fn start(
        file: Option<AuditFile<'_>>,
        interval: Duration,
        queue: usize,
        dropped: Arc<AtomicU64>,
    ) -> std::io::Result<(AuditSink, AuditWriter)> {
        let out: Box<dyn std::io::Write + Send> = match file {
            Some(f) => Box::new(logfile::open(
                f.path,
                f.max_bytes,
                f.keep,
                0o640,
                "security.audit_path",
            )?),
            None => Box::new(std::io::stderr()),
        };
        let (tx, rx) = sync_channel(queue.max(1));
        let refusals = Arc::new(Refusals::default());
        let counts = Arc::clone(&refusals);
        let interval = interval.max(Duration::from_millis(1));
        let thread = std::thread::Builder::new()
            .name("mabeam-audit".to_owned())
            .spawn(move || write_loop(rx, &counts, interval, out))?;
        Ok((
            AuditSink {
                tx,
                refusals,
                dropped,
            },
            AuditWriter {
                thread: Some(thread),
            },
        ))
    }

    /// Waits for the writer to drain and exit (every sink must be dropped first).
    pub(crate) fn finish(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn write_line<T: Serialize>(out: &mut impl std::io::Write, line: &mut Vec<u8>, value: &T) {
    line.clear();
    if serde_json::to_writer(&mut *line, value).is_ok() {
        line.push(b'\n');
        if let Err(e) = out.write_all(line) {
            tracing::error!(error = %e, "audit log write failed");
        }
    }
}

fn write_refusals(
    out: &mut impl std::io::Write,
    line: &mut Vec<u8>,
    refusals: &Refusals,
    interval: Duration,
) {
    let (by_client, other) = refusals.take();
    let ts_ms = crate::http::routes::unix_ms();
    let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
    let mut clients: Vec<_> = by_client.into_iter().collect();
    clients.sort_unstable_by_key(|(ip, _)| *ip);
    let named = clients.iter().map(|(ip, c)| (ip.to_string(), c));
    for (client, statuses) in named.chain((!other.is_empty()).then(|| ("other".to_owned(), &other)))
    {
        let line_value = RefusalLine {
            ts_ms,
            kind: "refusals",
            client: &client,
            interval_ms,
            count: statuses.values().sum(),
            statuses,
        };
        write_line(out, line, &line_value);
    }
}

fn write_loop(
    rx: Receiver<AuditRecord>,
    refusals: &Refusals,
    interval: Duration,
    out: Box<dyn std::io::Write + Send>,
) {
    // One write per line (no buffer in between), so the file rotates at a line boundary
    // close to its size limit.
    let mut out = out;
    let mut line = Vec::with_capacity(256);
    let mut next_counts = Instant::now() + interval;
    loop {
        let wait = next_counts.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(first) => {
                let mut next = Some(first);
                while let Some(record) = next.take() {
                    let value = RequestLine {
                        kind: "request",
                        record: &record,
                    };
                    write_line(&mut out, &mut line, &value);
                    next = rx.try_recv().ok();
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if Instant::now() >= next_counts {
            write_refusals(&mut out, &mut line, refusals, interval);
            next_counts = Instant::now() + interval;
        }
        if let Err(e) = out.flush() {
            tracing::error!(error = %e, "audit log flush failed");
        }
    }
    write_refusals(&mut out, &mut line, refusals, interval);
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn record(i: u64) -> AuditRecord {
        AuditRecord {
            ts_ms: i,
            client: IpAddr::V4(Ipv4Addr::LOCALHOST),
            who: "alice".into(),
            role: "agent",
            method: "POST".into(),
            path: "/api/agents".into(),
            status: 201,
            latency_us: 12,
        }
    }

    fn lines(path: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn writes_json_lines_counts_drops_and_aggregates_refusals() {
        let dir = std::env::temp_dir().join(format!("mabeam-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.log");
        let _ = std::fs::remove_file(&path);
        let dropped = Arc::new(AtomicU64::new(0));
        let file = AuditFile {
            path: &path,
            max_bytes: 1 << 20,
            keep: 2,
        };
        let (sink, writer) = AuditWriter::start(
            Some(file),
            Duration::from_secs(3_600),
            4,
            Arc::clone(&dropped),
        )
        .unwrap();
        for i in 0..100 {
            sink.log(record(i));
        }
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        for _ in 0..1_000 {
            sink.refused(a, 401);
        }
        sink.refused(a, 429);
        sink.refused(b, 403);
        drop(sink);
        writer.finish();
        let lines = lines(&path);
        let requests: Vec<_> = lines.iter().filter(|l| l["kind"] == "request").collect();
        assert_eq!(requests.len() as u64 + dropped.load(Ordering::Relaxed), 100);
        assert!(!requests.is_empty());
        assert_eq!(requests[0]["who"], "alice");
        assert_eq!(requests[0]["client"], "127.0.0.1");
        assert_eq!(requests[0]["status"], 201);
        let refusals: Vec<_> = lines.iter().filter(|l| l["kind"] == "refusals").collect();
        assert_eq!(refusals.len(), 2, "one line per address: {refusals:?}");
        assert_eq!(refusals[0]["client"], "10.0.0.1");
        assert_eq!(refusals[0]["count"], 1_001);
        assert_eq!(refusals[0]["statuses"]["401"], 1_000);
        assert_eq!(refusals[0]["statuses"]["429"], 1);
        assert_eq!(refusals[1]["client"], "10.0.0.2");
        assert_eq!(refusals[1]["statuses"]["403"], 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn refusals_past_the_address_bound_are_counted_as_other() {
        let r = Refusals::default();
        for i in 0..(REFUSAL_ADDRESSES_MAX as u32 + 10) {
            r.count(IpAddr::V4(Ipv4Addr::from(i)), 401);
        }
        let (by_client, other) = r.take();
        assert_eq!(by_client.len(), REFUSAL_ADDRESSES_MAX);
        assert_eq!(other.get(&401), Some(&10));
        let (by_client, other) = r.take();
        assert!(by_client.is_empty() && other.is_empty());
    }
}
