//! One connection's loop: take the next request from the feed (schedule, closed loop or
//! trace), send it when it is due, read answers, record latency from the intended start.
//!
//! Latency is measured from when the request was *meant* to start, so a stalled server
//! is charged for every request it delayed, not just the one it held (no coordinated
//! omission). The service time (send to answer) and the send lag (how late the send
//! was) are recorded beside it.

use crate::cli::Workload;
use crate::record::{Failure, Interval};
use crate::schedule::{Cursor, Schedule};
use crate::targets::embedded;
use crate::targets::http::{Conn, HttpTarget, write_request};
use crate::template::Vars;
use mabeam_engine::api::Handle;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tokio::time::sleep_until;

/// Where the requests go.
#[derive(Debug, Clone)]
pub enum PlanTarget {
    /// An HTTP server.
    Http(HttpTarget),
    /// An in-process engine.
    Embedded(Handle),
}

/// Everything the load threads share (read-only).
#[derive(Debug)]
pub struct Plan {
    /// Start of the run (warm-up included).
    pub start: Instant,
    /// Start of the measured phase.
    pub measure_start: Instant,
    /// No request is scheduled at or after this.
    pub end: Instant,
    /// Requests due before `end` but still unsent at this instant are dropped (counted
    /// as unsent): `end` plus the timeout, at most a second.
    pub cutoff: Instant,
    /// Connections in all.
    pub connections: usize,
    /// Pipelining depth.
    pub pipeline: usize,
    /// Request timeout.
    pub timeout: Duration,
    /// Extra headers, preformatted.
    pub headers: Vec<u8>,
    /// `None`: closed loop.
    pub schedule: Option<Schedule>,
    /// What to send.
    pub workload: Workload,
    /// Values captured by setup steps.
    pub refs: Vec<Vec<String>>,
    /// Target.
    pub target: PlanTarget,
    /// Seed of the random streams.
    pub seed: u64,
    /// This run's `{{run}}` token.
    pub run: u32,
    /// Wake this much before a due time and spin the rest (zero: timer only).
    pub spin: Duration,
}

/// One load thread's recording.
#[derive(Debug)]
pub struct ThreadRec {
    /// The current interval.
    pub interval: RefCell<Interval>,
}

#[derive(Debug, Clone, Copy)]
enum Job {
    Mix(u64),
    Replay(usize),
}

enum Feed {
    Open(Cursor),
    Closed { seq: u64, stride: u64 },
    Replay { idx: usize, stride: usize },
}

impl Feed {
    fn new(plan: &Plan, conn: usize) -> Feed {
        match (&plan.workload, &plan.schedule) {
            (Workload::Replay { .. }, _) => Feed::Replay {
                idx: conn,
                stride: plan.connections,
            },
            (Workload::Mix(_), Some(_)) => Feed::Open(Cursor::new(conn, plan.connections)),
            (Workload::Mix(_), None) => Feed::Closed {
                seq: conn as u64,
                stride: plan.connections as u64,
            },
        }
    }

    fn next(&mut self, plan: &Plan, rng: &mut ChaCha8Rng, now: Instant) -> Option<(Instant, Job)> {
        match self {
            Feed::Open(cursor) => {
                let seq = cursor.seq();
                let secs = cursor.next_due(plan.schedule.as_ref()?, rng)?;
                let due = plan
                    .start
                    .checked_add(Duration::from_secs_f64(secs.min(1e7)))?;
                (due < plan.end).then_some((due, Job::Mix(seq)))
            }
            Feed::Closed { seq, stride } => {
                if now >= plan.end {
                    return None;
                }
                let s = *seq;
                *seq += *stride;
                Some((now, Job::Mix(s)))
            }
            Feed::Replay { idx, stride } => {
                let Workload::Replay { lines, speed } = &plan.workload else {
                    return None;
                };
                let line = lines.get(*idx)?;
                let due = plan.start + line.offset.div_f64(*speed);
                let i = *idx;
                *idx += *stride;
                (due < plan.end).then_some((due, Job::Replay(i)))
            }
        }
    }
}

/// Reused buffers of one connection.
#[derive(Default)]
struct Bufs {
    path: Vec<u8>,
    body: Vec<u8>,
    headers: Vec<u8>,
    req: Vec<u8>,
}

/// Renders `job` into `bufs`; returns the entry index and the method.
fn render<'p>(plan: &'p Plan, job: Job, rng: &mut ChaCha8Rng, bufs: &mut Bufs) -> (usize, &'p str) {
    bufs.path.clear();
    bufs.body.clear();
    bufs.headers.clear();
    bufs.headers.extend_from_slice(&plan.headers);
    match (job, &plan.workload) {
        (Job::Mix(seq), Workload::Mix(s)) => {
            let idx = s.pick(rng.random_range(0..s.total_weight()));
            let e = &s.entries[idx];
            let vars = Vars::new(seq, s.agents, &plan.refs, plan.run, rng);
            e.render(
                &vars,
                rng,
                &mut bufs.path,
                &mut bufs.headers,
                &mut bufs.body,
            );
            (idx, e.method.as_str())
        }
        (Job::Replay(i), Workload::Replay { lines, .. }) => {
            let l = &lines[i];
            bufs.path.extend_from_slice(l.path.as_bytes());
            if let Some(b) = &l.body {
                bufs.body.extend_from_slice(b.as_bytes());
            }
            (0, l.method.as_str())
        }
        _ => (0, "GET"),
    }
}

fn accepts(plan: &Plan, entry: usize, status: u16) -> bool {
    match &plan.workload {
        Workload::Mix(s) => s.entries[entry].accepts(status),
        Workload::Replay { .. } => (200..400).contains(&status),
    }
}

fn us(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

struct InFlight {
    entry: usize,
    intended: Instant,
    sent: Instant,
    head: bool,
}

fn finish(
    plan: &Plan,
    rec: &ThreadRec,
    f: &InFlight,
    now: Instant,
    status: Option<u16>,
    failure: Failure,
) {
    let mut i = rec.interval.borrow_mut();
    if f.intended < plan.measure_start {
        i.warmup += 1;
        return;
    }
    let latency = us(now.saturating_duration_since(f.intended));
    match status {
        Some(s) if accepts(plan, f.entry, s) => {
            let service = us(now.saturating_duration_since(f.sent));
            let lag = us(f.sent.saturating_duration_since(f.intended));
            i.success(f.entry, latency, service, lag);
        }
        Some(_) => i.failure(f.entry, Failure::Status, Some(latency)),
        None => i.failure(f.entry, failure, Some(latency)),
    }
}

fn fail_all(plan: &Plan, rec: &ThreadRec, q: &mut VecDeque<InFlight>, kind: Failure) {
    let now = Instant::now();
    while let Some(f) = q.pop_front() {
        finish(plan, rec, &f, now, None, kind);
    }
}

/// Counts the requests the feed still holds (they were due before the end but the
/// target or the harness did not keep up) as unsent.
fn drop_unsent(
    plan: &Plan,
    rec: &ThreadRec,
    feed: &mut Feed,
    rng: &mut ChaCha8Rng,
    pending: Option<(Instant, Job)>,
    now: Instant,
) {
    let mut n = 0u64;
    let mut count = |due: Instant| {
        if due >= plan.measure_start {
            n += 1;
        }
    };
    if let Some((due, _)) = pending {
        count(due);
    }
    if !matches!(feed, Feed::Closed { .. }) {
        while let Some((due, _)) = feed.next(plan, rng, now) {
            count(due);
        }
    }
    rec.interval.borrow_mut().unsent += n;
}

enum Event {
    Read(std::io::Result<usize>),
    Due,
    Timeout,
}

/// Drives connection `conn` against an HTTP target until the feed is exhausted and
/// every answer is in (or timed out).
pub async fn run_http(plan: &Plan, target: &HttpTarget, rec: &ThreadRec, conn_id: usize) {
    let mut rng =
        ChaCha8Rng::seed_from_u64(plan.seed ^ (conn_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut feed = Feed::new(plan, conn_id);
    let mut bufs = Bufs::default();
    let mut inflight: VecDeque<InFlight> = VecDeque::with_capacity(plan.pipeline);
    let mut pending: Option<(Instant, Job)> = None;
    let mut exhausted = false;
    let mut conn: Option<Conn> = None;
    let far = plan.end + Duration::from_secs(86_400);
    // Two timers kept for the connection's life and reset, not rebuilt per request.
    // The timeout guard is re-armed only when it fires early (its request answered).
    let mut due_timer = Box::pin(sleep_until(far.into()));
    let mut due_at: Option<Instant> = None;
    let mut guard = Box::pin(sleep_until(far.into()));
    let mut guard_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if pending.is_none() && !exhausted && inflight.len() < plan.pipeline {
            pending = feed.next(plan, &mut rng, now);
            exhausted = pending.is_none();
        }
        if now >= plan.cutoff && !exhausted {
            // The window (plus a grace for timer lag) is over: what is still unsent
            // is not sent late.
            drop_unsent(plan, rec, &mut feed, &mut rng, pending.take(), now);
            exhausted = true;
        }
        if pending.is_none() && inflight.is_empty() {
            break;
        }
        if conn.is_none() {
            match Conn::connect(target.addr, plan.timeout).await {
                Ok(c) => conn = Some(c),
                Err(_) => {
                    // Charge the failure to the next request when it is due.
                    if let Some((due, job)) = pending.take() {
                        sleep_until(due.into()).await;
                        let (entry, _) = render(plan, job, &mut rng, &mut bufs);
                        let t = Instant::now();
                        let f = InFlight {
                            entry,
                            intended: due,
                            sent: t,
                            head: false,
                        };
                        finish(plan, rec, &f, t, None, Failure::Connect);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        if let Some((due, job)) = pending
            && due <= now
            && inflight.len() < plan.pipeline
        {
            pending = None;
            let (entry, method) = render(plan, job, &mut rng, &mut bufs);
            write_request(
                &mut bufs.req,
                method,
                &bufs.path,
                &target.host,
                &bufs.headers,
                &bufs.body,
            );
            let sent = Instant::now();
            let f = InFlight {
                entry,
                intended: due,
                sent,
                head: method == "HEAD",
            };
            match c.send(&bufs.req).await {
                Ok(()) => inflight.push_back(f),
                Err(_) => {
                    finish(plan, rec, &f, Instant::now(), None, Failure::Io);
                    fail_all(plan, rec, &mut inflight, Failure::Io);
                    conn = None;
                }
            }
            continue;
        }
        let due = pending
            .map(|p| p.0.checked_sub(plan.spin).unwrap_or(p.0))
            .filter(|_| inflight.len() < plan.pipeline);
        if let Some(d) = due
            && due_at != Some(d)
        {
            due_timer.as_mut().reset(d.into());
            due_at = Some(d);
        }
        let waiting = !inflight.is_empty();
        match (inflight.front(), guard_at) {
            (Some(f), None) => {
                let d = f.sent + plan.timeout;
                guard.as_mut().reset(d.into());
                guard_at = Some(d);
            }
            (None, Some(_)) => guard_at = None,
            _ => {}
        }
        let ev = tokio::select! {
            r = c.read_more(), if waiting => Event::Read(r),
            _ = &mut due_timer, if due.is_some() => Event::Due,
            _ = &mut guard, if guard_at.is_some() => Event::Timeout,
        };
        match ev {
            Event::Due => {
                due_at = None;
                if !plan.spin.is_zero() {
                    tokio::task::yield_now().await;
                }
            }
            Event::Timeout => {
                guard_at = None;
                // The guard was set for an earlier request; only the oldest in flight counts.
                if inflight
                    .front()
                    .is_some_and(|f| f.sent + plan.timeout <= Instant::now())
                {
                    fail_all(plan, rec, &mut inflight, Failure::Timeout);
                    conn = None;
                }
            }
            Event::Read(Ok(0)) | Event::Read(Err(_)) => {
                fail_all(plan, rec, &mut inflight, Failure::Io);
                conn = None;
            }
            Event::Read(Ok(n)) => {
                rec.interval.borrow_mut().bytes += n as u64;
                let t = Instant::now();
                loop {
                    let head = inflight.front().is_some_and(|f| f.head);
                    match c.next_response(head) {
                        Ok(Some(p)) => {
                            let Some(f) = inflight.pop_front() else {
                                // An answer nobody asked for: the stream is out of step.
                                conn = None;
                                break;
                            };
                            finish(plan, rec, &f, t, Some(p.status), Failure::Status);
                            if f.intended >= plan.measure_start
                                && let Some(node) = c.node()
                            {
                                rec.interval.borrow_mut().nodes.add(node, 1);
                            }
                            if p.close {
                                fail_all(plan, rec, &mut inflight, Failure::Io);
                                conn = None;
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(_) => {
                            fail_all(plan, rec, &mut inflight, Failure::Io);
                            conn = None;
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// Drives virtual connection `conn_id` against the in-process engine.
pub async fn run_embedded(plan: &Plan, handle: &Handle, rec: &ThreadRec, conn_id: usize) {
    let mut rng =
        ChaCha8Rng::seed_from_u64(plan.seed ^ (conn_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut feed = Feed::new(plan, conn_id);
    let mut bufs = Bufs::default();
    loop {
        let now = Instant::now();
        if now >= plan.cutoff {
            drop_unsent(plan, rec, &mut feed, &mut rng, None, now);
            break;
        }
        let Some((due, job)) = feed.next(plan, &mut rng, now) else {
            break;
        };
        if due > Instant::now() {
            sleep_until(due.checked_sub(plan.spin).unwrap_or(due).into()).await;
            while Instant::now() < due {
                tokio::task::yield_now().await;
            }
        }
        let (entry, method) = render(plan, job, &mut rng, &mut bufs);
        let sent = Instant::now();
        let path = std::str::from_utf8(&bufs.path).unwrap_or("/");
        let answer = tokio::time::timeout(
            plan.timeout,
            embedded::execute(handle, method, path, &bufs.body, false),
        )
        .await;
        let t = Instant::now();
        let f = InFlight {
            entry,
            intended: due,
            sent,
            head: false,
        };
        match answer {
            Ok(a) => finish(plan, rec, &f, t, Some(a.status), Failure::Status),
            Err(_) => finish(plan, rec, &f, t, None, Failure::Timeout),
        }
        // Let the other virtual connections of this thread run.
        tokio::task::yield_now().await;
    }
}
