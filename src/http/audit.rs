//! The audit log: one JSON line per audited request, written off the request path.
//!
//! Requests hand a small record to a bounded channel (`try_send`: never waits); one
//! writer thread (`mabeam-audit`) formats and writes the lines to `security.audit_path`
//! (appending) or stderr, flushing whenever the channel runs empty. When the writer falls
//! behind and the channel is full the record is dropped and counted
//! (`mabeam_audit_records_dropped_total`): the log is best effort, the requests are not
//! slowed down.

use serde::Serialize;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

/// Records the channel holds before dropping.
pub(crate) const AUDIT_QUEUE_MAX: usize = 8_192;

/// One audited request.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct AuditRecord {
    /// Unix time, milliseconds.
    pub(crate) ts_ms: u64,
    pub(crate) who: String,
    pub(crate) role: &'static str,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) status: u16,
    pub(crate) latency_us: u64,
}

/// The sending side, shared by every HTTP thread.
#[derive(Debug, Clone)]
pub(crate) struct AuditSink {
    tx: SyncSender<AuditRecord>,
    dropped: Arc<AtomicU64>,
}

impl AuditSink {
    /// Queues a record; drops and counts it when the queue is full.
    pub(crate) fn log(&self, record: AuditRecord) {
        match self.tx.try_send(record) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The writer thread; joining it (after every sink is dropped) flushes the log.
#[derive(Debug)]
pub(crate) struct AuditWriter {
    thread: Option<JoinHandle<()>>,
}

impl AuditWriter {
    /// Opens `path` for appending (or uses stderr) and starts the writer.
    pub(crate) fn start(
        path: Option<&Path>,
        queue: usize,
        dropped: Arc<AtomicU64>,
    ) -> std::io::Result<(AuditSink, AuditWriter)> {
        let out: Box<dyn std::io::Write + Send> = match path {
            Some(p) => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| {
                        std::io::Error::new(e.kind(), format!("audit log {}: {e}", p.display()))
                    })?,
            ),
            None => Box::new(std::io::stderr()),
        };
        let (tx, rx) = sync_channel(queue.max(1));
        let thread = std::thread::Builder::new()
            .name("mabeam-audit".to_owned())
            .spawn(move || write_loop(rx, out))?;
        Ok((
            AuditSink { tx, dropped },
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

fn write_loop(rx: Receiver<AuditRecord>, out: Box<dyn std::io::Write + Send>) {
    let mut out = std::io::BufWriter::new(out);
    let mut line = Vec::with_capacity(256);
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(rec) = next.take() {
            line.clear();
            if serde_json::to_writer(&mut line, &rec).is_ok() {
                line.push(b'\n');
                if let Err(e) = out.write_all(&line) {
                    tracing::error!(error = %e, "audit log write failed");
                }
            }
            next = rx.try_recv().ok();
        }
        if let Err(e) = out.flush() {
            tracing::error!(error = %e, "audit log flush failed");
        }
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: u64) -> AuditRecord {
        AuditRecord {
            ts_ms: i,
            who: "alice".into(),
            role: "agent",
            method: "POST".into(),
            path: "/api/agents".into(),
            status: 201,
            latency_us: 12,
        }
    }

    #[test]
    fn writes_json_lines_and_counts_drops() {
        let dir = std::env::temp_dir().join(format!("mabeam-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.log");
        let _ = std::fs::remove_file(&path);
        let dropped = Arc::new(AtomicU64::new(0));
        let (sink, writer) = AuditWriter::start(Some(&path), 4, Arc::clone(&dropped)).unwrap();
        for i in 0..100 {
            sink.log(record(i));
        }
        drop(sink);
        writer.finish();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len() as u64 + dropped.load(Ordering::Relaxed), 100);
        assert!(!lines.is_empty());
        assert_eq!(lines[0]["who"], "alice");
        assert_eq!(lines[0]["status"], 201);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
